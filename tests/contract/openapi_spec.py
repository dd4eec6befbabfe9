"""openapi.yaml, loaded once by schemathesis, and the ways to hold an answer to it: `conforms`
(an operation's documented responses, with schemathesis's own checks), `conforms_to` (an entry
of components/responses, for 404 and 405, which no operation lists) and `assert_stream_order`
(the order of a stream's events, which JSON Schema cannot say)."""

from __future__ import annotations

import json
import pathlib

import jsonschema_rs
import schemathesis
from schemathesis.specs.openapi.checks import (content_type_conformance,
                                                response_headers_conformance,
                                                response_schema_conformance,
                                                status_code_conformance)

SPEC_PATH = pathlib.Path(__file__).resolve().parents[2] / "openapi.yaml"
SCHEMA = schemathesis.openapi.from_path(SPEC_PATH)
SPEC = SCHEMA.raw_schema
# Whether an answer is one the spec describes: status, media type, headers, body.
CONFORMANCE = [status_code_conformance, content_type_conformance,
               response_headers_conformance, response_schema_conformance]


def function_of(path: str) -> str:
    """The function that serves a path of the spec (its operations' one tag)."""
    (tag,) = {tuple(op["tags"]) for method, op in SPEC["paths"][path].items()
              if isinstance(op, dict) and "tags" in op}
    return tag[0]


def direct_paths(path: str) -> list[str]:
    """The path and its aliases on the function's own URL (`x-direct-paths`)."""
    return [path, *SPEC["paths"][path].get("x-direct-paths", [])]


def conforms(path: str, method: str, response) -> None:
    """`response` (from `requests`) is one that `method path` documents; raises otherwise."""
    SCHEMA[path][method].Case().validate_response(response, checks=CONFORMANCE)


def event_names(text: str) -> list[str]:
    """The `event:` names of an SSE body, in order."""
    return [block.partition("\n")[0].removeprefix("event: ")
            for block in text.split("\n\n") if block]


def assert_stream_order(text: str) -> None:
    """`delta`* then exactly one `done` or `error`, last (ChatEvent's description: JSON Schema
    validates each event, not their order)."""
    events = event_names(text)
    assert events and events[-1] in ("done", "error"), events[-3:]
    assert set(events[:-1]) <= {"delta"}, events


def conforms_to(component: str, status: int, headers, body: bytes) -> None:
    """An answer matches components/responses/<component>: its `x-status`, its required
    headers and their schemas, and its JSON body's schema."""
    definition = SPEC["components"]["responses"][component]
    assert status == definition["x-status"], (component, status)
    for name, header in definition.get("headers", {}).items():
        header = _resolve(header)
        value = headers.get(name)
        if value is None:
            assert not header.get("required"), f"{component}: no {name} header"
            continue
        if header["schema"].get("type") == "integer":
            value = int(value)
        _validator(header["schema"]).validate(value)
    schema = definition["content"]["application/json"]["schema"]
    _validator(schema).validate(json.loads(body))


def _resolve(item: dict) -> dict:
    while "$ref" in item:
        *_, section, name = item["$ref"].split("/")
        item = SPEC["components"][section][name]
    return item


def _validator(schema: dict) -> jsonschema_rs.Validator:
    # The schema with the spec's components beside it, so that its $refs resolve.
    return jsonschema_rs.Draft202012Validator({**schema, "components": SPEC["components"]})
