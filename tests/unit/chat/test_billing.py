"""chat/billing: the worst case reserved before Gemini runs, and the exact charge that replaces it."""

from __future__ import annotations

import json

import pytest

from attachments import Attachment
from billing import TOKENS_PER_TURN, Bill, Meter, charge, reservation
from core.config import load_config
from tests.media_files import heic, heif, jpeg, pdf, png, webp
from turn import Said, Turn

SYSTEM = "Be brief."  # 9 bytes
MAX_OUTPUT = 100
CONFIG = load_config("chat", {"APP_ENV": "development", "SYSTEM_PROMPT": SYSTEM,
                              "MAX_OUTPUT_TOKENS": str(MAX_OUTPUT)})
TURN = Turn(message="hi", history=(Said("user", "a"), Said("model", "bc")))
# The request Gemini is asked to count: the system prompt as a first user content, then the turn.
INPUT = [{"role": "user", "parts": [{"text": SYSTEM}]},
         {"role": "user", "parts": [{"text": "a"}]},
         {"role": "model", "parts": [{"text": "bc"}]},
         {"role": "user", "parts": [{"text": "hi"}]}]


def model(text: str) -> list[dict]:
    return [{"role": "model", "parts": [{"text": text}]}]


class Count:
    """A fake countTokens: answers (or raises) the scripted results in order, records contents."""

    def __init__(self, *results):
        self.results = list(results)
        self.calls: list[list[dict]] = []

    def __call__(self, contents: list[dict]) -> int:
        self.calls.append(contents)
        result = self.results.pop(0)
        if isinstance(result, BaseException):
            raise result
        return result


def usage(input_tokens: int, output_tokens: int, total: int) -> dict:
    return {"inputTokens": input_tokens, "outputTokens": output_tokens, "totalTokens": total}


# --- reservation -----------------------------------------------------------------------------

def test_reservation_is_every_input_byte_plus_the_longest_answer():
    input_bytes = len(SYSTEM) + len("a") + len("bc") + len("hi")
    assert reservation(TURN, CONFIG) == input_bytes + 4 * TOKENS_PER_TURN + MAX_OUTPUT
    assert reservation(TURN, CONFIG) >= input_bytes + MAX_OUTPUT


def test_reservation_grows_with_the_system_prompt_and_the_output_limit():
    config = load_config("chat", {"APP_ENV": "development", "SYSTEM_PROMPT": SYSTEM + "xyz",
                                  "MAX_OUTPUT_TOKENS": str(MAX_OUTPUT + 50)})
    assert reservation(TURN, config) == reservation(TURN, CONFIG) + 3 + 50


@pytest.mark.parametrize("text, utf8_bytes", [("😀", 4), ("日本語", 9), ("é", 2), ("👩‍💻", 11)])
def test_multi_byte_text_counts_bytes_not_characters(text, utf8_bytes):
    assert len(text.encode()) == utf8_bytes  # the premise
    plain = reservation(Turn(message="x", history=(Said("user", "x"),)), CONFIG)
    as_message = reservation(Turn(message=text, history=(Said("user", "x"),)), CONFIG)
    in_history = reservation(Turn(message="x", history=(Said("user", text),)), CONFIG)
    assert as_message - plain == in_history - plain == utf8_bytes - 1


def test_multi_byte_system_prompt_counts_bytes():
    config = load_config("chat", {"APP_ENV": "development", "SYSTEM_PROMPT": "答えは短く",
                                  "MAX_OUTPUT_TOKENS": str(MAX_OUTPUT)})
    turn = Turn(message="x", history=())
    assert reservation(turn, config) == 15 + 1 + 2 * TOKENS_PER_TURN + MAX_OUTPUT


# --- charge --------------------------------------------------------------------------------------

def test_final_usage_is_the_bill_and_nothing_is_counted():
    meter, count = Meter(), Count()
    meter.record(usage(10, 0, 10), "Hel", final=False)
    meter.record(usage(10, 5, 18), "lo", final=True)  # 3 thinking tokens in the total
    assert charge(meter, TURN, CONFIG, count) == 18
    assert count.calls == []


def test_a_blocked_prompt_is_billed_its_final_usage():
    meter, count = Meter(), Count()
    meter.record(usage(7, 0, 7), "", final=True)
    assert charge(meter, TURN, CONFIG, count) == 7
    assert count.calls == []


