"""chat/attachments: what a file must be to reach Gemini (shape, count, declared type, size
before decoding, strict base64, real bytes of the declared type), the image sizes read from
headers for the token rules."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import attachments
from attachments import (SMALL_IMAGE_PX, TEXT_TYPES, TILE_PX, Attachment, image_size,
                         parse_attachments, sniff)
from core.config import SUPPORTED_ATTACHMENT_TYPES, load_config
from core.errors import ApiError
from tests.media_files import (attachment, avif, b64, ftyp, heic, heif, jpeg, jpeg_segment, pdf,
                               png, webp)

MAX_BYTES = 1000
CONFIG = load_config("chat", {"APP_ENV": "development", "MAX_ATTACHMENT_BYTES": str(MAX_BYTES)})
DEFAULTS = load_config("chat", {"APP_ENV": "development"})
CANARY = "canary-attachment-Zq9x"
# One real file of each supported type; HEIC is also a HEIF, and an ASCII PDF is also text.
FILES = {
    "image/png": png(3, 2), "image/jpeg": jpeg(3, 2), "image/webp": webp(3, 2),
    "image/heic": heic(), "image/heif": heif(), "application/pdf": pdf(),
    "text/plain": "Grüße, 世界\n".encode(), "text/markdown": b"# Title\n\n*x*\n",
    "text/csv": b"a,b\n1,2\n",
}


def parse(*items: dict, config=CONFIG) -> tuple[Attachment, ...]:
    return parse_attachments(list(items), config, "the message")


def refused(*items: dict, config=CONFIG) -> ApiError:
    with pytest.raises(ApiError) as caught:
        parse(*items, config=config)
    return caught.value


def status_of(error: ApiError) -> tuple[int, str, str]:
    return error.status, error.code, error.reason


# --- sniff: what the bytes really are ------------------------------------------------------------

@pytest.mark.parametrize("declared", SUPPORTED_ATTACHMENT_TYPES)
def test_each_real_file_is_its_own_type(declared):
    raw = FILES[declared]
    assert declared in sniff(raw)
    [accepted] = parse(attachment(raw, declared, "q3 report.bin"))
    assert (accepted.mime_type, accepted.data, accepted.name) == (declared, raw, "q3 report.bin")


@pytest.mark.parametrize("raw, types", [
    (png(), {"image/png"}), (jpeg(), {"image/jpeg"}), (webp(kind="VP8"), {"image/webp"}),
    (webp(kind="VP8X"), {"image/webp"}),
    (heic(), {"image/heic", "image/heif"}),
    (ftyp(b"mif1", (b"mif1", b"heix")), {"image/heic", "image/heif"}),  # a HEIC brand anywhere
    (ftyp(b"msf1", (b"msf1", b"hevc")), {"image/heic", "image/heif"}),  # an image sequence
    (heif(), {"image/heif"}), (ftyp(b"heif", ()), {"image/heif"}),
    (avif(), set()), (ftyp(b"avis", (b"avis", b"msf1")), set()),  # AVIF shares mif1: not HEIF
    (ftyp(b"mif1", (b"heic", b"avif")), set()),  # any AVIF brand rules HEIF out
    (ftyp(b"isom", (b"mp41",)), set()),  # an MP4 video
    (ftyp(b"isom", ())[:12] + b"heic", set()),  # the minor version is no brand
    (pdf(), {"application/pdf"}),
    (pdf(binary=False), {"application/pdf", *TEXT_TYPES}),  # all ASCII: text as well
    (b"\xef\xbb\xbfwith a BOM", TEXT_TYPES), (b"", TEXT_TYPES),
    (b"a\x00b", set()), (b"\xff\xfe", set()), (b"\xc0\xaf", set()), ("é".encode()[:1], set()),
    (b"\xed\xa0\x80", set()),  # an encoded surrogate is not UTF-8
    (b"GIF89a\x01\x00\x01\x00\x00", set()), (b"BM\x00\x00", set()),
])
def test_sniff(raw, types):
    assert sniff(raw) == types


def test_a_pdf_header_counts_within_the_first_1024_bytes_only():
    assert sniff(b"\x00" * 1019 + b"%PDF-1.7") == {"application/pdf"}
    assert sniff(b"\x00" * 1020 + b"%PDF-1.7") == set()
    assert sniff(b"x" * 1020 + b"%PDF-1.7") == TEXT_TYPES


@pytest.mark.parametrize("text", ["Files start with %PDF-1.7; see the spec.",
                                  "RIFF1234WEBP is how a WebP file starts"])
def test_text_that_quotes_a_signature_is_still_text(text):
    [sent] = parse(attachment(text.encode(), "text/markdown"))
    assert sent.data == text.encode()


@pytest.mark.parametrize("raw, declared", [
    (png(), "image/jpeg"), (png(), "image/webp"), (jpeg(), "image/png"), (webp(), "image/png"),
    (heif(), "image/heic"), (avif(), "image/heif"), (avif(), "image/heic"),
    (pdf(), "image/png"), (pdf(), "text/plain"),  # a real PDF holds bytes >= 0x80: not UTF-8
    (b"plain words", "application/pdf"), (b"plain words", "image/png"),
    (png(), "text/plain"), (b"a,b\x00\n", "text/csv"), (b"caf\xe9", "text/plain"),  # Latin-1
    (FILES["text/plain"], "image/heif"),
])
def test_bytes_of_another_type_are_refused_415(raw, declared):
    error = refused(attachment(raw, declared, CANARY))
    assert status_of(error) == (415, "unsupported_media_type", "attachment_mismatch")
    assert error.message == f"The content of attachment 1 of the message is not {declared}."


def test_an_ascii_pdf_may_be_sent_as_text():
    raw = pdf(binary=False)
    assert parse(attachment(raw, "text/plain"))[0].data == raw


# --- image sizes, read from headers --------------------------------------------------------------

@pytest.mark.parametrize("width, height", [(1, 1), (384, 384), (4000, 4000), (65535, 3)])
def test_png_size(width, height):
    assert image_size(png(width, height), "image/png") == (width, height)


def test_png_size_is_the_header_whatever_the_data():
    raw = png(2, 2)
    huge = raw[:16] + (2**31 - 1).to_bytes(4, "big") + raw[20:]  # a CRC mismatch: still read
    assert image_size(huge, "image/png") == (2**31 - 1, 2)


@pytest.mark.parametrize("sof", [0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB,
                                 0xCD, 0xCE, 0xCF])
def test_jpeg_size_from_every_frame_type(sof):
    assert image_size(jpeg(800, 600, sof=sof), "image/jpeg") == (800, 600)


def test_jpeg_skips_app_segments_fill_bytes_and_markers_without_length():
    exif = jpeg_segment(0xE1, b"Exif\x00\x00" + bytes(4000))  # a big APP1, as cameras write
    icc = jpeg_segment(0xE2, b"ICC_PROFILE\x00" + bytes(300))
    comment = jpeg_segment(0xFE, b"\xff\xc0 not a frame inside a comment")
    no_length = b"\xff\x01\xff\xd0\xff\xd7"  # TEM and RSTn carry no length
    not_frames = jpeg_segment(0xC8, bytes(6)) + jpeg_segment(0xCC, bytes(2))  # JPG, DAC
    raw = jpeg(1920, 1080, before_sof=exif + icc + comment + no_length + not_frames, fill=5)
    assert image_size(raw, "image/jpeg") == (1920, 1080)
    assert image_size(b"\xff\xd8" + b"\xff" * 40 + jpeg(7, 9)[2:], "image/jpeg") == (7, 9)


@pytest.mark.parametrize("raw", [
    b"\xff\xd8" + jpeg_segment(0xDA, bytes(10)) + jpeg(5, 5)[2:],  # the scan before any frame
    b"\xff\xd8\xff\xe0\x00\x01" + bytes(20),  # a length below 2
    b"\xff\xd8\xff\xe0\x00\x04ab\x00" + jpeg(5, 5)[2:],  # a segment not followed by a marker
    b"\xff\xd8\xff\xd9",  # EOI at once
    b"\xff\xd8\xff",
])
def test_unreadable_jpeg_headers_have_no_size(raw):
    assert image_size(raw, "image/jpeg") is None


@pytest.mark.parametrize("kind, width, height", [
    ("VP8", 1, 1), ("VP8", 16383, 16383), ("VP8L", 1, 1), ("VP8L", 16384, 16384),
    ("VP8X", 1, 1), ("VP8X", 1 << 24, 1 << 24), ("VP8X", 4000, 3000),
])
def test_webp_sizes(kind, width, height):
    assert image_size(webp(width, height, kind), "image/webp") == (width, height)


def test_lossy_webp_ignores_the_scale_bits():
    raw = webp(640, 480, "VP8")
    scaled = raw[:26] + (640 | 0xC000).to_bytes(2, "little") + (480 | 0x4000).to_bytes(2, "little")
    assert image_size(scaled, "image/webp") == (640, 480)


@pytest.mark.parametrize("raw, declared", [
    (heic(4000, 3000), "image/heic"), (heif(), "image/heif"), (pdf(), "application/pdf"),
    (png(5, 5), "image/jpeg"), (jpeg(5, 5), "image/png"), (webp(5, 5), "image/jpeg"),
    (b"RIFF\x00\x00\x00\x00WEBPVP8?" + bytes(30), "image/webp"),
    (b"RIFF\x00\x00\x00\x00WEBPVP8 " + bytes(30), "image/webp"),  # no start code
    (b"RIFF\x00\x00\x00\x00WEBPVP8L" + bytes(30), "image/webp"),  # no signature byte
    (png()[:12] + b"IHDX" + png()[16:], "image/png"),
])
def test_types_and_headers_without_a_size(raw, declared):
    assert image_size(raw, declared) is None


@pytest.mark.parametrize("raw, declared", [
    (png(300, 200), "image/png"), (jpeg(300, 200, before_sof=jpeg_segment(0xE1, bytes(50)),
                                        fill=2), "image/jpeg"),
    (webp(300, 200, "VP8"), "image/webp"), (webp(300, 200, "VP8L"), "image/webp"),
    (webp(300, 200, "VP8X"), "image/webp"),
])
def test_a_truncated_header_has_no_size_never_a_wrong_one(raw, declared):
    sizes = {image_size(raw[:cut], declared) for cut in range(len(raw) + 1)}
    assert sizes == {None, (300, 200)}


SIGNATURES = [b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR", b"\xff\xd8\xff", b"\xff\xd8",
              b"RIFF\x00\x00\x00\x00WEBPVP8 ", b"RIFF\x00\x00\x00\x00WEBPVP8L",
              b"RIFF\x00\x00\x00\x00WEBPVP8X", b"\x00\x00\x00\x18ftypheic", b"%PDF-", b""]


@settings(max_examples=1500, deadline=None)
@given(head=st.sampled_from(SIGNATURES), tail=st.binary(max_size=80),
       declared=st.sampled_from(SUPPORTED_ATTACHMENT_TYPES))
def test_sniff_and_sizes_never_raise_on_any_bytes(head, tail, declared):
    raw = head + tail
    assert sniff(raw) <= set(SUPPORTED_ATTACHMENT_TYPES)
    size = image_size(raw, declared)
    assert size is None or (len(size) == 2 and all(isinstance(n, int) and n >= 0 for n in size))
    bound = Attachment("x", declared, raw).token_bound()
    assert bound is None or bound >= 8


@settings(max_examples=300, deadline=None)
@given(segments=st.lists(st.tuples(st.sampled_from([0xE0, 0xE1, 0xED, 0xFE, 0xDB, 0xC4, 0xDD]),
                                   st.binary(max_size=40)), max_size=6),
       fill=st.integers(0, 3), width=st.integers(1, 65535), height=st.integers(1, 65535))
def test_jpeg_size_after_any_segments(segments, fill, width, height):
    before = b"".join(jpeg_segment(marker, data) for marker, data in segments)
    raw = jpeg(width, height, before_sof=before, fill=fill)
    assert image_size(raw, "image/jpeg") == (width, height)


# --- token bounds: Gemini's published rules ------------------------------------------------------

@pytest.mark.parametrize("width, height, tokens", [
    (1, 1, 258), (384, 384, 258), (385, 1, 258), (768, 768, 258), (769, 768, 2 * 258),
    (1000, 1000, 4 * 258), (1537, 700, 3 * 258), (4000, 4000, 36 * 258), (1, 3000, 4 * 258),
])
@pytest.mark.parametrize("build, declared", [(png, "image/png"), (jpeg, "image/jpeg"),
                                             (webp, "image/webp")])
def test_image_token_bound_is_258_per_768_tile(width, height, tokens, build, declared):
    assert SMALL_IMAGE_PX == 384 and TILE_PX == 768
    assert Attachment("x", declared, build(width, height)).token_bound() == tokens + 8


def test_a_header_of_zero_pixels_is_one_small_image():
    assert Attachment("x", "image/png", png(0, 0)).token_bound() == 258 + 8
    assert Attachment("x", "image/jpeg", jpeg(0, 5)).token_bound() == 258 + 8


@pytest.mark.parametrize("declared", sorted(TEXT_TYPES))
def test_text_token_bound_is_its_bytes(declared):
    raw = "日本語 text".encode()
    assert Attachment("x", declared, raw).token_bound() == len(raw) + 8


@pytest.mark.parametrize("raw, declared", [
    (pdf(3), "application/pdf"), (heic(), "image/heic"), (heif(), "image/heif"),
    (b"\xff\xd8\xff\xd9", "image/jpeg"), (webp(5, 5, "VP8X")[:28], "image/webp"),
])
def test_no_rule_without_a_readable_size(raw, declared):
    assert Attachment("x", declared, raw).token_bound() is None


def test_an_attachment_never_shows_its_name_or_bytes():
    shown = repr(Attachment(CANARY, "text/plain", CANARY.encode()))
    assert CANARY not in shown and "text/plain" in shown


# --- base64 ---------------------------------------------------------------------------------------

def stray_bits(data: str) -> str:
    """`data` with the unused low bits of its last character set: not canonical base64."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    bare = data.rstrip("=")
    return bare[:-1] + alphabet[alphabet.index(bare[-1]) | 1] + data[len(bare):]


