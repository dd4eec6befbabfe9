"""Fixtures shared by the production-mode tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest



@pytest.fixture(scope="session")
def ambient_credentials(tmp_path_factory) -> Path:
    """Cloud Functions always has Application Default Credentials (the runtime service account);
    firebase-admin loads them to build its auth client, though verifying tokens never uses them."""
    path = tmp_path_factory.mktemp("adc") / "application_default_credentials.json"
    path.write_text(json.dumps({"type": "authorized_user", "client_id": "test-client",
                                "client_secret": "test-secret", "refresh_token": "test-refresh"}))
    return path

