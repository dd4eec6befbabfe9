# shellcheck shell=bash disable=SC2154  # deploy.sh's globals (the whole: test_shellcheck.py)
# Sourced by deploy.sh (never run on its own): Firebase Hosting. The web app is built, given its
# config.json, and deployed with firebase.json's CSP narrowed to the chat function's origin.

# With a reCAPTCHA Enterprise site key (APP_CHECK_SITE_KEY), the Hosting CSP gains exactly these
# (the web app's App Check: the reCAPTCHA script and frame, and the token exchange).
APP_CHECK_CSP=(
  "script-src https://www.google.com/recaptcha/ https://www.gstatic.com/recaptcha/"
  "frame-src https://www.google.com/recaptcha/ https://recaptcha.google.com/recaptcha/"
  "connect-src https://content-firebaseappcheck.googleapis.com"
)

# --- hosting ----------------------------------------------------------------------------------
deploy_hosting() {
  ask "<chat-url>" gcloud functions describe chat --gen2 --region="$region" --project="$project" \
    --format='value(serviceConfig.uri)' || answer=""
  [ -n "$answer" ] ||
    die "the chat function is not deployed in $region:" \
      "run ./deploy.sh chat --project $project first"
  local chat_url=$answer limits=() name
  for name in MAX_MESSAGE_CHARS MAX_HISTORY_MESSAGES MAX_REQUEST_BYTES; do
    [ -z "${conf[$name]:-}" ] || limits+=("$name=${conf[$name]}")
  done
  run npm --prefix hosting run build
  local app_config="{\"chatUrl\": \"${chat_url%/}/\"" csp_extra=() extra_text="" rule
  [ -z "$site_key" ] || app_config+=", \"appCheckSiteKey\": \"$site_key\""
  app_config+="}"
  [ ${#limits[@]} -eq 0 ] || app_config+=" with limits ${limits[*]}"
  if [ -n "$site_key" ]; then
    csp_extra=("${APP_CHECK_CSP[@]}")
    for rule in "${csp_extra[@]}"; do extra_text+=", ${rule%% *} += ${rule#* }"; done
  fi
  say "write hosting/dist/config.json: $app_config"
  say "write build/firebase.deploy.json: firebase.json with connect-src ${chat_url%/}," \
    "frame-src https://$project.firebaseapp.com, rewrites to $region," \
    "public = absolute hosting/dist$extra_text"
  if ! $dry_run; then
    "$PYTHON" - "$chat_url" "$project" "$region" "$site_key" "${limits[*]}" "${csp_extra[@]}" <<'PY'
"""Write hosting/dist/config.json and build/firebase.deploy.json (see deploy.sh)."""
import json
import pathlib
import sys
from urllib.parse import urlsplit

chat_url, project, region, site_key, limits, *csp_extra = sys.argv[1:]
limits = limits.split()
url = chat_url.strip().rstrip("/") + "/"
parts = urlsplit(url)
if parts.scheme != "https" or not parts.netloc or parts.path != "/":
    sys.exit(f"deploy: the chat function's URL is not an https origin: {chat_url!r}")
camel = {"MAX_MESSAGE_CHARS": "maxMessageChars", "MAX_HISTORY_MESSAGES": "maxHistoryMessages",
         "MAX_REQUEST_BYTES": "maxRequestBytes"}
app_config = {"chatUrl": url}
if limits:
    app_config["limits"] = {camel[k]: int(v) for k, v in (item.split("=", 1) for item in limits)}
if site_key:
    app_config["appCheckSiteKey"] = site_key
pathlib.Path("hosting/dist/config.json").write_text(json.dumps(app_config, indent=2) + "\n")


def narrow(csp, directive, wildcard, exact):
    rules = [rule.split() for rule in csp.split(";")]
    for tokens in rules:
        if tokens[:1] == [directive]:
            if wildcard not in tokens:
                sys.exit(f"deploy: firebase.json's CSP {directive} has no {wildcard} to narrow")
            tokens[:] = [exact if token == wildcard else token for token in tokens]
    return "; ".join(" ".join(tokens) for tokens in rules)


def extend(csp, directive, sources):
    rules = [rule.split() for rule in csp.split(";")]
    if not any(tokens[:1] == [directive] for tokens in rules):
        sys.exit(f"deploy: firebase.json's CSP has no {directive} to extend")
    for tokens in rules:
        if tokens[:1] == [directive]:
            tokens.extend(source for source in sources if source not in tokens)
    return "; ".join(" ".join(tokens) for tokens in rules)


config = json.loads(pathlib.Path("firebase.json").read_text())
hosting = config["hosting"]
hosting["public"] = str(pathlib.Path(hosting["public"]).resolve())  # --config moves the root
for rewrite in hosting.get("rewrites", []):
    if "run" in rewrite:
        rewrite["run"]["region"] = region
narrowed = 0
for rule in hosting.get("headers", []):
    for header in rule["headers"]:
        if header["key"] == "Content-Security-Policy":
            csp = narrow(header["value"], "connect-src", "https://*.a.run.app",
                         f"https://{parts.netloc}")
            csp = narrow(csp, "frame-src", "https://*.firebaseapp.com",
                         f"https://{project}.firebaseapp.com")
            for rule in csp_extra:  # App Check, only with a site key
                directive, *sources = rule.split()
                csp = extend(csp, directive, sources)
            header["value"] = csp
            narrowed += 1
if not narrowed:
    sys.exit("deploy: firebase.json has no Content-Security-Policy header to narrow")
pathlib.Path("build").mkdir(exist_ok=True)
pathlib.Path("build/firebase.deploy.json").write_text(json.dumps(config, indent=2) + "\n")
PY
  fi
  run "$FIREBASE" deploy --only hosting --project "$project" --config build/firebase.deploy.json
}
