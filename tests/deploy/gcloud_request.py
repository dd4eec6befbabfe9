"""Run under gcloud's own Python: `python gcloud_request.py SDK_ROOT ARGS...` (ARGS as after
`gcloud`, with --access-token-file=FILE so that no account is needed).

The real gcloud CLI parses the command line and builds its requests to Google's APIs; none is
sent. Each request is printed instead, one JSON line with its API method: a read of an IAM policy
answers an empty policy (so an add-iam-policy-binding goes on to write its binding), and the first
other call ends the run. Only that one step, where the request would leave, is replaced.
"""

import json
import os
import sys

SDK_ROOT = sys.argv.pop(1)
sys.path.insert(0, os.path.join(SDK_ROOT, "lib"))

import gcloud  # noqa: E402  (gcloud's lib/gcloud.py: the CLI's entry point)
from apitools.base.py import base_api, encoding  # noqa: E402


def show_request(service, method_config, request, global_params=None, **transfer):
    print(json.dumps({"method": method_config.method_id,
                      "request": json.loads(encoding.MessageToJson(request))}), flush=True)
    if method_config.method_id.endswith(".getIamPolicy"):
        return getattr(service.client.MESSAGES_MODULE, method_config.response_type_name)()
    os._exit(0)  # past gcloud's own handling: the request is all this run is for


base_api.BaseApiService._RunMethod = show_request  # every apitools call of every gcloud command
sys.argv[0] = "gcloud"
gcloud.main()