def test_nothing_accepted_and_nothing_unknown_costs_nothing():
    count = Count()
    assert charge(Meter(), TURN, CONFIG, count) == 0  # e.g. every attempt refused with a status
    assert count.calls == []


def test_cut_short_with_usage_is_input_plus_the_counted_output():
    meter, count = Meter(), Count(4)
    meter.record(usage(10, 1, 11), "Hel", final=False)
    meter.record(None, "lo!", final=False)
    assert charge(meter, TURN, CONFIG, count) == 10 + 4
    assert count.calls == [model("Hello!")]


def test_cut_short_keeps_reported_tokens_beyond_the_text_thinking():
    meter, count = Meter(), Count(2)
    meter.record(usage(10, 2, 50), "Hi", final=False)  # 38 thinking tokens so far
    assert charge(meter, TURN, CONFIG, count) == 50
    assert count.calls == [model("Hi")]


def test_a_finish_without_usage_is_not_a_bill():
    meter, count = Meter(), Count(3)
    meter.record(usage(10, 1, 11), "Hel", final=False)
    meter.record(None, "lo", final=True)
    assert not meter.final
    assert charge(meter, TURN, CONFIG, count) == 13
    assert count.calls == [model("Hello")]


def test_accepted_without_usage_counts_the_input_with_the_system_prompt():
    meter, count = Meter(), Count(20, 4)
    meter.record(None, "Hi", final=False)
    assert charge(meter, TURN, CONFIG, count) == 24
    assert count.calls == [INPUT, model("Hi")]


def test_accepted_without_usage_or_text_is_the_input_alone():
    meter, count = Meter(), Count(20)
    meter.record(None, "", final=False)
    assert charge(meter, TURN, CONFIG, count) == 20
    assert count.calls == [INPUT]


def test_unknown_outcome_is_the_input_plus_the_longest_answer():
    meter, count = Meter(), Count(20)
    meter.unknown = True  # a timeout after the request was sent, no answer seen
    assert charge(meter, TURN, CONFIG, count) == 20 + MAX_OUTPUT
    assert count.calls == [INPUT]


@pytest.mark.parametrize("seen", ["nothing (unknown)", "text without usage", "usage and text"])
def test_a_failing_count_keeps_the_reservation_and_logs_only_the_error_class(captured, seen):
    meter, count = Meter(), Count(TimeoutError("Zq9 secret detail"))
    if seen == "nothing (unknown)":
        meter.unknown = True
    else:
        meter.record(usage(10, 1, 11) if seen == "usage and text" else None, "Zq9 answer", False)
    assert charge(meter, Turn(message="Zq9 question", history=()), CONFIG, count) is None
    assert len(count.calls) == 1
    (line,) = captured()
    assert line["severity"] == "WARNING"
    assert line["error_class"] == "TimeoutError"
    assert set(line) == {"severity", "message", "logger", "error_class"}
    assert "Zq9" not in captured.raw() and SYSTEM not in captured.raw()


def test_public_usage_is_the_latest_input_and_output():
    meter = Meter()
    assert meter.public_usage() == {"inputTokens": 0, "outputTokens": 0}
    meter.record(usage(3, 1, 4), "a", final=False)
    meter.record(None, "b", final=False)  # no usage: the last one reported stays
    assert meter.public_usage() == {"inputTokens": 3, "outputTokens": 1}
    meter.record(usage(3, 5, 9), "c", final=True)
    assert meter.public_usage() == {"inputTokens": 3, "outputTokens": 5}
    assert json.dumps(meter.public_usage())  # plain JSON for the `done` event


# --- issue #10: weights and custom instructions --------------------------------------------------

MODELS = "gemini-2.5-flash:1,gemini-2.5-flash-lite:0.3,gemini-2.5-pro:8"
WEIGHTED = load_config("chat", {"APP_ENV": "development", "SYSTEM_PROMPT": SYSTEM,
                                "MAX_OUTPUT_TOKENS": str(MAX_OUTPUT), "GEMINI_MODELS": MODELS})


def on(model: str | None, instructions: str = "") -> Turn:
    return Turn(message=TURN.message, history=TURN.history, model=model,
                instructions=instructions)


