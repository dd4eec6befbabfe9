"""Unit tests import the function code as it is staged: `core` as a package, chat's modules flat
(pyproject.toml's pytest `pythonpath`). Shared by tests/unit/core and tests/unit/chat."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest
from core.config import ENV_VARIABLES as CONFIG_VARS  # cleared before a staged function loads


@pytest.fixture
def restore_logging():
    """Undo handlers and levels that a function module's `log.configure` installs."""
    root, jette = logging.getLogger(), logging.getLogger("jette")
    saved = (list(root.handlers), root.level, list(jette.handlers), jette.level)
    yield
    root.handlers[:], jette.handlers[:] = saved[0], saved[2]
    root.setLevel(saved[1])
    jette.setLevel(saved[3])


@pytest.fixture(scope="module")
def staged_client(tmp_path_factory):
    """staged_client("health", APP_ENV="development", ...) -> a Flask test client of the function
    as functions-framework serves it, staged exactly as for deployment."""
    import functions_framework
    from stage_function import stage

    root, jette = logging.getLogger(), logging.getLogger("jette")
    saved_logging = (list(root.handlers), root.level, jette.level)
    saved_path, saved_main = list(sys.path), sys.modules.get("main")
    with pytest.MonkeyPatch.context() as mp:
        def make(name: str, **env: str):
            for var in CONFIG_VARS:
                mp.delenv(var, raising=False)
            for key, value in env.items():
                mp.setenv(key, value)
            mp.setenv("FUNCTION_TARGET", name)  # create_app sets it; undone with the rest
            main = stage(name, tmp_path_factory.mktemp("staged") / name)
            return functions_framework.create_app(name, str(main)).test_client()

        yield make
    root.handlers[:] = saved_logging[0]
    root.setLevel(saved_logging[1])
    jette.setLevel(saved_logging[2])
    sys.path[:] = saved_path
    if saved_main is None:
        sys.modules.pop("main", None)
    else:
        sys.modules["main"] = saved_main


@pytest.fixture
def captured():
    """The `jette` logger writing JSON lines into a StringIO; returns a reader of parsed lines."""
    from core.log import JsonFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("jette")
    saved = (logger.level, logger.propagate)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False

    def lines() -> list[dict]:
        raw = stream.getvalue()
        return [json.loads(line) for line in raw.split("\n") if line]

    lines.raw = stream.getvalue  # type: ignore[attr-defined]
    yield lines
    logger.removeHandler(handler)
    logger.setLevel(saved[0])
    logger.propagate = saved[1]
