"""Chat attachments for the fuzz suite: attachment objects (small real files, most of them good,
many spoiled one way or another) and openapi.yaml's attachment rules restated as an oracle, written
out from the contract rather than imported from the code under test.
"""

from __future__ import annotations

import base64
import binascii

from hypothesis import strategies as st

from tests.media_files import avif, b64, heic, heif, jpeg, pdf, png, webp

# The fuzzed chat process's settings (test_fuzz sets MAX_ATTACHMENT_BYTES, so that a too-large
# file fits in a fuzzed body); every supported type is accepted.
MAX_ATTACHMENTS, MAX_ATTACHMENT_BYTES, MAX_NAME = 4, 4096, 255
ATTACHMENT_TYPES = ("image/png", "image/jpeg", "image/webp", "image/heic", "image/heif",
                    "application/pdf", "text/plain", "text/markdown", "text/csv")
TEXT_TYPES = ("text/plain", "text/markdown", "text/csv")
FILES = [("image/png", png(2, 2)), ("image/png", png(800, 20)), ("image/jpeg", jpeg(5, 4)),
         ("image/webp", webp(9, 9, "VP8")), ("image/webp", webp(9, 9, "VP8L")),
         ("image/webp", webp(900, 9, "VP8X")), ("image/heic", heic()), ("image/heif", heic()),
         ("image/heif", heif()), ("application/pdf", pdf()), ("application/pdf", pdf(2, "x")),
         ("text/plain", pdf(binary=False)), ("image/heif", avif()),
         ("image/png", b"\x89PNG\r\n\x1a\n"), ("application/pdf", b"%PDF-")]
junk = st.none() | st.booleans() | st.integers() | st.text(max_size=6) | st.lists(
    st.integers(), max_size=2) | st.dictionaries(st.text(max_size=4), st.integers(), max_size=2)
files = st.sampled_from(FILES) | st.tuples(st.sampled_from(TEXT_TYPES),
                                           st.text(min_size=1, max_size=40).map(str.encode))


@st.composite
def attachment_objects(draw) -> object:
    """One attachment as a client may send it: good about half the time."""
    declared, raw = draw(files)
    item = {"name": draw(st.sampled_from(["q3.png", "a", "😀" * MAX_NAME, "x" * MAX_NAME])),
            "mimeType": declared, "data": b64(raw)}
    spoil = draw(st.sampled_from([None] * 12 + [
        "type", "name", "space", "url-safe", "unpadded", "padding", "empty", "text", "bytes",
        "limit", "over", "extra", "missing", "junk"]))
    data = item["data"]
    if spoil == "type":
        item["mimeType"] = draw(st.sampled_from([*ATTACHMENT_TYPES, "image/gif", "IMAGE/PNG",
                                                 "text/html", "", " image/png"]))
    elif spoil == "name":
        item["name"] = draw(st.sampled_from(["", " ", "\n", "x" * (MAX_NAME + 1)]) | junk)
    elif spoil == "space":
        where = draw(st.integers(0, len(data)))
        item["data"] = data[:where] + draw(st.sampled_from([" ", "\n", "\r\n", "\t"])) + data[where:]
    elif spoil == "url-safe":
        item["data"] = data.replace("+", "-").replace("/", "_")
    elif spoil == "unpadded":
        item["data"] = data.rstrip("=")
    elif spoil == "padding":
        item["data"] = data + draw(st.sampled_from(["=", "==", "===="]))
    elif spoil == "empty":
        item["data"] = ""
    elif spoil == "text":
        item["data"] = draw(st.text(max_size=12))
    elif spoil == "bytes":
        item["data"] = b64(draw(st.binary(max_size=24)))
    elif spoil in ("limit", "over"):  # exactly the limit, or a few bytes more
        size = MAX_ATTACHMENT_BYTES + (draw(st.integers(1, 3)) if spoil == "over" else 0)
        filler = b" " if declared in TEXT_TYPES else b"\x00"
        item["data"] = b64(raw + filler * max(0, size - len(raw)))
    elif spoil == "extra":
        item[draw(st.sampled_from(["size", "displayName", "Name"]))] = draw(junk)
    elif spoil == "missing":
        del item[draw(st.sampled_from(sorted(item)))]
    elif spoil == "junk":
        return draw(junk)
    return item


