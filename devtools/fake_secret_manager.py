"""A local fake of Google Secret Manager's v1 REST API, as google-cloud-secret-manager's REST
transport calls it: secrets, versions (base64 payload + CRC32C), disable/enable, IAM policies.

In memory and thread-safe. It records each request's method and path, never a body (bodies carry
secret values, and nothing here prints or logs one). `python devtools/fake_secret_manager.py
--port N` serves it; tests call `serve()` and point SECRET_MANAGER_ENDPOINT at `.url`.
"""

from __future__ import annotations

import argparse
import base64
import copy
import datetime
import json
import re
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

__all__ = ["FakeSecretManager", "Server", "crc32c", "serve"]

ACCESSOR = "roles/secretmanager.secretAccessor"
_STATE_NUMBERS = {"ENABLED": 1, "DISABLED": 2, "DESTROYED": 3}
_ROUTE = re.compile(r"^/v1/projects/(?P<project>[^/:]+)/secrets"
                    r"(?:/(?P<secret>[^/:]+)(?P<versions>/versions(?:/(?P<version>[^/:]+))?)?)?"
                    r"(?::(?P<verb>[A-Za-z]+))?$")
_MEMBER = re.compile(r"^(user|serviceAccount|group|domain):\S+$|^allUsers$")


def _crc32c_entry(byte: int) -> int:
    for _ in range(8):
        byte = (byte >> 1) ^ 0x82F63B78 if byte & 1 else byte >> 1
    return byte


_CRC32C_TABLE = [_crc32c_entry(n) for n in range(256)]


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), the checksum Secret Manager keeps with each payload."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC32C_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


