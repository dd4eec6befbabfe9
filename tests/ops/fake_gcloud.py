"""A stand-in for the `gcloud` commands scripts/doctor.py runs, answering from a JSON state file.

FAKE_GCLOUD_STATE names the state ({"functions": {name: describe-JSON}, "ttls": [...],
"project_policy": {...}, "metrics", "policies", "channels", "budgets": [...], "billing_account"});
each call's argv is appended to FAKE_GCLOUD_LOG as a JSON line.
"""

import json
import os
import sys

args = sys.argv[1:]
with open(os.environ["FAKE_GCLOUD_LOG"], "a") as log:
    log.write(json.dumps(args) + "\n")
if "--format=json" not in args or "--project" not in args:
    sys.exit("ERROR: (gcloud) the doctor must ask for --format=json and name --project")
project = args[args.index("--project") + 1]
with open(os.environ["FAKE_GCLOUD_STATE"]) as source:
    state = json.load(source)

if args[:2] == ["functions", "describe"]:
    name = args[2]
    if "--gen2" not in args or "--region" not in args or name not in state["functions"]:
        sys.exit(f"ERROR: (gcloud.functions.describe) NOT_FOUND: Resource 'projects/{project}/"
                 f"locations/{args[args.index('--region') + 1]}/functions/{name}' was not found")
    answer = state["functions"][name]
elif args[:4] == ["firestore", "fields", "ttls", "list"]:
    answer = state["ttls"]
elif args[:2] == ["projects", "get-iam-policy"]:
    answer = state["project_policy"]
elif args[:3] == ["logging", "metrics", "list"] or args[:4] in (
        ["alpha", "monitoring", "policies", "list"], ["beta", "monitoring", "channels", "list"]):
    answer = state[args[1] if args[0] == "logging" else args[2]]
    if answer is None:  # None: the caller may not read them
        sys.exit(f"ERROR: (gcloud.{'.'.join(args[:args.index('list') + 1])}) PERMISSION_DENIED")
elif args[:3] == ["billing", "budgets", "list"]:
    account = args[args.index("--billing-account") + 1]
    if account != state["billing_account"]:
        sys.exit(f"ERROR: (gcloud.billing.budgets.list) PERMISSION_DENIED: billingAccounts/{account}")
    answer = state["budgets"]
else:
    print(f"ERROR: (gcloud) Invalid choice: {args[:2]}", file=sys.stderr)
    sys.exit(2)
print(json.dumps(answer, indent=2))