# Up to the limit; now and then one too many.
attachment_lists = st.integers(0, 9).flatmap(lambda pick: st.lists(
    attachment_objects(), min_size=MAX_ATTACHMENTS + 1, max_size=MAX_ATTACHMENTS + 1) if pick == 0
    else st.lists(attachment_objects(), max_size=MAX_ATTACHMENTS))


def attachments_statuses(value: object) -> frozenset[int]:
    """The statuses openapi.yaml allows for one message's `attachments` (a list, checked in order,
    the first failing attachment answers): {} when they pass."""
    if len(value) > MAX_ATTACHMENTS:
        return frozenset({400})
    for item in value:
        if statuses := _item_statuses(item):
            return statuses
    return frozenset()


def _item_statuses(item: object) -> frozenset[int]:
    if not isinstance(item, dict) or set(item) != {"name", "mimeType", "data"} \
            or not all(isinstance(value, str) for value in item.values()):
        return frozenset({400})
    name, declared, data = item["name"], item["mimeType"], item["data"]
    if not name.strip() or len(name) > MAX_NAME:
        return frozenset({400})
    if declared not in ATTACHMENT_TYPES:
        return frozenset({415})
    size = _decoded_size(data)
    if size[0] > MAX_ATTACHMENT_BYTES:
        return frozenset({413})
    if size[1] > MAX_ATTACHMENT_BYTES:  # not base64 of any length: either answer fits the contract
        return frozenset({400, 413})
    raw = _canonical_base64(data)
    if not raw:  # not base64 (400), or empty (400)
        return frozenset({400})
    return frozenset() if declared in _really(raw) else frozenset({415})


def _decoded_size(data: str) -> tuple[int, int]:
    """(least, most) bytes `data` stands for, from its length: 3 per 4 characters less the
    padding; exact for a length that base64 can have."""
    padding = min(2, len(data) - len(data.rstrip("=")))
    if len(data) % 4 == 0:
        exact = len(data) // 4 * 3 - padding
        return exact, exact
    return len(data) // 4 * 3 - 2, len(data) * 3 // 4 + 1


def _canonical_base64(data: str) -> bytes | None:
    """RFC 4648 section 4, the one canonical form (standard alphabet, exact padding)."""
    try:
        raw = base64.b64decode(data.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        return None
    return raw if base64.b64encode(raw).decode() == data else None


def _really(raw: bytes) -> set[str]:
    """What the bytes are, by the contract's signatures; UTF-8 without NUL is text besides."""
    kinds = set()
    if raw[:8] == b"\x89PNG\r\n\x1a\n":
        kinds.add("image/png")
    elif raw[:3] == b"\xff\xd8\xff":
        kinds.add("image/jpeg")
    elif raw[:4] == b"RIFF" and raw[8:12] == b"WEBP":
        kinds.add("image/webp")
    elif brands := _brands(raw):
        kinds |= {"image/heic", "image/heif"} if brands & {
            b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"} else {
            "image/heif"} if brands & {b"mif1", b"msf1", b"heif"} else set()
    if not kinds and b"%PDF-" in raw[:1024]:
        kinds.add("application/pdf")
    if b"\x00" not in raw:
        try:
            raw.decode("utf-8")
            kinds.update(TEXT_TYPES)
        except UnicodeDecodeError:
            pass
    return kinds


def _brands(raw: bytes) -> set[bytes]:
    """The brands of a leading ISO-BMFF ftyp box (its major and compatible brands), unless one is
    an AVIF brand; empty if there is no such box."""
    size = int.from_bytes(raw[:4], "big")
    if raw[4:8] != b"ftyp" or not 16 <= size <= min(len(raw), 4096) or size % 4:
        return set()
    brands = {raw[8:12], *(raw[at:at + 4] for at in range(16, size, 4))}
    return set() if brands & {b"avif", b"avis"} else brands

