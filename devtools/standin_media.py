"""What the Gemini stand-in reads from inline data: the MIME types it accepts, base64 as
Gemini's JSON parser takes it, and media tokens counted as Gemini documents them.

Token counting, after https://ai.google.dev/gemini-api/docs/tokens ("Multimodal tokens") and the
image-understanding / document-processing guides:
  * text (parts, systemInstruction, and inline text/* documents, decoded as UTF-8): ceil(chars / 4)
    over all of it (the stand-in's own rule; Gemini's tokenizer is not reproduced);
  * an image with both dimensions <= 384 px: 258 tokens; a larger one is tiled into 768x768 crops,
    258 tokens each: ceil(w / 768) * ceil(h / 768) * 258. Dimensions are read from the header
    (PNG IHDR, JPEG SOFn, WebP VP8/VP8L/VP8X, HEIC/HEIF the largest `ispe` box), never decoded;
  * a PDF: 258 tokens per page; pages = distinct objects with `/Type /Page` (not `/Pages`). Pages
    inside compressed object streams (/ObjStm) are not seen;
  * an image or PDF the stand-in cannot read counts as one image / one page: 258.
promptTokenCount, the streamed usageMetadata, countTokens' totalTokens and billed_tokens all use
this one count (see standin_request.measure()); promptTokensDetails splits it by modality (TEXT,
IMAGE, DOCUMENT).
"""
from __future__ import annotations

import base64
import binascii
import math
import re
import struct
from dataclasses import dataclass

IMAGE_MIME = {"image/png", "image/jpeg", "image/webp", "image/heic", "image/heif"}
PDF_MIME = "application/pdf"
TEXT_MIME = {"text/plain", "text/html", "text/css", "text/csv", "text/xml", "text/rtf", "text/md",
             "text/markdown", "text/javascript", "application/x-javascript", "text/x-python",
             "application/x-python"}
MEDIA_TOKENS = 258  # per image (<= 384x384) or 768x768 tile, and per PDF page
TILE, SMALL = 768, 384


@dataclass
class Media:
    mime: str
    size: int            # decoded bytes
    tokens: int = 0      # image / PDF tokens (text documents are counted with the text)
    chars: int = 0       # text documents: decoded characters
    detail: str = ""     # for the echo: "640x480", "3 pages", "12 chars", "unreadable"

    @property
    def modality(self) -> str:
        return "IMAGE" if self.mime in IMAGE_MIME else "DOCUMENT" if self.mime == PDF_MIME else "TEXT"


def b64decode(data: str) -> bytes | None:
    """Protobuf-JSON bytes: standard or URL-safe alphabet, padding optional. None if invalid."""
    if not re.fullmatch(r"[A-Za-z0-9+/_-]*={0,2}", data):
        return None
    bare = data.rstrip("=").replace("-", "+").replace("_", "/")
    if len(bare) % 4 == 1:
        return None
    try:
        return base64.b64decode(bare + "=" * (-len(bare) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def _jpeg_size(b: bytes) -> tuple[int, int] | None:
    i, n = 2, len(b)
    while i < n:  # each round moves on by >= 2 bytes
        if b[i] != 0xFF:
            return None
        while i < n and b[i] == 0xFF:  # fill bytes
            i += 1
        if i >= n:
            return None
        marker, i = b[i], i + 1
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:  # no length field
            continue
        if marker in (0xD9, 0xDA) or i + 2 > n:  # EOI / start of scan before any SOF
            return None
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # SOFn: P, Y, X
            return struct.unpack(">HH", b[i + 3:i + 7])[::-1] if i + 7 <= n else None
        seglen = int.from_bytes(b[i:i + 2], "big")
        if seglen < 2:
            return None
        i += seglen
    return None


def image_size(b: bytes) -> tuple[int, int] | None:
    """(width, height) from the header, whatever the declared image type; None if unreadable."""
    size = None
    if b[:8] == b"\x89PNG\r\n\x1a\n" and b[12:16] == b"IHDR" and len(b) >= 24:
        size = struct.unpack(">II", b[16:24])
    elif b[:3] == b"\xff\xd8\xff":
        size = _jpeg_size(b)
    elif b[:4] == b"RIFF" and b[8:12] == b"WEBP" and len(b) >= 30:
        kind = b[12:16]
        if kind == b"VP8 " and b[23:26] == b"\x9d\x01\x2a":
            size = (int.from_bytes(b[26:28], "little") & 0x3FFF, int.from_bytes(b[28:30], "little") & 0x3FFF)
        elif kind == b"VP8L" and b[20] == 0x2F:
            bits = int.from_bytes(b[21:25], "little")
            size = ((bits & 0x3FFF) + 1, (bits >> 14 & 0x3FFF) + 1)
        elif kind == b"VP8X":
            size = (int.from_bytes(b[24:27], "little") + 1, int.from_bytes(b[27:30], "little") + 1)
    elif b[4:8] == b"ftyp":  # HEIC/HEIF (ISO BMFF): the largest image spatial extent, if one is near the top
        boxes = [struct.unpack(">II", b[m.end() + 4:m.end() + 12])
                 for m in re.finditer(rb"ispe", b[:65536]) if m.end() + 12 <= len(b)]
        size = max(boxes, key=lambda wh: wh[0] * wh[1], default=None)
    return size if size and size[0] > 0 and size[1] > 0 else None


# Linear on any input: an object header starts only where a digit run starts, with bounded runs.
PDF_PAGE_RE = re.compile(rb"(?<!\d)(\d{1,10})\s{1,64}(\d{1,5})\s{1,64}obj\b"
                         rb"|/Type\s{0,64}/Page(?![^\s/<>\[\]()%{}])")


def pdf_pages(b: bytes) -> int:
    """Distinct objects holding `/Type /Page` (an object redefined by an incremental update counts
    once); 0 if none is found or the bytes are not a PDF."""
    if not b[:1024].lstrip().startswith(b"%PDF-"):
        return 0
    pages, obj = set(), None
    for m in PDF_PAGE_RE.finditer(b):
        if m.group(1):
            obj = (m.group(1), m.group(2))
        else:
            pages.add(obj if obj is not None else m.start())
    return len(pages)


def image_tokens(width: int, height: int) -> int:
    if width <= SMALL and height <= SMALL:
        return MEDIA_TOKENS
    return math.ceil(width / TILE) * math.ceil(height / TILE) * MEDIA_TOKENS


def measure_media(mime: str, raw: bytes) -> Media:
    if mime in IMAGE_MIME:
        size = image_size(raw)
        if size is None:  # malformed/unreadable image: count it as one small image (258)
            return Media(mime, len(raw), MEDIA_TOKENS, detail="unreadable")
        return Media(mime, len(raw), image_tokens(*size), detail=f"{size[0]}x{size[1]}")
    if mime == PDF_MIME:
        pages = pdf_pages(raw)
        if not pages:  # malformed PDF (or pages only in object streams): count one page (258)
            return Media(mime, len(raw), MEDIA_TOKENS, detail="unreadable")
        return Media(mime, len(raw), pages * MEDIA_TOKENS, detail=f"{pages} page{'s' * (pages != 1)}")
    text = raw.decode("utf-8", errors="replace")
    return Media(mime, len(raw), chars=len(text), detail=f"{len(text)} chars")