@pytest.mark.parametrize("tokens, weight, expected", [
    (0, "8", 0), (-3, "8", 0), (1, "8", 8), (10, "0.3", 3), (11, "0.3", 4), (1, "0.3", 1),
    (1, "0.000001", 1), (999_999, "0.000001", 1), (1_000_001, "0.000001", 2),
    (10**12, "1000", 10**15), (7, "1", 7),
])
def test_weighted_rounds_up_exactly_and_never_to_zero(tokens, weight, expected):
    from fractions import Fraction

    from billing import weighted

    assert weighted(tokens, Fraction(weight)) == expected


def test_the_reservation_is_multiplied_by_the_model_weight():
    raw = reservation(TURN, CONFIG)
    assert reservation(on(None), WEIGHTED) == reservation(on("gemini-2.5-flash"), WEIGHTED) == raw
    assert reservation(on("gemini-2.5-pro"), WEIGHTED) == 8 * raw
    assert reservation(on("gemini-2.5-flash-lite"), WEIGHTED) == -(-raw * 3 // 10)  # ceil


@pytest.mark.parametrize("model, weight", [("gemini-2.5-pro", 8), ("gemini-2.5-flash", 1)])
def test_the_final_charge_is_multiplied_by_the_model_weight(model, weight):
    meter, count = Meter(), Count()
    meter.record(usage(10, 5, 18), "Hello", final=True)
    assert charge(meter, on(model), WEIGHTED, count) == 18 * weight
    assert meter.public_usage() == {"inputTokens": 10, "outputTokens": 5}  # Gemini's own


def test_a_counted_charge_is_multiplied_and_rounded_up():
    meter, count = Meter(), Count(20, 4)
    meter.record(None, "Hi", final=False)
    assert charge(meter, on("gemini-2.5-flash-lite"), WEIGHTED, count) == 8  # ceil(24 × 0.3)
    meter, count = Meter(), Count(20)
    meter.unknown = True
    assert charge(meter, on("gemini-2.5-pro"), WEIGHTED, count) == 8 * (20 + MAX_OUTPUT)


def test_nothing_and_unknown_stay_nothing_and_unknown_whatever_the_weight():
    assert charge(Meter(), on("gemini-2.5-pro"), WEIGHTED, Count()) == 0
    meter = Meter()
    meter.unknown = True
    assert charge(meter, on("gemini-2.5-pro"), WEIGHTED, Count(TimeoutError())) is None


def test_a_weight_8_model_exhausts_a_budget_8_times_faster():
    """Serial answers of 5 Gemini tokens each against one budget, through the real Quota."""
    from core.quota import Quota

    def answers_until_refused(model: str) -> int:
        config = load_config("chat", {"APP_ENV": "development", "GEMINI_MODELS": MODELS,
                                      "DAILY_TOKEN_BUDGET": "400", "RATE_LIMITS": "1000/minute",
                                      "SYSTEM_PROMPT": SYSTEM})
        quota, turn, answered = Quota(config), on(model), 0
        while True:
            try:
                admission = quota.admit_chat("uid:test", reservation(turn, config))
            except Exception as error:  # noqa: BLE001
                assert getattr(error, "reason", None) == "user_token_budget"
                return answered
            with Bill(config, quota, admission, turn, Count()) as bill:
                bill.meter.record(usage(2, 3, 5), "Hello", final=True)
            answered += 1

    assert answers_until_refused("gemini-2.5-flash") == 80  # 400 / 5
    assert answers_until_refused("gemini-2.5-pro") == 10  # 400 / (5 × 8)


def test_instructions_are_reserved_as_bytes_of_the_whole_system_instruction():
    from turn import PREFERENCES_CLOSE, PREFERENCES_OPEN

    instructions = "Réponds en français."  # 22 bytes, 20 characters
    extra = len((PREFERENCES_OPEN + instructions + PREFERENCES_CLOSE).encode())
    assert reservation(on(None, instructions), CONFIG) == reservation(TURN, CONFIG) + extra
    assert reservation(on("gemini-2.5-pro", instructions), WEIGHTED) == 8 * (
        reservation(TURN, CONFIG) + extra)


def test_the_counted_input_has_the_instructions_in_the_system_instruction():
    from turn import system_instruction

    meter, count = Meter(), Count(20)
    meter.record(None, "", final=False)
    turn = on(None, "Be terse.")
    assert charge(meter, turn, CONFIG, count) == 20
    assert count.calls == [[{"role": "user", "parts": [{"text": system_instruction(turn, CONFIG)}]},
                            *INPUT[1:]]]
    assert "Be terse." in count.calls[0][0]["parts"][0]["text"]


# --- issue #10: attachments ------------------------------------------------------------------------

def with_files(*files, history=(), model=None) -> Turn:
    return Turn(message="hi", history=history, model=model,
                attachments=tuple(Attachment("f", mime, raw) for mime, raw in files))


class CountMedia:
    """A fake Gemini.count_media: `tokens` per attachment, recording what it was asked."""

    def __init__(self, tokens: int):
        self.tokens = tokens
        self.asked: list[tuple[str, bytes]] = []

    def __call__(self, attachment) -> int:
        self.asked.append((attachment.mime_type, attachment.data))
        return self.tokens


BASE = reservation(Turn(message="hi", history=()), CONFIG)


@pytest.mark.parametrize("width, height, tokens", [
    (10, 10, 258), (384, 384, 258), (385, 100, 258), (769, 1, 2 * 258), (4000, 4000, 36 * 258)])
def test_an_image_reserves_gemini_s_published_tile_rule(width, height, tokens):
    for mime, raw in (("image/png", png(width, height)), ("image/jpeg", jpeg(width, height)),
                      ("image/webp", webp(width, height, "VP8X"))):
        count = CountMedia(10**9)
        assert reservation(with_files((mime, raw)), CONFIG, count) == BASE + tokens + 8
        assert count.asked == []  # a rule bounds it: Gemini is not asked


def test_a_text_file_reserves_its_bytes():
    raw = "naïve, 日本\n".encode()
    assert reservation(with_files(("text/csv", raw)), CONFIG) == BASE + len(raw) + 8


@pytest.mark.parametrize("mime, raw", [("application/pdf", pdf()), ("image/heic", heic()),
                                       ("image/heif", heif())])
def test_pdf_and_heif_reserve_gemini_s_own_count(mime, raw):
    count = CountMedia(1032)
    assert reservation(with_files((mime, raw)), CONFIG, count) == BASE + 1032 + 8
    assert count.asked == [(mime, raw)]


def test_an_image_without_a_readable_size_is_counted_by_gemini():
    count = CountMedia(258)
    unreadable = b"\xff\xd8\xff\xd9"  # a JPEG with no frame header
    assert reservation(with_files(("image/jpeg", unreadable)), CONFIG, count) == BASE + 258 + 8
    assert count.asked == [("image/jpeg", unreadable)]


def test_without_count_media_a_pdf_cannot_be_reserved():
    with pytest.raises(ValueError, match="count_media"):
        reservation(with_files(("application/pdf", pdf())), CONFIG)
    assert reservation(with_files(("image/png", png())), CONFIG) == BASE + 266  # no need


def test_every_attachment_of_the_history_and_the_message_is_reserved():
    document = Attachment("d", "application/pdf", pdf(2))
    history = (Said("user", "", (Attachment("i", "image/png", png(1000, 1000)), document)),
               Said("model", "ok"))
    turn = Turn(message="again", history=history, attachments=(document,))
    count = CountMedia(516)
    plain = reservation(Turn(message="again", history=(Said("user", ""), Said("model", "ok"))),
                        CONFIG)
    assert reservation(turn, CONFIG, count) == plain + (4 * 258 + 8) + 2 * (516 + 8)
    # billing asks for each; Gemini.count_media remembers a count by the bytes' hash
    assert count.asked == [("application/pdf", pdf(2))] * 2


def test_attachments_are_weighted_with_the_model():
    files = (("image/png", png(4000, 4000)), ("application/pdf", pdf()))
    raw = reservation(with_files(*files), CONFIG, CountMedia(258))
    assert raw == BASE + 36 * 258 + 8 + 258 + 8
    assert reservation(with_files(*files, model="gemini-2.5-pro"), WEIGHTED,
                       CountMedia(258)) == 8 * raw
    assert reservation(with_files(*files, model="gemini-2.5-flash-lite"), WEIGHTED,
                       CountMedia(258)) == -(-raw * 3 // 10)


def test_the_charge_stays_gemini_s_usage_whatever_was_attached():
    meter, count = Meter(), Count()
    meter.record(usage(9300, 5, 9305), "Hello", final=True)
    assert charge(meter, with_files(("image/png", png(4000, 4000))), CONFIG, count) == 9305
    assert count.calls == []
