"""Lighthouse scores of the web app as the local stack serves it (firebase.json's headers, the
built hosting/dist), on mobile and desktop, with the system's Chromium (`CHROMIUM` or PATH,
as devtools/chromium.py finds it); medians of --runs.

    .venv/bin/python scripts/bench_lighthouse.py [--runs 3]

Uses the `lighthouse` npm package (12.2.3: 13.x wants Node 22), fetched by npx on first use
into npm's cache, never installed into the project. Offline: every URL is on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "devtools")]

from chromium import ChromiumNotFound, find_chromium  # noqa: E402
from procs import free_port  # noqa: E402
from stack import PORTS, function_env, start_stack, stop_stack  # noqa: E402

LIGHTHOUSE = "lighthouse@12.2.3"
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    try:
        executable = find_chromium()
    except ChromiumNotFound as error:
        print(f"bench_lighthouse: {error}", file=sys.stderr)
        return 2
    ports = {name: free_port() for name in PORTS}
    env, real = function_env({"RATE_LIMIT_STORAGE": "memory://"}, ports)
    with tempfile.TemporaryDirectory() as tmp:
        started, _ = start_stack(env, real, ports, pathlib.Path(tmp), web=True,
                                 build_dir=pathlib.Path(tmp) / "build")
        try:
            url = f"http://127.0.0.1:{ports['web']}/"
            for form in ("mobile", "desktop"):
                runs = [audit(url, form, pathlib.Path(tmp), executable)
                        for _ in range(args.runs)]
                medians = {c: statistics.median(r[0][c] for r in runs) for c in CATEGORIES}
                print(f"{form:8}" + "  ".join(f"{c} {round(medians[c] * 100)}"
                                              for c in CATEGORIES)
                      + f"  (medians of {args.runs})")
                failed = sorted(set().union(*(r[1] for r in runs)))
                if failed:
                    print("         not passed in some run: " + "; ".join(failed))
        finally:
            stop_stack(started)
    return 0


def audit(url: str, form: str, tmp: pathlib.Path,
          chromium: str) -> tuple[dict[str, float], set[str]]:
    report = tmp / f"lighthouse-{form}.json"
    argv = ["npx", "--yes", LIGHTHOUSE, url, "--quiet", "--output=json",
            f"--output-path={report}", "--chrome-flags=--headless=new --no-sandbox --disable-gpu",
            "--only-categories=" + ",".join(CATEGORIES)]
    if form == "desktop":
        argv.append("--preset=desktop")
    subprocess.run(argv, check=True, env={**os.environ, "CHROME_PATH": chromium},
                   stdout=subprocess.DEVNULL, timeout=300)
    result = json.loads(report.read_text())
    categories, audits = result["categories"], result["audits"]
    failed = {audits[ref["id"]]["title"] for name in CATEGORIES
              for ref in categories[name]["auditRefs"]
              if ref.get("weight") and audits[ref["id"]].get("score") not in (None, 1)}
    return {name: categories[name]["score"] for name in CATEGORIES}, failed


if __name__ == "__main__":
    sys.exit(main())