RAW = png(1, 1, text={"k": "\xfb\xef\xbe\xff\xbf"})  # base64 with "+", "/" and one "="
GOOD = b64(RAW)


def test_the_premise_of_the_base64_cases():
    assert "+" in GOOD and "/" in GOOD and GOOD.endswith("=") and not GOOD.endswith("==")
    assert base64.b64decode(stray_bits(GOOD), validate=True) == RAW
    assert base64.b64decode(b64(RAW + b"\x00") + "====", validate=True) == RAW + b"\x00"
    assert parse({"name": "a", "mimeType": "image/png", "data": GOOD})[0].data == RAW


@pytest.mark.parametrize("data", [
    " " + GOOD, GOOD + "\n", GOOD[:8] + " " + GOOD[8:], GOOD[:76] + "\r\n" + GOOD[76:],
    GOOD[:4] + "\t" + GOOD[4:],
    GOOD.replace("+", "-").replace("/", "_"),  # the URL-safe alphabet
    GOOD.replace("+", "-"), GOOD.rstrip("="),  # unpadded
    GOOD + "=", GOOD + "====", GOOD[:-1] + "A=",
    b64(RAW + b"\x00") + "====",  # a whole quantum of padding (Python's decoder takes it)
    stray_bits(GOOD),  # non-zero bits in the last character (Python's decoder takes them)
    GOOD[:4] + "=" + GOOD[5:],  # padding inside
    "AA==" + GOOD,  # data after padding
    "é" + GOOD[1:], GOOD[:-4] + "ＡＢＣ=", GOOD[:4] + "\x00" + GOOD[5:], GOOD[:4] + "\ud800" + GOOD[5:],
    "data:image/png;base64," + GOOD,
    "=", "==", "===", "A", "AB", "ABC", "====",
])
def test_anything_but_strict_standard_base64_is_refused_400(data):
    error = refused({"name": CANARY, "mimeType": "image/png", "data": data})
    assert status_of(error) == (400, "invalid_argument", "attachment_base64")
    assert error.message == "The data of attachment 1 of the message must be standard base64 " \
                            "(with padding)."


