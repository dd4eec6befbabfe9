"""The chat request schema: `message` plus optional `history`, validated exactly as the SPEC says.

The client never chooses the model, system prompt or limits: any other field is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.body import check_fields
from core.config import Config
from core.errors import ApiError

ROLES = ("user", "model")


@dataclass(frozen=True)
class Turn:
    message: str
    history: tuple[tuple[str, str], ...]

    def contents(self) -> list[dict]:
        """Gemini `contents`: the history in order, then the new user message."""
        turns = [*self.history, ("user", self.message)]
        return [{"role": role, "parts": [{"text": text}]} for role, text in turns]


def parse_turn(body: dict, config: Config) -> Turn:
    check_fields(body, {"message": str}, {"history": list}, "the request")
    message = _text(body["message"], config, "message")
    history = body.get("history", [])
    if len(history) > config.max_history_messages:
        raise _invalid(f"history may hold at most {config.max_history_messages} messages.",
                       "history_length")
    items = []
    for item in history:
        if not isinstance(item, dict):
            raise _invalid("Each history item must be an object.", "history_item")
        check_fields(item, {"role": str, "text": str}, {}, "a history item")
        if item["role"] not in ROLES:
            raise _invalid("A history role must be 'user' or 'model'.", "history_role")
        items.append((item["role"], _text(item["text"], config, "history text")))
    return Turn(message=message, history=tuple(items))


def _text(value: str, config: Config, name: str) -> str:
    if not value.strip():
        raise _invalid(f"The {name} must not be blank.", "blank")
    if len(value) > config.max_message_chars:
        raise _invalid(f"The {name} may be at most {config.max_message_chars} characters.",
                       "too_long")
    return value


def _invalid(message: str, reason: str) -> ApiError:
    return ApiError("invalid_argument", message, reason=reason)
