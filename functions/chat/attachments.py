"""Chat attachments: the files a message carries to Gemini as inline data.

    {"name": "q3.png", "mimeType": "image/png", "data": "<standard base64>"}

What the server checks, in this order, for each attachment (the first failure answers):
  * the shape: exactly name (1-255 characters), mimeType and data, all strings    -> 400
  * the count: at most MAX_ATTACHMENTS on one message                             -> 400
  * the declared type: one of ATTACHMENT_TYPES                                    -> 415
  * the size, from the base64 length before decoding: <= MAX_ATTACHMENT_BYTES     -> 413
  * the base64: standard alphabet, padded, nothing else (no spaces, no URL-safe)  -> 400
  * the bytes: not empty, and of the declared type (`sniff`): PNG/JPEG/WebP
    signatures, an ISO-BMFF `ftyp` box with a HEIC/HEIF brand, `%PDF-` in the
    first 1024 bytes, or valid UTF-8 without NUL for text/plain|markdown|csv       -> 415

The bytes live in memory only for the request: never written anywhere, never logged. Error
messages name the attachment by its position, never by its name or content.
"""

from __future__ import annotations

import base64
import binascii
import math
import struct
from dataclasses import dataclass, field

from core.body import check_fields
from core.config import Config
from core.errors import ApiError