def test_empty_data_is_refused_400():
    error = refused({"name": "a", "mimeType": "text/plain", "data": ""})
    assert status_of(error) == (400, "invalid_argument", "attachment_empty")
    assert error.message == "Attachment 1 of the message is empty."


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=MAX_BYTES - 8))
def test_any_bytes_come_back_exactly_from_their_base64(raw):
    raw = b"\x89PNG\r\n\x1a\n" + raw
    [sent] = parse({"name": "a", "mimeType": "image/png", "data": b64(raw)})
    assert sent.data == raw


@settings(max_examples=300, deadline=None)
@given(text=st.text(st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]),
                    min_size=1, max_size=200))
def test_any_utf8_text_is_text(text):
    raw = text.encode()
    [sent] = parse({"name": "a", "mimeType": "text/csv", "data": b64(raw)})
    assert sent.data == raw


# --- size, checked from the base64 length before decoding ----------------------------------------

@pytest.mark.parametrize("limit", [998, 999, 1000])  # every padding: "", "==", "="
def test_the_exact_limit_passes_and_one_byte_more_is_413(limit):
    config = load_config("chat", {"APP_ENV": "development", "MAX_ATTACHMENT_BYTES": str(limit)})
    exact = png(1, 1, size=limit)
    assert len(parse(attachment(exact, "image/png"), config=config)[0].data) == limit
    error = refused(attachment(png(1, 1, size=limit + 1), "image/png"), config=config)
    assert status_of(error) == (413, "payload_too_large", "attachment_size")
    assert error.message == f"Attachment 1 of the message is larger than {limit:,} bytes."


