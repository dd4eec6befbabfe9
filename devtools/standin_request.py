"""How the Gemini stand-in reads a request body: validation as Gemini does it, and the one prompt count.

Parts: {"text": ...} or inline data. google-genai 3.6.1 sends Part.from_bytes(...) as
{"inlineData": {"data": "<URL-safe base64>", "mime_type": "image/png"}} (camelCase key, snake_case
inside: the SDK dumps its Blob model as is); Gemini's JSON parser takes either spelling of each field
and standard or URL-safe base64, padded or not, so does the stand-in. Accepted inline MIME types:
images (png, jpeg, webp, heic, heif), application/pdf and the plain-text document types (TEXT_MIME).
Audio and video are not modelled (400). systemInstruction stays text-only, as Gemini documents.

Token counting: see standin_media.py (Gemini's published rules for images and PDFs).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from standin_media import IMAGE_MIME, PDF_MIME, TEXT_MIME, Media, b64decode, measure_media

ALLOWED_FIELDS = {"contents", "systemInstruction", "generationConfig", "safetySettings",
                  "tools", "toolConfig", "cachedContent"}


class BadRequest(Exception):
    pass


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


# ---------- inline data: decoding and measuring (headers only; bounded, dependency-free) ----------
def inline_media(blob, where: str) -> Media:
    """Validates an inlineData Blob like Gemini (either field spelling) and measures it."""
    where = f"{where}.inline_data"
    field = where.removeprefix("GenerateContentRequest.")  # how Gemini names a field in JSON errors
    if not isinstance(blob, dict):
        raise BadRequest(f"Invalid value at '{field}': must be an object (Blob).")
    for key in blob:
        if _camel(key) not in ("mimeType", "data", "displayName"):
            raise BadRequest(f'Invalid JSON payload received. Unknown name "{key}" at \'{field}\': '
                             "Cannot find field.")
    mime = blob.get("mimeType", blob.get("mime_type"))
    data = blob.get("data")
    if data is not None and not isinstance(data, str):
        raise BadRequest(f"Invalid value at '{field}.data' (TYPE_BYTES), must be a base64 string.")
    raw = b64decode(data) if data is not None else b""
    if raw is None:
        raise BadRequest(f"Invalid value at '{field}.data' (TYPE_BYTES), Base64 decoding failed.")
    if not isinstance(mime, str) or not mime.strip():
        raise BadRequest(f"* {where}.mime_type: mime_type must be specified.")
    if not raw:
        raise BadRequest(f"* {where}.data: data must not be empty.")
    norm = mime.split(";")[0].strip().lower()
    if norm.startswith(("audio/", "video/")):
        raise BadRequest(f"Unsupported MIME type: {mime} (the stand-in does not model audio or video)")
    if norm not in IMAGE_MIME | TEXT_MIME and norm != PDF_MIME:
        raise BadRequest(f"Unsupported MIME type: {mime}")
    return measure_media(norm, raw)


def part_media(part: dict, where: str) -> Media | None:
    """None for a text part; the measured attachment for an inline-data part."""
    fields = [k for k in ("text", "inlineData", "inline_data") if k in part]
    if len(fields) > 1:
        raise BadRequest(f"Invalid JSON payload received. Oneof field 'data' is already set. "
                         f"Cannot set '{_camel(fields[1])}'")
    if fields == ["text"] and isinstance(part["text"], str):
        return None
    if fields and fields[0] != "text":
        return inline_media(part[fields[0]], where)
    raise BadRequest(f"* {where}: this stand-in supports parts with a string 'text' or with 'inlineData'.")


def _check_parts(parts, where: str, text_only: bool = False) -> None:
    if not isinstance(parts, list) or not parts:
        raise BadRequest(f"* {where}.parts: contents.parts must not be empty.")
    for i, part in enumerate(parts):
        if not isinstance(part, dict):
            raise BadRequest(f"* {where}.parts[{i}]: must be an object (Part).")
        if text_only and not isinstance(part.get("text"), str):
            raise BadRequest(f"* {where}.parts[{i}]: system_instruction supports text parts only.")
        part_media(part, f"{where}.parts[{i}]")


def validate(body, count_tokens: bool = False) -> dict:
    """Returns the body with camelCase top-level keys, or raises BadRequest like Gemini would."""
    if not isinstance(body, dict):
        raise BadRequest("Invalid JSON payload received. Expected an object.")
    norm = {}
    for key, value in body.items():
        ck = _camel(key)
        if ck not in ALLOWED_FIELDS and not (count_tokens and ck == "generateContentRequest"):
            raise BadRequest(f'Invalid JSON payload received. Unknown name "{key}": Cannot find field.')
        norm[ck] = value
    if count_tokens and "generateContentRequest" in norm:
        gcr = norm["generateContentRequest"]
        return validate({k: v for k, v in gcr.items() if k != "model"} if isinstance(gcr, dict) else None)
    contents = norm.get("contents")
    if not isinstance(contents, list) or not contents:
        raise BadRequest("* GenerateContentRequest.contents: contents is not specified")
    for i, content in enumerate(contents):
        if not isinstance(content, dict):
            raise BadRequest(f"* GenerateContentRequest.contents[{i}]: must be an object")
        if content.get("role", "user") not in ("user", "model"):
            raise BadRequest("Please use a valid role: user, model.")
        _check_parts(content.get("parts"), f"GenerateContentRequest.contents[{i}]")
    si = norm.get("systemInstruction")
    if si is not None:
        if not isinstance(si, dict) or set(si) - {"parts", "role"} or not isinstance(si.get("role", ""), str):
            raise BadRequest("* GenerateContentRequest.system_instruction: malformed Content")
        _check_parts(si.get("parts"), "GenerateContentRequest.system_instruction", text_only=True)
    for key in ("generationConfig", "toolConfig"):
        if key in norm and not isinstance(norm[key], dict):
            raise BadRequest(f"* GenerateContentRequest.{key}: must be an object")
    return norm


def texts(content: dict) -> str:
    return "".join(p.get("text", "") for p in content.get("parts", []))


def attachments(content: dict) -> list[Media]:
    return [m for i, p in enumerate(content.get("parts", [])) if (m := part_media(p, f"parts[{i}]"))]


@dataclass
class Measure:
    tokens: int          # promptTokenCount / countTokens totalTokens
    details: list        # promptTokensDetails: [{"modality": ..., "tokenCount": ...}]
    media: list          # every attachment in the request, in order


def measure(body: dict) -> Measure:
    """The one prompt count (rules in standin_media's docstring) for a validated body."""
    si = body.get("systemInstruction")
    contents = list(body["contents"]) + ([si] if si else [])
    chars = sum(len(texts(c)) for c in contents)
    media = [m for c in contents for m in attachments(c)]
    by = {"TEXT": math.ceil((chars + sum(m.chars for m in media)) / 4), "IMAGE": 0, "DOCUMENT": 0}
    for m in media:
        by[m.modality] += m.tokens
    details = [{"modality": k, "tokenCount": v} for k, v in by.items() if v or k == "TEXT"]
    return Measure(sum(by.values()), details, media)
