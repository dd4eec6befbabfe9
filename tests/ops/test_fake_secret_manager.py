"""devtools/fake_secret_manager.py answers the real client library as Secret Manager does."""

from __future__ import annotations

import os
from unittest import mock

import google_crc32c
import pytest
from google.api_core import exceptions

from .conftest import PROJECT, load_script


@pytest.fixture
def client(fake):
    with mock.patch.dict(os.environ, {"SECRET_MANAGER_ENDPOINT": fake.url}):
        return load_script("manage_secrets").make_client()


def test_access_returns_the_payload_with_its_checksum(client, fake):
    fake.fake.put(PROJECT, "A", b"first", b"second")
    answer = client.access_secret_version(name=f"projects/{PROJECT}/secrets/A/versions/latest")
    assert answer.payload.data == b"second"
    assert answer.payload.data_crc32c == google_crc32c.value(b"second")
    assert answer.name.endswith("/secrets/A/versions/2")  # names carry the project number
    client.disable_secret_version(name=f"projects/{PROJECT}/secrets/A/versions/2")
    with pytest.raises(exceptions.BadRequest, match="DISABLED state"):
        client.access_secret_version(name=f"projects/{PROJECT}/secrets/A/versions/latest")


def test_a_corrupted_payload_is_refused(client, fake):
    fake.fake.put(PROJECT, "A")
    with pytest.raises(exceptions.BadRequest, match="Checksum mismatch"):
        client.add_secret_version(parent=f"projects/{PROJECT}/secrets/A",
                                  payload={"data": b"value", "data_crc32c": 12345})
    assert fake.fake.versions(PROJECT, "A") == {}


def test_lists_page_and_creating_twice_conflicts(client, fake):
    for name in ("A", "B", "C"):
        client.create_secret(parent=f"projects/{PROJECT}", secret_id=name,
                             secret={"replication": {"automatic": {}}})
    pages = client.list_secrets(request={"parent": f"projects/{PROJECT}", "page_size": 2}).pages
    assert [[s.name.rsplit("/", 1)[1] for s in page.secrets] for page in pages] == [["A", "B"],
                                                                                     ["C"]]
    # Over REST a 409 is api_core's Conflict (AlreadyExists is what gRPC would raise).
    with pytest.raises(exceptions.Conflict, match="already exists"):
        client.create_secret(parent=f"projects/{PROJECT}", secret_id="A",
                             secret={"replication": {"automatic": {}}})


def test_a_stale_policy_etag_is_refused(client, fake):
    fake.fake.put(PROJECT, "A")
    resource = f"projects/{PROJECT}/secrets/A"
    stale = client.get_iam_policy(request={"resource": resource})
    stale.bindings.add(role="roles/secretmanager.secretAccessor", members=["user:a@example.com"])
    client.set_iam_policy(request={"resource": resource, "policy": stale})
    with pytest.raises(exceptions.Conflict, match="concurrent policy changes"):
        client.set_iam_policy(request={"resource": resource, "policy": stale})
    assert fake.fake.accessors(PROJECT, "A") == ["user:a@example.com"]
    assert ("POST", f"/v1/projects/{PROJECT}/secrets") not in fake.fake.requests  # put() is local