class ApiFailure(Exception):
    """An error answer in Google's JSON shape (the client maps it to google.api_core errors)."""

    def __init__(self, code: int, status: str, message: str, reason: str | None = None,
                 domain: str = "googleapis.com"):
        super().__init__(message)
        self.code = code
        self.body = {"error": {"code": code, "message": message, "status": status}}
        if reason:
            self.body["error"]["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                              "reason": reason, "domain": domain}]


class FakeSecretManager:
    """Every project's secrets, their versions and IAM policies."""

    def __init__(self):
        self._lock = threading.Lock()
        self._secrets: dict[tuple[str, str], dict] = {}  # (project id, secret id) -> record
        self._project_ids: dict[str, str] = {}  # project number -> id (names carry the number)
        self.requests: list[tuple[str, str]] = []  # (method, path): never a body
        self.refusal: str | None = None  # None, "permission_denied" or "api_disabled"

    # -- what tests read and arrange --------------------------------------------------------------
    def stored_values(self) -> list[bytes]:
        with self._lock:
            return [v["data"] for s in self._secrets.values() for v in s["versions"]]

    def versions(self, project: str, secret: str) -> dict[int, str]:
        with self._lock:
            record = self._record(project, secret)
            return {n: v["state"] for n, v in enumerate(record["versions"], 1)}

    def accessors(self, project: str, secret: str) -> list[str]:
        with self._lock:
            bindings = self._record(project, secret)["policy"].get("bindings", [])
            return sorted(m for b in bindings if b["role"] == ACCESSOR for m in b["members"])

    def put(self, project: str, secret: str, *values: bytes, accessors: tuple[str, ...] = ()):
        """Create `secret` if needed, add one enabled version per value, set accessor members."""
        with self._lock:
            record = self._secrets.setdefault((project, secret), _new_secret({"automatic": {}}))
            record["versions"] += [_new_version(value, True) for value in values]
            if accessors:
                record["policy"] = {"version": 1, "bindings": [{"role": ACCESSOR,
                                                                "members": sorted(accessors)}]}
                record["generation"] += 1

    # -- the API ----------------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict, body: dict) -> dict:
        with self._lock:
            self.requests.append((method, path))
            match = _ROUTE.match(path)
            if not match:
                raise ApiFailure(404, "NOT_FOUND", f"Unknown path {path}.")
            project, secret, version, verb = match.group("project", "secret", "version", "verb")
            project = self._project_ids.get(project, project)
            self._project_ids[_number(project)] = project
            self._refuse_if_asked(project, method)
            numeric = "enum-encoding=int" in query.get("$alt", "")  # the REST transport asks so
            if secret is None and method == "POST":
                return self._create(project, query.get("secretId", ""), body)
            if secret is None:
                names = sorted(s for p, s in self._secrets if p == project)
                return _page([_secret_json(project, s, self._secrets[(project, s)])
                              for s in names], query, "secrets")
            record = self._record(project, secret)
            if match.group("versions") is None:
                return self._secret_call(project, secret, record, (method, verb), body, numeric)
            if version is None:  # newest first, as the real API lists them
                return _page([_version_json(project, secret, n, v, numeric)
                              for n, v in reversed(list(enumerate(record["versions"], 1)))],
                             query, "versions")
            return self._version_call(project, secret, record, version, verb, numeric)

    def _refuse_if_asked(self, project: str, method: str) -> None:
        if self.refusal == "api_disabled":
            raise ApiFailure(403, "PERMISSION_DENIED", "Secret Manager API has not been used in "
                             f"project {_number(project)} before or it is disabled.",
                             "SERVICE_DISABLED")
        if self.refusal == "permission_denied":
            raise ApiFailure(403, "PERMISSION_DENIED", "Permission 'secretmanager.secrets."
                             f"{'get' if method == 'GET' else 'update'}' denied for resource "
                             f"'projects/{project}' (or it may not exist).",
                             "IAM_PERMISSION_DENIED", "iam.googleapis.com")

    def _record(self, project: str, secret: str) -> dict:
        if (project, secret) not in self._secrets:
            raise ApiFailure(404, "NOT_FOUND", f"Secret [{_name(project, secret)}] not found or "
                             "has no versions.")
        return self._secrets[(project, secret)]

    def _create(self, project: str, secret_id: str, body: dict) -> dict:
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,255}", secret_id) or "replication" not in body:
            raise ApiFailure(400, "INVALID_ARGUMENT", "Invalid secret id or missing replication.")
        if (project, secret_id) in self._secrets:
            raise ApiFailure(409, "ALREADY_EXISTS", f"Secret [{_name(project, secret_id)}] "
                             "already exists.")
        record = self._secrets[(project, secret_id)] = _new_secret(body["replication"])
        return _secret_json(project, secret_id, record)

    def _secret_call(self, project, secret, record, call, body, numeric) -> dict:
        if call == ("GET", None):
            return _secret_json(project, secret, record)
        if call == ("POST", "addVersion"):
            payload = body.get("payload") or {}
            data = base64.b64decode(payload.get("data", ""))
            if "dataCrc32c" in payload and int(payload["dataCrc32c"]) != crc32c(data):
                raise ApiFailure(400, "INVALID_ARGUMENT", "Checksum mismatch: the payload was "
                                 "corrupted in transit.")
            record["versions"].append(entry := _new_version(data, "dataCrc32c" in payload))
            return _version_json(project, secret, len(record["versions"]), entry, numeric)
        if call == ("GET", "getIamPolicy"):
            return _policy_json(record)
        if call == ("POST", "setIamPolicy"):
            policy = body.get("policy") or {}
            if "etag" in policy and policy["etag"] != _policy_json(record)["etag"]:
                raise ApiFailure(409, "ABORTED", "There were concurrent policy changes. Please "
                                 "retry the whole read-modify-write with exponential backoff.")
            if not all(_MEMBER.match(m) for b in policy.get("bindings", []) for m in b["members"]):
                raise ApiFailure(400, "INVALID_ARGUMENT", "Invalid member in the policy.")
            record["policy"] = {"version": policy.get("version", 1),
                                "bindings": copy.deepcopy(policy.get("bindings", []))}
            record["generation"] += 1
            return _policy_json(record)
        raise ApiFailure(404, "NOT_FOUND", f"Unknown method {call}.")

    def _version_call(self, project, secret, record, version, verb, numeric) -> dict:
        versions = record["versions"]
        number = len(versions) if version == "latest" else int(version) if version.isdigit() else 0
        if not 1 <= number <= len(versions) or verb not in (None, "access", "disable", "enable"):
            raise ApiFailure(404, "NOT_FOUND", f"Secret Version [{_name(project, secret)}/"
                             f"versions/{version}] not found.")
        entry, name = versions[number - 1], f"{_name(project, secret)}/versions/{number}"
        if verb == "access":
            if entry["state"] != "ENABLED":
                raise ApiFailure(400, "FAILED_PRECONDITION", f"Secret Version [{name}] is in "
                                 f"{entry['state']} state.")
            return {"name": name,
                    "payload": {"data": base64.b64encode(entry["data"]).decode(),
                                "dataCrc32c": str(crc32c(entry["data"]))}}
        if verb and entry["state"] != "DESTROYED":
            entry["state"] = "DISABLED" if verb == "disable" else "ENABLED"
        return _version_json(project, secret, number, entry, numeric)


