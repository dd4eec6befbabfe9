"""Reads of environment variables by their declared settings (core/settings.py): the one
boolean rule, whole numbers within their range, choices in any case; blank means the default.
"""

from __future__ import annotations

from typing import Mapping

from .settings import ASCII_SPACE, SETTINGS, ConfigError

__all__ = ["Environment", "parse_bool"]

# The one boolean rule (deploy.sh's is_true and scripts/doctor.py use it too): one of these, in
# any case, with surrounding ASCII whitespace ignored; anything else is an error.
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_BOOL_RULE = "must be true or false (1, true, yes, on or 0, false, no, off, in any case; " \
    "empty means the default)"


class Environment:
    """Reads of environment variables by their settings (core/settings.py): typed, blank means
    the default, and errors name the variable and the rule, never the value."""

    def __init__(self, source: Mapping[str, str]):
        self._source = source

    def raw(self, name: str) -> str | None:
        return self._source.get(name)

    def str(self, name: str) -> str | None:
        value = self._source.get(name)
        return value if value is not None and value.strip() != "" else None

    def list(self, name: str) -> list[str]:
        return [item.strip() for item in (self.str(name) or "").split(",") if item.strip()]

    def value(self, name: str):
        """`name` read by its kind and rule; its default when unset or blank."""
        entry = SETTINGS[name]
        if entry.kind == "bool":
            return parse_bool(name, self._source.get(name), entry.default)
        if entry.kind in ("int", "seconds"):
            number = self._whole_number(name, entry.default, entry.low, entry.high)
            return float(number) if entry.kind == "seconds" else number
        if entry.kind == "choice":
            return self._choice(name, entry.default, entry.choices)
        if entry.kind == "list":
            return self.list(name) or list(entry.default or ())
        return self.str(name) or entry.default

    def _whole_number(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.str(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name}: must be a whole number") from None
        if not low <= value <= high:
            raise ConfigError(f"{name}: must be between {low} and {high}")
        return value

    def _choice(self, name: str, default: str, allowed: tuple[str, ...]) -> str:
        raw = self.str(name)
        if raw is None:
            return default
        for option in allowed:
            if raw.strip().lower() == option.lower():
                return option
        raise ConfigError(f"{name}: must be one of {', '.join(allowed)}")


def parse_bool(name: str, raw: str | None, default: bool) -> bool:
    """The one boolean rule: unset or empty is `default` (an empty REQUIRE_AUTH must never turn
    sign-in off); otherwise, ignoring case and surrounding ASCII whitespace, 1/true/yes/on is
    True and 0/false/no/off is False; anything else raises ConfigError naming `name` (never the
    value). deploy.sh's is_true and scripts/doctor.py apply exactly this
    (tests/deploy/test_booleans.py)."""
    value = (raw or "").strip(ASCII_SPACE).lower()
    if not value:
        return default
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name}: {_BOOL_RULE}")