MAX_NAME_CHARS = 255
_PDF_HEADER_WITHIN = 1024  # the PDF reference lets a header start anywhere in the first 1024 bytes
TEXT_TYPES = frozenset({"text/plain", "text/markdown", "text/csv"})
# ISO-BMFF brands: HEVC-coded HEIF images (HEIC) and the generic HEIF image brands. AVIF shares
# `mif1` and is not HEIF for Gemini, so an `avif`/`avis` brand rules HEIF out.
_HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})
_HEIF_BRANDS = frozenset({b"mif1", b"msf1", b"heif"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
# Gemini's published rule for images: both sides <= 384 px -> 258 tokens, otherwise 258 per
# 768x768 tile (https://ai.google.dev/gemini-api/docs/tokens, "Multimodal tokens").
IMAGE_TOKENS, SMALL_IMAGE_PX, TILE_PX = 258, 384, 768
TOKENS_PER_PART = 8  # framing around each inline part, as billing.TOKENS_PER_TURN for turns


@dataclass(frozen=True)
class Attachment:
    name: str = field(repr=False)
    mime_type: str
    data: bytes = field(repr=False)

    def part(self) -> dict:
        """Gemini's inline-data part (the SDK base64-encodes the bytes on the wire)."""
        return {"inline_data": {"mime_type": self.mime_type, "data": self.data}}

    def token_bound(self) -> int | None:
        """The most tokens Gemini can count for this attachment by its published rules, or None
        where no rule bounds it from the header alone (PDF pages, HEIC/HEIF): count those."""
        if self.mime_type in TEXT_TYPES:
            return len(self.data) + TOKENS_PER_PART  # never more tokens than UTF-8 bytes
        size = image_size(self.data, self.mime_type)
        if size is None:
            return None
        width, height = size
        if width <= SMALL_IMAGE_PX and height <= SMALL_IMAGE_PX:
            return IMAGE_TOKENS + TOKENS_PER_PART
        tiles = math.ceil(width / TILE_PX) * math.ceil(height / TILE_PX)
        return tiles * IMAGE_TOKENS + TOKENS_PER_PART


def parse_attachments(value: object, config: Config, where: str) -> tuple[Attachment, ...]:
    """The validated attachments of one message (`where` names it in errors: "the message")."""
    if not isinstance(value, list):
        raise _invalid(f"The attachments of {where} must be a list.", "attachments_type")
    if len(value) > config.max_attachments:
        limit = config.max_attachments
        raise _invalid(f"{where.capitalize()} may carry at most {limit} attachments." if limit else
                       "Attachments are turned off on this server.", "attachments_count")
    return tuple(_attachment(item, config, f"attachment {number} of {where}")
                 for number, item in enumerate(value, start=1))


def _attachment(item: object, config: Config, where: str) -> Attachment:
    if not isinstance(item, dict):
        raise _invalid(f"{where.capitalize()} must be an object.", "attachment_item")
    check_fields(item, {"name": str, "mimeType": str, "data": str}, {}, f"the {where}")
    name, declared, data = item["name"], item["mimeType"], item["data"]
    if not name.strip() or len(name) > MAX_NAME_CHARS:
        raise _invalid(f"The name of {where} must be 1 to {MAX_NAME_CHARS} characters.",
                       "attachment_name")
    if declared not in config.attachment_types:
        raise ApiError("unsupported_media_type",
                       f"{where.capitalize()} is of a type this server does not accept; accepted: "
                       + ", ".join(config.attachment_types) + ".", reason="attachment_type")
    if _decoded_length(data) > config.max_attachment_bytes:
        raise ApiError("payload_too_large",
                       f"{where.capitalize()} is larger than {_size(config.max_attachment_bytes)}.",
                       reason="attachment_size")
    raw = _b64decode(data)
    if raw is None:
        raise _invalid(f"The data of {where} must be standard base64 (with padding).",
                       "attachment_base64")
    if not raw:
        raise _invalid(f"{where.capitalize()} is empty.", "attachment_empty")
    if declared not in sniff(raw):
        raise ApiError("unsupported_media_type",
                       f"The content of {where} is not {declared}.",
                       reason="attachment_mismatch")
    return Attachment(name=name, mime_type=declared, data=raw)


def sniff(raw: bytes) -> frozenset[str]:
    """The attachment types these bytes really are (empty: none we accept). Text is judged on
    its own: a note that quotes `%PDF-` near its start is still text (and a PDF that is all
    UTF-8 may be sent as text)."""
    return _binary_type(raw) | (TEXT_TYPES if _is_text(raw) else frozenset())


def _binary_type(raw: bytes) -> frozenset[str]:
    if raw.startswith(b"\x89PNG\r\n\x1a\n"):
        return frozenset({"image/png"})
    if raw.startswith(b"\xff\xd8\xff"):
        return frozenset({"image/jpeg"})
    if raw[:4] == b"RIFF" and raw[8:12] == b"WEBP":
        return frozenset({"image/webp"})
    brands = _ftyp_brands(raw)
    if brands is not None and not brands & _AVIF_BRANDS:
        if brands & _HEIC_BRANDS:
            return frozenset({"image/heic", "image/heif"})
        if brands & _HEIF_BRANDS:
            return frozenset({"image/heif"})
    if b"%PDF-" in raw[:_PDF_HEADER_WITHIN]:
        return frozenset({"application/pdf"})
    return frozenset()


def _is_text(raw: bytes) -> bool:
    """UTF-8 without NUL (no PNG, JPEG or ISO-BMFF header is: they hold 0x89, 0xFF or 0x00)."""
    if b"\x00" in raw:
        return False
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def image_size(raw: bytes, mime_type: str) -> tuple[int, int] | None:
    """(width, height) from a PNG, JPEG or WebP header, never decoding the image; None if the
    header cannot be read or the type has no such header here (HEIC/HEIF, PDF)."""
    try:
        if mime_type == "image/png" and raw[12:16] == b"IHDR":
            return struct.unpack(">II", raw[16:24])
        if mime_type == "image/jpeg":
            return _jpeg_size(raw)
        if mime_type == "image/webp":
            return _webp_size(raw)
    except struct.error:  # cut short
        return None
    return None


def _jpeg_size(raw: bytes) -> tuple[int, int] | None:
    at = 2
    while at + 4 <= len(raw):
        if raw[at] != 0xFF:
            return None
        marker = raw[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in (0x01, *range(0xD0, 0xDA)):  # no length; SOS (0xDA) ends the headers
            at += 2
            continue
        length = struct.unpack(">H", raw[at + 2:at + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", raw[at + 5:at + 9])
            return width, height
        if marker == 0xDA or length < 2:
            return None
        at += 2 + length
    return None


def _webp_size(raw: bytes) -> tuple[int, int] | None:
    chunk = raw[12:16]
    if chunk == b"VP8 " and raw[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", raw[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and raw[20:21] == b"\x2f":
        bits = struct.unpack("<I", raw[21:25])[0]
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(raw) >= 30:  # 24-bit sizes: a short slice would read small
        width = int.from_bytes(raw[24:27], "little") + 1
        height = int.from_bytes(raw[27:30], "little") + 1
        return width, height
    return None


def _ftyp_brands(raw: bytes) -> frozenset[bytes] | None:
    """The major and compatible brands of a leading ISO-BMFF `ftyp` box, or None."""
    if raw[4:8] != b"ftyp" or len(raw) < 16:
        return None
    size = int.from_bytes(raw[:4], "big")
    if not 16 <= size <= min(len(raw), 4096) or size % 4:
        return None
    return frozenset({raw[8:12], *(raw[at:at + 4] for at in range(16, size, 4))})


def _decoded_length(data: str) -> int:
    """The byte length `data` decodes to (for a size check before decoding)."""
    return len(data) // 4 * 3 - len(data[-2:]) + len(data[-2:].rstrip("="))


def _b64decode(data: str) -> bytes | None:
    """Standard base64 with padding (RFC 4648 section 4), or None."""
    if len(data) % 4:
        return None
    try:  # validate=True: only the standard alphabet, "=" only as the padding at the end
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None
    # ...yet it takes a padding quantum of its own ("AAAA====") and stray bits in the last
    # character ("QR=="): only the one canonical form is RFC 4648 base64 (and sized exactly).
    return raw if base64.b64encode(raw) == data.encode("ascii") else None


def _size(n: int) -> str:
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n:,} bytes"


def _invalid(message: str, reason: str) -> ApiError:
    return ApiError("invalid_argument", message, reason=reason)