def test_the_size_is_checked_before_anything_is_decoded(monkeypatch):
    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded an attachment over the limit")

    monkeypatch.setattr(attachments.base64, "b64decode", no_decoding)
    for data in ("A" * 1336, "!" * 1336, " " * 1336, "A" * 10**6):  # 1,002+ bytes' worth
        error = refused({"name": "a", "mimeType": "image/png", "data": data})
        assert status_of(error) == (413, "payload_too_large", "attachment_size")


def test_the_size_message_names_the_limit_in_mib():
    error = refused(attachment(b"a" * (5 * 1024 * 1024 + 1), "text/plain"), config=DEFAULTS)
    assert error.message == "Attachment 1 of the message is larger than 5 MiB."


# --- shape, name, count, declared type -----------------------------------------------------------

@pytest.mark.parametrize("item, reason", [
    ("a string", "attachment_item"), (None, "attachment_item"), ([GOOD], "attachment_item"),
    ({"mimeType": "image/png", "data": GOOD}, "missing_field"),
    ({"name": "a", "data": GOOD}, "missing_field"), ({"name": "a", "mimeType": "image/png"},
                                                     "missing_field"),
    ({"name": "a", "mimeType": "image/png", "data": GOOD, "size": 1}, "unknown_field"),
    ({"name": "a", "mimeType": "image/png", "data": GOOD, "displayName": "a"}, "unknown_field"),
    ({"name": 1, "mimeType": "image/png", "data": GOOD}, "field_type"),
    ({"name": "a", "mimeType": ["image/png"], "data": GOOD}, "field_type"),
    ({"name": "a", "mimeType": "image/png", "data": None}, "field_type"),
    ({"name": "a", "mimeType": "image/png", "data": list(RAW)}, "field_type"),
])
def test_the_shape_is_exact(item, reason):
    assert status_of(refused(item)) == (400, "invalid_argument", reason)


