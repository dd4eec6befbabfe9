"""Run under gcloud's own Python: `python gcloud_alert_policy.py SDK_ROOT < policies`, one JSON
policy a line (deploy.sh's `--policy` values).

Reads each policy as `gcloud alpha monitoring policies create --policy=...` does, into the
Monitoring API's AlertPolicy message (gcloud's util.MessageFromString), and prints, one JSON line
each, the fields that message does not know (a misspelt field or an enum value the API does not
have lands there: gcloud would send it on and the API refuse it) and the policy as gcloud would
send it. Nothing calls Google.
"""

import json
import os
import sys

SDK_ROOT = sys.argv.pop(1)
sys.path.insert(0, os.path.join(SDK_ROOT, "lib"))

import gcloud  # noqa: E402,F401  (gcloud's lib/gcloud.py: puts its bundled packages on the path)
from apitools.base.protorpclite import messages  # noqa: E402
from apitools.base.py import encoding  # noqa: E402
from googlecloudsdk.api_lib.util import apis  # noqa: E402
from googlecloudsdk.command_lib.monitoring import util  # noqa: E402


def unknown(message, path: str) -> list[str]:
    """Every field under `message` that its schema does not define (unknown enum values too)."""
    found = [f"{path}.{name}" for name in message.all_unrecognized_fields()]
    for field in message.all_fields():
        value = message.get_assigned_value(field.name)
        if isinstance(field, messages.MessageField) and value is not None:
            for item in value if field.repeated else [value]:
                if isinstance(item, messages.Message):
                    found += unknown(item, f"{path}.{field.name}")
    return found


AlertPolicy = apis.GetMessagesModule("monitoring", "v3").AlertPolicy
for text in sys.stdin.read().splitlines():
    policy = util.MessageFromString(text, AlertPolicy, "AlertPolicy")
    print(json.dumps({"unknown": unknown(policy, "policy"),
                      "sent": json.loads(encoding.MessageToJson(policy))}))
