"""Real tiny files for the attachment tests (unit, integration, browser), built in code, never
binary fixtures: PNG (zlib + CRC chunks), JPEG and WebP headers, an ISO-BMFF `ftyp` box
(HEIC / HEIF / AVIF), a PDF with a correct xref table, and the wire object chat takes.
"""

from __future__ import annotations

import base64
import struct
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_PAD = b"paDd"  # an ancillary, private, safe-to-copy chunk: decoders skip it


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width: int = 1, height: int = 1, *, text: dict[str, str] | None = None,
        size: int | None = None) -> bytes:
    """A decodable 1-bit greyscale PNG (all black); `text`: tEXt chunks (keyword -> latin-1
    text); `size`: padded with an ancillary chunk to exactly this many bytes."""
    rows = (b"\x00" + bytes((width + 7) // 8)) * height  # filter byte 0, then the pixels
    head = PNG_SIGNATURE + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
    head += b"".join(_chunk(b"tEXt", key.encode("latin-1") + b"\x00" + value.encode("latin-1"))
                     for key, value in (text or {}).items())
    head += _chunk(b"IDAT", zlib.compress(rows, 9))
    tail = _chunk(b"IEND", b"")
    if size is not None:
        padding = size - len(head) - len(tail) - 12
        if padding < 0:
            raise ValueError(f"a PNG this large needs at least {size - padding} bytes")
        head += _chunk(_PNG_PAD, bytes(padding))
    return head + tail


def jpeg_segment(marker: int, data: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(data) + 2) + data


def jpeg(width: int = 1, height: int = 1, *, sof: int = 0xC0, before_sof: bytes = b"",
         fill: int = 0) -> bytes:
    """A JPEG's headers: SOI, APP0 (JFIF), DQT, DHT, `before_sof` (more segments), `fill` 0xFF
    fill bytes, the SOFn frame header with the size, then EOI. Enough for any header reader
    (no scan data: not decodable)."""
    return (b"\xff\xd8" + jpeg_segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
            + jpeg_segment(0xDB, bytes(65)) + jpeg_segment(0xC4, bytes(29)) + before_sof
            + b"\xff" * fill
            + jpeg_segment(sof, struct.pack(">BHHB3B", 8, height, width, 1, 1, 0x11, 0))
            + b"\xff\xd9")


def webp(width: int = 1, height: int = 1, kind: str = "VP8L") -> bytes:
    """A WebP's RIFF header with a VP8 (lossy), VP8L (lossless) or VP8X (extended) first chunk."""
    if kind == "VP8L":
        payload = b"\x2f" + struct.pack("<I", (width - 1) | (height - 1) << 14)
    elif kind == "VP8X":
        payload = bytes(4) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    elif kind == "VP8":  # frame tag, start code, 14-bit width and height
        payload = b"\x00\x00\x00\x9d\x01\x2a" + struct.pack("<HH", width, height)
    else:
        raise ValueError(kind)
    body = b"WEBP" + kind.ljust(4).encode() + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", len(body)) + body


def ftyp(major: bytes = b"heic", compatible: tuple[bytes, ...] = (b"mif1", b"heic"),
         width: int | None = None, height: int | None = None) -> bytes:
    """An ISO-BMFF file start: the `ftyp` box (major brand, minor version, compatible brands),
    then, with a size, an `ispe` (image spatial extent) box as HEIF keeps it."""
    box = major + bytes(4) + b"".join(compatible)
    out = struct.pack(">I", 8 + len(box)) + b"ftyp" + box
    if width is not None and height is not None:
        out += struct.pack(">I", 20) + b"ispe" + bytes(4) + struct.pack(">II", width, height)
    return out


def heic(width: int | None = 640, height: int | None = 480) -> bytes:
    return ftyp(b"heic", (b"mif1", b"heic"), width, height)


def heif(width: int | None = 640, height: int | None = 480) -> bytes:
    """A generic HEIF image (brand mif1 only): image/heif, not image/heic."""
    return ftyp(b"mif1", (b"mif1",), width, height)


def avif(width: int | None = 640, height: int | None = 480) -> bytes:
    """AV1 in HEIF's container: brand avif next to mif1. Not a HEIF image for Gemini."""
    return ftyp(b"avif", (b"avif", b"mif1", b"miaf"), width, height)


def pdf(pages: int = 1, text: str = "Hello", *, binary: bool = True) -> bytes:
    """A valid PDF (xref offsets exact) of `pages` pages, each showing `text` (ASCII). `binary`:
    the customary second line of bytes >= 0x80, which keeps tools from taking it for text."""
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    stream = f"BT /F1 24 Tf 72 720 Td ({escaped}) Tj ET".encode("ascii")
    kids = " ".join(f"{5 + n} 0 R" for n in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        *(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
          b"/Resources << /Font << /F1 3 0 R >> >> >>" for _ in range(pages)),
    ]
    out = b"%PDF-1.7\n" + (b"%\xe2\xe3\xcf\xd3\n" if binary else b"")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return out


def b64(data: bytes) -> str:
    """Standard base64 with padding: what chat takes."""
    return base64.b64encode(data).decode("ascii")


def attachment(data: bytes, mime_type: str, name: str = "file") -> dict:
    """The wire object of one attachment."""
    return {"name": name, "mimeType": mime_type, "data": b64(data)}


def b64_fragments(secret: bytes) -> list[str]:
    """What of `secret` survives in any base64 (standard or URL-safe) of bytes holding it,
    whatever its offset: the characters of each of the three alignments that depend on it alone."""
    fragments = []
    for offset in range(3):
        encoded = base64.b64encode(b"\x00" * offset + secret)
        inner = encoded[4:-4].decode("ascii")  # the first and last groups mix in neighbours
        fragments += [inner, inner.replace("+", "-").replace("/", "_")]
    return fragments