@pytest.mark.parametrize("name", ["a", "x" * 255, "é" * 255, "😀" * 255, " q3.png ", "a/b\\c",
                                  "../../etc/passwd", "名前.pdf"])
def test_names_of_1_to_255_characters(name):
    assert parse({"name": name, "mimeType": "image/png", "data": GOOD})[0].name == name


@pytest.mark.parametrize("name", ["", " ", "\t\n", "x" * 256, "😀" * 256])
def test_other_names_are_refused_400(name):
    error = refused({"name": name, "mimeType": "image/png", "data": GOOD})
    assert status_of(error) == (400, "invalid_argument", "attachment_name")
    assert error.message == "The name of attachment 1 of the message must be 1 to 255 characters."


def test_the_count_limit():
    items = [attachment(png(), "image/png")] * 4
    assert len(parse(*items, config=DEFAULTS)) == 4
    error = refused(*items, attachment(png(), "image/png"), config=DEFAULTS)
    assert status_of(error) == (400, "invalid_argument", "attachments_count")
    assert error.message == "The message may carry at most 4 attachments."
    # counted before any item is looked at
    assert refused(*[None] * 5, config=DEFAULTS).reason == "attachments_count"


def test_attachments_can_be_turned_off():
    config = load_config("chat", {"APP_ENV": "development", "MAX_ATTACHMENTS": "0"})
    assert parse(config=config) == ()
    error = refused(attachment(png(), "image/png"), config=config)
    assert status_of(error) == (400, "invalid_argument", "attachments_count")
    assert error.message == "Attachments are turned off on this server."


