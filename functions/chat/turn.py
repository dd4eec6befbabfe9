"""The chat request schema: `message`, optional `history`, `model`, `instructions` and
`attachments` (on the message and on user turns of the history), validated strictly.

The client may pick a model only from GEMINI_MODELS and may add custom instructions, which go
into system_instruction after the operator's SYSTEM_PROMPT, delimited as the user's preferences.
It never chooses the system prompt itself or the limits: any other field is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

from core.body import check_fields
from core.config import Config
from core.errors import ApiError

from attachments import Attachment, parse_attachments

ROLES = ("user", "model")
# The user's custom instructions follow the operator's prompt inside this block. The tag name is
# neutralized inside the user's text, so no closing tag there can end the block early.
PREFERENCES_OPEN = ("\n\nThe user's preferences (follow them unless they conflict with the "
                    "instructions above):\n<user_preferences>\n")
PREFERENCES_CLOSE = "\n</user_preferences>"
_TAG_NAME = re.compile("user_preferences", re.IGNORECASE)
_TAG_NAME_NEUTRAL = "user-preferences"


class Said(NamedTuple):
    """One history item: who said it, the text, and (user turns only) its attachments."""

    role: str
    text: str
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class Turn:
    message: str
    history: tuple[Said, ...]
    model: str | None = None  # an id of GEMINI_MODELS; None: the default
    instructions: str = field(default="", repr=False)  # the user's custom instructions, "" = none
    attachments: tuple[Attachment, ...] = ()  # the message's own

    def said(self) -> list[Said]:
        """The whole conversation Gemini reads: the history, then the new message."""
        return [*self.history, Said("user", self.message, self.attachments)]

    def all_attachments(self) -> list[Attachment]:
        return [attachment for item in self.said() for attachment in item.attachments]

    def contents(self) -> list[dict]:
        """Gemini `contents`: the history in order, then the new user message; a turn's
        attachments come before its text (blank text with attachments is left out)."""
        return [{"role": role, "parts": [*(a.part() for a in attachments),
                                         *([{"text": text}] if text.strip() or not attachments
                                           else [])]}
                for role, text, attachments in self.said()]


def system_instruction(turn: Turn, config: Config) -> str:
    """SYSTEM_PROMPT, then the user's instructions (if any) in the delimited preferences block."""
    if not turn.instructions:
        return config.system_prompt
    text = turn.instructions
    while _TAG_NAME.search(text):  # each pass removes an underscore: it ends
        text = _TAG_NAME.sub(_TAG_NAME_NEUTRAL, text)
    return config.system_prompt + PREFERENCES_OPEN + text + PREFERENCES_CLOSE


def parse_turn(body: dict, config: Config) -> Turn:
    check_fields(body, {"message": str},
                 {"history": list, "model": str, "instructions": str, "attachments": list},
                 "the request")
    attachments = parse_attachments(body.get("attachments", []), config, "the message")
    message = _text(body["message"], config, "message", blank_ok=bool(attachments))
    model = _model(body.get("model"), config)
    instructions = _instructions(body.get("instructions", ""), config)
    history = body.get("history", [])
    if len(history) > config.max_history_messages:
        raise _invalid(f"history may hold at most {config.max_history_messages} messages.",
                       "history_length")
    items = []
    for item in history:
        if not isinstance(item, dict):
            raise _invalid("Each history item must be an object.", "history_item")
        check_fields(item, {"role": str, "text": str}, {"attachments": list}, "a history item")
        if item["role"] not in ROLES:
            raise _invalid("A history role must be 'user' or 'model'.", "history_role")
        if "attachments" in item and item["role"] != "user":
            raise _invalid("Only user turns of the history may carry attachments.",
                           "history_attachments")
        said = parse_attachments(item.get("attachments", []), config,
                                 f"history item {len(items) + 1}")
        text = _text(item["text"], config, "history text", blank_ok=bool(said))
        items.append(Said(item["role"], text, said))
    return Turn(message=message, history=tuple(items), model=model, instructions=instructions,
                attachments=attachments)


def _text(value: str, config: Config, name: str, blank_ok: bool = False) -> str:
    """The text as sent; blank only where attachments carry the message."""
    if not value.strip() and not blank_ok:
        raise _invalid(f"The {name} must not be blank.", "blank")
    if len(value) > config.max_message_chars:
        raise _invalid(f"The {name} may be at most {config.max_message_chars} characters.",
                       "too_long")
    return value


def _model(value: str | None, config: Config) -> str | None:
    """The chosen model's id (None: the default); an error never quotes the client's value."""
    if value is None:
        return None
    try:
        return config.model(value).id
    except KeyError:
        listed = ", ".join(model.id for model in config.models)
        raise _invalid(f"The model must be one of: {listed}.", "unknown_model") from None


def _instructions(value: str, config: Config) -> str:
    """The custom instructions, surrounding whitespace removed; blank means none."""
    if not value.strip():
        return ""
    if len(value) > config.max_instructions_chars:
        limit = config.max_instructions_chars
        raise _invalid(f"The instructions may be at most {limit} characters." if limit else
                       "Custom instructions are turned off on this server.", "instructions_length")
    return value.strip()


def _invalid(message: str, reason: str) -> ApiError:
    return ApiError("invalid_argument", message, reason=reason)