def _number(project: str) -> str:
    """The project number the real API writes into names, stable per project id."""
    return str(100000000000 + zlib.crc32(project.encode()) % 900000000000)


def _name(project: str, secret: str) -> str:
    return f"projects/{_number(project)}/secrets/{secret}"


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _new_secret(replication: dict) -> dict:
    return {"replication": replication, "created": _now(), "versions": [], "policy": {},
            "generation": 1}


def _new_version(data: bytes, checksummed: bool) -> dict:
    return {"data": data, "state": "ENABLED", "created": _now(), "checksummed": checksummed}


def _secret_json(project: str, secret: str, record: dict) -> dict:
    return {"name": _name(project, secret), "replication": record["replication"],
            "createTime": record["created"], "etag": f'"{zlib.crc32(secret.encode()):x}"'}


def _version_json(project: str, secret: str, number: int, entry: dict, numeric: bool) -> dict:
    state = entry["state"]
    return {"name": f"{_name(project, secret)}/versions/{number}", "createTime": entry["created"],
            "state": _STATE_NUMBERS[state] if numeric else state, "etag": f'"{number}{state}"',
            "replicationStatus": {"automatic": {}},
            "clientSpecifiedPayloadChecksum": entry["checksummed"]}


def _policy_json(record: dict) -> dict:
    etag = base64.b64encode(b"BwY" + record["generation"].to_bytes(5, "big")).decode()
    policy = copy.deepcopy(record["policy"]) if record["policy"].get("bindings") else {}
    return {**policy, "etag": etag}


def _page(items: list, query: dict, key: str) -> dict:
    start, size = int(query.get("pageToken") or 0), int(query.get("pageSize") or 0) or 25000
    page = {key: items[start:start + size], "totalSize": len(items)}
    if start + size < len(items):
        page["nextPageToken"] = str(start + size)
    return page


class _Handler(BaseHTTPRequestHandler):
    def _serve(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        try:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else {}
            code, answer = 200, self.server.fake.handle(self.command, url.path, query, body)
        except ApiFailure as failure:
            code, answer = failure.code, failure.body
        except (ValueError, TypeError, KeyError):
            code, answer = 400, ApiFailure(400, "INVALID_ARGUMENT", "Invalid JSON payload.").body
        data = json.dumps(answer).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_DELETE = _serve

    def log_message(self, *args) -> None:  # requests are in fake.requests; bodies never logged
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default backlog of 5 resets connections under load

    def __init__(self, fake: FakeSecretManager, port: int = 0, host: str = "127.0.0.1"):
        super().__init__((host, port), _Handler)
        self.fake = fake
        self.url = f"http://{host}:{self.server_address[1]}"

    def close(self) -> None:
        self.shutdown()
        self.server_close()


def serve(port: int = 0, fake: FakeSecretManager | None = None) -> Server:
    """Start the fake in a background thread; `.url` is the SECRET_MANAGER_ENDPOINT value."""
    server = Server(fake or FakeSecretManager(), port)
    threading.Thread(target=server.serve_forever, args=(0.05,), name="fake-secret-manager",
                     daemon=True).start()
    return server


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8095)
    server = Server(FakeSecretManager(), parser.parse_args().port)
    print(f"fake Secret Manager: SECRET_MANAGER_ENDPOINT={server.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.server_close()