def test_the_history_count_names_the_item():
    with pytest.raises(ApiError) as caught:
        parse_attachments([None] * 5, DEFAULTS, "history item 3")
    assert caught.value.message == "History item 3 may carry at most 4 attachments."


@pytest.mark.parametrize("declared", ["image/gif", "application/octet-stream", "IMAGE/PNG",
                                      "image/png; charset=binary", " image/png", "image/jpg",
                                      "text/html", "audio/mpeg", "", CANARY])
def test_other_declared_types_are_refused_415(declared):
    error = refused(attachment(png(), declared))
    assert status_of(error) == (415, "unsupported_media_type", "attachment_type")
    assert error.message == ("Attachment 1 of the message is of a type this server does not "
                             "accept; accepted: " + ", ".join(SUPPORTED_ATTACHMENT_TYPES) + ".")


def test_attachment_types_picks_what_this_server_accepts():
    config = load_config("chat", {"APP_ENV": "development",
                                  "ATTACHMENT_TYPES": "image/png, Text/Plain"})
    assert parse(attachment(png(), "image/png"), attachment(b"hi", "text/plain"), config=config)
    error = refused(attachment(pdf(), "application/pdf"), config=config)
    assert status_of(error) == (415, "unsupported_media_type", "attachment_type")
    assert error.message.endswith("accepted: image/png, text/plain.")


# --- the order of the checks: the first failure answers ------------------------------------------

def test_the_first_failing_attachment_answers_and_is_named_by_position():
    good = attachment(png(), "image/png")
    oversize = attachment(b"a" * (MAX_BYTES + 1), "text/plain")
    error = refused(good, attachment(png(), "image/gif"), oversize)
    assert status_of(error)[0] == 415 and "Attachment 2 of" in error.message
    error = refused(good, good, oversize, attachment(png(), "image/gif"))
    assert status_of(error)[0] == 413 and "Attachment 3 of" in error.message


