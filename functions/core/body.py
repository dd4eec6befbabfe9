"""Strict JSON request bodies: media type, size before reading, and a parser that cannot 500.

Rejects deep nesting, invalid UTF-8, a BOM, NaN/Infinity, duplicate keys and lone surrogates.
"""

from __future__ import annotations

import json

from .errors import ApiError

__all__ = ["read_json", "check_fields", "MAX_DEPTH"]

MAX_DEPTH = 32


def read_json(request, max_bytes: int) -> dict:
    """Return the request's JSON object or raise ApiError (415, 413 or 400)."""
    mimetype, options = request.mimetype, request.mimetype_params
    if mimetype != "application/json" or options.get("charset", "utf-8").lower() != "utf-8":
        raise ApiError("unsupported_media_type", reason="media_type")
    declared = request.content_length
    if declared is not None and declared > max_bytes:
        raise _too_large(request, "content_length")
    raw = request.stream.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise _too_large(request, "body_size")
    return parse_json_object(raw)


def _too_large(request, reason: str) -> ApiError:
    # functions-framework calls request.get_data() after every response; an empty cache keeps
    # it from buffering the refused body (the server then discards it without keeping it).
    request._cached_data = b""
    return ApiError("payload_too_large", reason=reason)


def parse_json_object(raw: bytes) -> dict:
    if raw.startswith(b"\xef\xbb\xbf"):
        raise _invalid("The body must not start with a byte order mark.", "bom")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _invalid("The body is not valid UTF-8.", "utf8") from None
    if _nesting_depth(text) > MAX_DEPTH:
        raise _invalid("The JSON is nested too deeply.", "depth")
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except (ValueError, RecursionError):
        raise _invalid("The body is not valid JSON.", "json") from None
    if not isinstance(value, dict):
        raise _invalid("The body must be a JSON object.", "not_object")
    _check_strings(value)
    return value


def check_fields(obj: dict, required: dict[str, type], optional: dict[str, type], where: str) -> None:
    """Exact schema for one JSON object: no unknown, missing or mistyped fields."""
    for name in obj:
        if name not in required and name not in optional:
            raise _invalid(f"Unknown field {_safe_name(name)} in {where}.", "unknown_field")
    for name, kind in {**required, **optional}.items():
        if name in obj and not _is_type(obj[name], kind):
            raise _invalid(f"Field {name} in {where} must be {_TYPE_NAMES[kind]}.", "field_type")
    for name in required:
        if name not in obj:
            raise _invalid(f"Field {name} is required in {where}.", "missing_field")


_TYPE_NAMES = {str: "a string", list: "a list", dict: "an object", bool: "true or false",
               int: "a whole number"}


def _is_type(value: object, kind: type) -> bool:
    return isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))


def _safe_name(name: str) -> str:
    # Field names are client input: quote them only when they look like identifiers.
    if name.isascii() and name.replace("_", "").isalnum() and len(name) <= 40:
        return f"'{name}'"
    return "(unnamed)"


def _invalid(message: str, reason: str) -> ApiError:
    return ApiError("invalid_argument", message, reason=reason)


def _nesting_depth(text: str) -> int:
    """Deepest [ / { nesting outside strings, found without recursion."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                break
        elif char in "]}":
            depth -= 1
    return deepest


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    result = {}
    for key, value in pairs:
        if key in result:
            raise _invalid("The body has a duplicate key.", "duplicate_key")
        result[key] = value
    return result


def _no_constants(name: str) -> None:
    raise _invalid("NaN and Infinity are not valid JSON.", "constant")


def _check_strings(value: object) -> None:
    """Lone surrogates (\\ud800) parse in Python but cannot be sent anywhere as UTF-8."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise _invalid("The body contains an invalid unicode escape.", "surrogate") from None
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
