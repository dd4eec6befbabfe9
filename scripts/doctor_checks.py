"""The doctor's checks of each deployed function (its identity, settings, origins, App Check mode
and secret bindings) and of each secret (its versions and who may read it); scripts/doctor.py runs
them. What each function reads, and which secrets, comes from functions/core/settings.py.
"""

from __future__ import annotations

import argparse
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)
sys.path.insert(1, os.path.join(os.path.dirname(_HERE), "functions"))
import manage_secrets as tool  # noqa: E402  (the secrets tool beside this file)
from core.environment import Environment  # noqa: E402  (stdlib only)
from core.settings import FUNCTIONS, SETTINGS, ConfigError, secrets_of  # noqa: E402

SECRETS_OF = {fn: secrets_of(fn) for fn in FUNCTIONS}
NEEDS_ORIGINS = SETTINGS["ALLOWED_ORIGINS"].required_by
APP_CHECKED = SETTINGS["APP_CHECK"].functions
DEV_ONLY = tuple(name for name, entry in SETTINGS.items() if entry.source == "development")
MAX_INSTANCES = {"chat": 5, "auth": 3, "health": 2}  # deploy.sh's defaults


def require_auth_state(env: dict) -> str:
    """"on", "off" or "invalid": REQUIRE_AUTH as the function reads it (unset means on)."""
    try:
        return "on" if Environment(env).value("REQUIRE_AUTH") else "off"
    except ConfigError:
        return "invalid"


def app_check_mode(env: dict) -> str | None:
    """APP_CHECK as the function reads it (unset or blank means off); None: it refuses to start."""
    try:
        return Environment(env).value("APP_CHECK")
    except ConfigError:
        return None


def check_function(report, name: str, data: dict, args) -> None:
    service = data.get("serviceConfig") or {}
    env = service.get("environmentVariables") or {}
    update = (f"gcloud run services update {name} --region {args.region} "
              f"--project {args.project}")
    account = service.get("serviceAccountEmail") or ""
    shared = [other for other, sa in args.accounts.items() if other != name and sa == account]
    default = (not account or account.endswith("-compute@developer.gserviceaccount.com")
               or account == f"{args.project}@appspot.gserviceaccount.com")
    report.check(not default and not shared,
                 f"{name}: runs as " + ("the default service account" if default else
                                        f"{account}, shared with {', '.join(shared)}" if shared
                                        else f"its own service account {account}"),
                 f"./deploy.sh {name} --project {args.project} (one service account per function)")
    report.check(env.get("APP_ENV") == "production",
                 f"{name}: APP_ENV=production" if env.get("APP_ENV") == "production" else
                 f"{name}: APP_ENV is {'missing' if 'APP_ENV' not in env else 'not production'}",
                 f"{update} --update-env-vars APP_ENV=production")
    if name == "chat" and not args.allow_anonymous:
        state = {"on": "on", "off": "false: anyone can chat on your bill",
                 "invalid": "not true or false (the function refuses to start)"}[
                     require_auth_state(env)]
        report.check(state == "on", f"{name}: REQUIRE_AUTH is {state}",
                     f"{update} --update-env-vars REQUIRE_AUTH=true (and REQUIRE_AUTH=true in "
                     "deploy.env), or pass --allow-anonymous if intended")
    bad = [v for v in DEV_ONLY if v in env]
    bad += [v for v in ("LOG_LEVEL", "GUNICORN_LOG_LEVEL") if env.get(v, "").lower() == "debug"]
    report.check(not bad, f"{name}: " + (f"development-only settings {', '.join(bad)}" if bad
                                         else "no emulator, debug or stand-in settings"),
                 f"{update} --remove-env-vars {','.join(bad)}")
    check_origins(report, name, env, update, args)
    if name in APP_CHECKED:
        mode = args.app_check[name] = app_check_mode(env)
        report.check(mode is not None, f"{name}: APP_CHECK " + (
            mode or "is not off, monitor or enforce (the function refuses to start)"),
            f"{update} --update-env-vars APP_CHECK=off (and APP_CHECK in deploy.env)")
    most = service.get("maxInstanceCount") or 0
    report.check(int(most) > 0, f"{name}: max instances {most or 'not set (unbounded cost)'}",
                 f"{update} --max-instances {MAX_INSTANCES[name]}")
    check_function_secrets(report, name, service, update, args)