@pytest.mark.parametrize("item, status, reason", [
    # shape, then name, then the declared type, then the size, then base64, then the bytes
    ({"name": "", "mimeType": "image/gif", "data": "!" * 4000}, 400, "attachment_name"),
    ({"name": "a", "mimeType": "image/gif", "data": "!" * 4000}, 415, "attachment_type"),
    ({"name": "a", "mimeType": "image/png", "data": "!" * 4000}, 413, "attachment_size"),
    ({"name": "a", "mimeType": "image/png", "data": "!" * 400}, 400, "attachment_base64"),
    ({"name": "a", "mimeType": "image/png", "data": b64(b"text")}, 415, "attachment_mismatch"),
])
def test_the_checks_run_in_the_documented_order(item, status, reason):
    error = refused(item)
    assert (error.status, error.reason) == (status, reason)


# --- no error quotes a name or the data ----------------------------------------------------------

SECRET = CANARY.encode()


@pytest.mark.parametrize("item", [
    {"name": CANARY, "mimeType": "image/gif", "data": b64(SECRET)},
    {"name": CANARY, "mimeType": "image/jpeg", "data": b64(png(text={"k": CANARY}))},
    {"name": CANARY, "mimeType": "text/plain", "data": b64(SECRET * 100)},
    {"name": CANARY, "mimeType": "text/plain", "data": b64(SECRET) + " "},
    {"name": CANARY, "mimeType": "text/plain", "data": CANARY},
    {"name": CANARY * 20, "mimeType": "text/plain", "data": b64(SECRET)},
    {"name": CANARY, "mimeType": "text/plain", "data": b64(SECRET + b"\x00")},
    {"name": CANARY, "mimeType": CANARY, "data": b64(SECRET)},
    {"name": CANARY, "mimeType": "text/plain", "data": b64(SECRET), CANARY: 1},
])
def test_error_messages_never_quote_a_name_or_the_data(item):
    error = refused(item)
    shown = json.dumps([error.message, error.reason, str(error), repr(error)])
    for secret in (CANARY, b64(SECRET)[:12], "Zq9x"):
        assert secret not in shown


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3), max_leaves=8)
NAMES = st.sampled_from(["a.png", "", " ", "x" * 255, "x" * 256, "😀" * 255]) | st.text(max_size=9)
TYPES = st.sampled_from(SUPPORTED_ATTACHMENT_TYPES) | st.sampled_from(
    ["image/gif", "IMAGE/PNG", "", "text/html"])
DATA = st.sampled_from([*map(b64, FILES.values()), b64(avif()), b64(b"a\x00"), "", "AAAA",
                        "A" * 1500, GOOD.rstrip("="), " " + GOOD]) | st.binary(max_size=30).map(b64)
GOOD_PAIRS = st.sampled_from([(declared, b64(raw)) for declared, raw in FILES.items()])


@st.composite
def attachmentish(draw) -> dict:
    """Mostly a good attachment, often one field bad, now and then a key dropped or added."""
    name = draw(st.just("a.png") if draw(st.integers(0, 2)) else NAMES)
    declared, data = draw(GOOD_PAIRS if draw(st.integers(0, 2)) else st.tuples(TYPES, DATA))
    item = {"name": name, "mimeType": declared, "data": data}
    if draw(st.integers(0, 5)) == 0:
        item.pop(draw(st.sampled_from(sorted(item))))
    if draw(st.integers(0, 5)) == 0:
        item[draw(st.sampled_from(["name", "data", "size"]))] = draw(JSONISH)
    return item


@settings(max_examples=400, deadline=None)
@given(value=st.lists(attachmentish(), max_size=4) | st.lists(attachmentish() | JSONISH,
                                                               max_size=6) | JSONISH)
def test_parsing_anything_answers_attachments_or_an_api_error(value):
    try:
        parsed = parse_attachments(value, CONFIG, "the message")
    except ApiError as error:
        assert error.status in (400, 413, 415)
        return
    assert isinstance(value, list) and len(parsed) == len(value) <= CONFIG.max_attachments
    for sent, item in zip(parsed, value):
        assert base64.b64encode(sent.data).decode() == item["data"]
        assert sent.mime_type == item["mimeType"] and sent.mime_type in sniff(sent.data)
        assert sent.name == item["name"] and 0 < len(sent.data) <= MAX_BYTES
