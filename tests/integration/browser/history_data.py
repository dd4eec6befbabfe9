"""History export documents for the browser tests, the screenshots and the benchmark: the JSON
format that hosting/src/history/transfer.js exports and imports (format "jette-history",
version 1), built here so a test can seed a conversation without spending chat requests."""

from __future__ import annotations

import datetime
import json
import uuid

FORMAT = {"format": "jette-history", "version": 1}


def iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{moment.microsecond // 1000:03d}Z"


def conversation(title: str, turns: list[tuple[str, str]], at: datetime.datetime) -> dict:
    """One conversation: `turns` are (question, answer) pairs, a minute apart, ending at `at`."""
    messages = []
    start = at - datetime.timedelta(minutes=len(turns))
    for k, (question, answer) in enumerate(turns):
        moment = iso(start + datetime.timedelta(minutes=k))
        messages.append({"id": str(uuid.uuid4()), "role": "user", "text": question,
                         "state": "done", "createdAt": moment, "updatedAt": moment})
        messages.append({"id": str(uuid.uuid4()), "role": "model", "text": answer,
                         "state": "done", "finishReason": "STOP", "createdAt": moment,
                         "updatedAt": moment})
    return {"id": str(uuid.uuid4()), "title": title, "createdAt": iso(start), "updatedAt": iso(at),
            "messages": messages}


def export_document(conversations: list[dict]) -> dict:
    """The whole export, newest conversation first (as the app writes it)."""
    ordered = sorted(conversations, key=lambda c: c["updatedAt"], reverse=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    return {**FORMAT, "exportedAt": iso(now), "conversations": ordered}


def export_bytes(conversations: list[dict]) -> bytes:
    return json.dumps(export_document(conversations)).encode()


def ago(**delta) -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(**delta)