def check_origins(report, name: str, env: dict, update: str, args) -> None:
    want = sorted(args.origins)
    if "ALLOWED_ORIGINS" not in env and name not in NEEDS_ORIGINS:
        report.check(True, f"{name}: no ALLOWED_ORIGINS (not needed)")
        return
    have = [o.strip() for o in env.get("ALLOWED_ORIGINS", "").split(",") if o.strip()]
    fix = f"{update} --update-env-vars '^@^ALLOWED_ORIGINS={','.join(want)}'"
    if not have:
        report.check(False, f"{name}: ALLOWED_ORIGINS missing", fix)
    elif "*" in "".join(have) or any(not o.startswith("https://") for o in have):
        report.check(False, f"{name}: ALLOWED_ORIGINS has a wildcard or a non-https origin", fix)
    else:
        extra, missing = sorted(set(have) - set(want)), sorted(set(want) - set(have))
        report.check(not extra and not missing, f"{name}: ALLOWED_ORIGINS " + (
            f"is exactly {', '.join(want)}" if not extra and not missing else
            "differs: " + "; ".join(filter(None, (extra and f"unexpected {', '.join(extra)}",
                                                  missing and f"missing {', '.join(missing)}")))),
            fix + " (or pass the extra origins with --origin)")


def check_function_secrets(report, name: str, service: dict, update: str, args) -> None:
    env = service.get("environmentVariables") or {}
    refs = {s.get("secret", ""): s for s in service.get("secretEnvironmentVariables") or []}
    refs.update({s.get("secret", ""): s for s in service.get("secretVolumes") or []})
    args.uses.update({(name, secret): str(ref.get("version", "latest"))
                      for secret, ref in refs.items()})
    plain = [key for key in tool.NAMES if key in env]
    extra = sorted(set(refs) - set(SECRETS_OF[name]))
    missing = sorted(set(SECRETS_OF[name]) - set(refs))
    if plain:
        report.check(False, f"{name}: {', '.join(plain)} set as a plain environment variable",
                     f"{update} --remove-env-vars {','.join(plain)}; then ./deploy.sh {name} "
                     f"--project {args.project} and rotate it (it was exposed)")
    wanted = ", ".join(SECRETS_OF[name]) or "none"
    report.check(not extra and not missing, f"{name}: secrets " + (
        f"{wanted}" + (" from Secret Manager" if refs else "") if not extra and not missing else
        f"{', '.join(refs) or 'none'}, but it needs {wanted}"),
        f"{update} --remove-secrets {','.join(extra)}" if extra else
        f"./deploy.sh {name} --project {args.project}")


def check_secret(report, client, name: str, args) -> None:
    from google.api_core import exceptions

    create = f".venv/bin/python scripts/manage_secrets.py create --project {args.project}"
    try:
        states = dict(tool.versions(client, args.project, name))
        policy = client.get_iam_policy(request={
            "resource": f"projects/{args.project}/secrets/{name}",
            "options": {"requested_policy_version": 3}})
    except exceptions.NotFound:
        report.check(False, f"secret {name} does not exist", create)
        return
    except Exception as error:  # one line per check, never a traceback
        why = tool.explain(error, argparse.Namespace(project=args.project, name=name))
        text, _, fix = why.partition(" — fix: ")
        report.check(False, f"secret {name}: {text}", fix or "retry; check the network")
        return
    live = [n for n, state in states.items() if state == tool.ENABLED]
    used = {fn: v for (fn, secret), v in args.uses.items() if secret == name}
    dead = {fn: v for fn, v in used.items() if states.get(
        max(states, default=0) if v == "latest" else int(v) if v.isdigit() else 0) != tool.ENABLED}
    if not live:
        report.check(False, f"secret {name}: no enabled version", create)
    elif dead:
        uses = ", ".join(f"{fn} uses version {v}" for fn, v in dead.items())
        report.check(False, f"secret {name}: {uses}, not enabled",
                     "; ".join(f"./deploy.sh {fn} --project {args.project}" for fn in dead))
    else:
        report.check(True, f"secret {name}: version {max(live)} enabled")
    readers = [fn for fn in FUNCTIONS if name in SECRETS_OF[fn]]
    if any(fn not in args.accounts for fn in readers):
        report.check(False, f"secret {name}: readers unknown (a function was not described)",
                     "fix the function lines above, then run doctor again")
        return
    want = {f"serviceAccount:{args.accounts[fn]}" for fn in readers}
    have = {m for b in policy.bindings if b.role == tool.ACCESSOR for m in b.members}
    extra, missing = sorted(have - want), sorted(want - have)
    fixes = [f"gcloud secrets remove-iam-policy-binding {name} --project {args.project} "
             f"--member {m} --role {tool.ACCESSOR}" for m in extra]
    fixes += [f".venv/bin/python scripts/manage_secrets.py bind {name} --project {args.project} "
              f"--member {m}" for m in missing]
    report.check(not fixes, f"secret {name}: " + (
        f"readable only by {' and '.join(readers)}" if not fixes else "; ".join(filter(None, (
            extra and f"also readable by {', '.join(extra)}",
            missing and f"not readable by {', '.join(missing)}")))), "; ".join(fixes))
