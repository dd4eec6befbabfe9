"""The web app checks a file's bytes before sending it (hosting/src/attachments/index.js
`contentTypes`) by the server's rules (functions/chat/attachments.py `sniff`): both read the same
files — every kind the tests build, and random bytes — as the same types, so the browser never
refuses what the server takes, nor sends what it refuses."""

from __future__ import annotations

import base64
import json
import random
import shutil
import subprocess

from attachments import sniff

from tests.helpers import ROOT
from tests.media_files import avif, ftyp, heic, heif, jpeg, pdf, png, webp

SCRIPT = """
import { contentTypes } from "./hosting/src/attachments/index.js";
let input = "";
for await (const chunk of process.stdin) input += chunk;
const files = JSON.parse(input).map((b64) => new Uint8Array(Buffer.from(b64, "base64")));
console.log(JSON.stringify(files.map((bytes) => contentTypes(bytes).sort())));
"""


def corpus() -> list[bytes]:
    rng = random.Random(10)
    files = [png(800, 600), png(1, 1, text={"Comment": "%PDF-1.7"}), jpeg(4000, 3000),
             webp(300, 200), webp(300, 200, "VP8"), webp(300, 200, "VP8X"), heic(), heif(),
             avif(), ftyp(b"mif1", (b"mif1", b"avif")), ftyp(b"msf1", ()),
             heic()[:12], pdf(3), pdf(1, binary=False), b"junk\n%PDF-1.4\n\xff\xfe",
             "Grüße, 東京 — a note".encode(), b"How to spot a PDF: %PDF-1.7\n", b"a,b\n1,2\n",
             b"\xef\xbb\xbfwith a BOM", b"\xc3", b"A\x00B", b"\x89PNG\r\n", b"RIFF\0\0\0\0WEBP",
             b"x" * 2000 + b"%PDF-"]
    files += [rng.randbytes(rng.randrange(1, 64)) for _ in range(150)]
    files += [bytes(rng.choice(b"%PDF-ftypheicmif1avif\x00\x89\xff ") for _ in range(40))
              for _ in range(150)]
    return files


def test_the_web_app_reads_every_file_as_the_server_does():
    node = shutil.which("node")
    assert node, "node is needed (the web app's tests run on it too)"
    files = corpus()
    result = subprocess.run([node, "--input-type=module", "-e", SCRIPT], cwd=ROOT, check=True,
                            capture_output=True, text=True, timeout=60,
                            input=json.dumps([base64.b64encode(f).decode() for f in files]))
    web = json.loads(result.stdout)
    server = [sorted(sniff(f)) for f in files]
    assert [f[:24] for f, a, b in zip(files, web, server) if a != b] == []
    assert web == server
