"""openapi.yaml is the contract: a valid OpenAPI 3.1 document that names every route and error
code the functions have, and that schemathesis holds the running functions to (valid and invalid
requests generated from it, each sent to every path that serves its operation)."""

from __future__ import annotations

import ast
import pathlib

import jsonschema_rs
import pytest
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import negative_data_rejection, unsupported_method

from tests.contract.openapi_spec import (CONFORMANCE, SCHEMA, SPEC, assert_stream_order,
                                         direct_paths, function_of)
from tests.integration.harness import ROOT

from core.errors import Code  # noqa: E402  (functions/ is on the path: the harness puts it there)

# No 5xx; every answer documented; invalid input refused; undeclared methods 405 with Allow.
CHECKS = [not_a_server_error, *CONFORMANCE, negative_data_rejection, unsupported_method]
HEADER_OF_CODE = {"WWW-Authenticate", "Allow", "Retry-After"}


def operations():
    """(path, METHOD, operation) of every operation in the spec."""
    for path, item in SPEC["paths"].items():
        for method, operation in item.items():
            if method in ("get", "head", "post", "put", "patch", "delete", "options"):
                yield path, method.upper(), operation


def error_codes(response: dict) -> list[str]:
    """The codes an error response of components/responses allows."""
    return response["content"]["application/json"]["schema"]["properties"]["error"][
        "properties"]["code"]["enum"]


def test_the_spec_is_valid_openapi_3_1():
    assert SPEC["openapi"].startswith("3.1.")
    SCHEMA.validate()  # the OpenAPI 3.1 schema of the document
    for name, schema in SPEC["components"]["schemas"].items():
        assert jsonschema_rs.meta.is_valid(schema), name  # each one valid JSON Schema 2020-12
    assert {function_of(path) for path in SPEC["paths"]} == {"chat", "auth", "health"}


def test_the_spec_has_the_error_table_of_the_code():
    assert SPEC["components"]["schemas"]["ErrorCode"]["enum"] == [code.value for code in Code]
    responses = {name: response for name, response in SPEC["components"]["responses"].items()
                 if response["x-status"] >= 400}
    listed = [code for response in responses.values() for code in error_codes(response)]
    assert sorted(listed) == sorted(code.value for code in Code)  # each code in one response
    for name, response in responses.items():
        for code in map(Code, error_codes(response)):
            assert code.status == response["x-status"], (name, code)
            extra = {header for header in response.get("headers", {}) if header in HEADER_OF_CODE}
            assert extra == ({code.header} if code.header else set()), (name, code)
    for path, method, operation in operations():
        for status, response in operation["responses"].items():
            if "$ref" in response:  # an entry of components/responses, under its own status
                component = SPEC["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
                assert int(status) == component["x-status"], (method, path, status)


def test_the_spec_has_every_route_of_the_functions():
    """Each @ENDPOINT.route(...) of functions/<name>/main.py is one path of the spec (with
    its x-direct-paths) with exactly its methods."""
    routes = set()
    for main in sorted(pathlib.Path(ROOT, "functions").glob("*/main.py")):
        for node in ast.walk(ast.parse(main.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "route"):
                (methods,) = [ast.literal_eval(kw.value) for kw in node.keywords
                              if kw.arg == "methods"]
                paths = frozenset(ast.literal_eval(arg) for arg in node.args)
                routes.add((main.parent.name, paths, frozenset(methods)))
    documented = {(function_of(path), frozenset(direct_paths(path)),
                   frozenset(method for each, method, _ in operations() if each == path))
                  for path in SPEC["paths"]}
    assert routes == documented


@SCHEMA.parametrize()
@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_every_answer_is_in_the_spec(case, deployed):
    url = deployed.url[function_of(case.operation.path)]
    for path in direct_paths(case.operation.path):
        case.path = path  # the same operation, on each path its function serves it at
        response = case.call_and_validate(base_url=url, headers=deployed.bearer, checks=CHECKS,
                                          timeout=30)
        if response.headers.get("Content-Type", "").startswith("text/event-stream"):
            assert_stream_order(response.text)


@pytest.mark.parametrize("events", [("done", "delta"), ("delta",), ("done", "error"), ()])
def test_the_stream_order_check_refuses_a_wrong_order(events):
    assert_stream_order("event: delta\ndata: {}\n\nevent: done\ndata: {}\n\n")
    with pytest.raises(AssertionError):
        assert_stream_order("".join(f"event: {name}\ndata: {{}}\n\n" for name in events))
