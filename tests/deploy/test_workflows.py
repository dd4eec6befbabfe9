"""The GitHub workflows (.github/workflows): jactionlint (actionlint's checks, with shellcheck on
every `run:` script) finds nothing, and what matters is held here too: CI is the README's test
command, unchanged; no JSON key; an OIDC token only for the deploy job, in the environment and on
the refs that ci-identity's provider admits; every action pinned to a commit; inputs reach the
scripts only through the environment."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
import yaml

from .sandbox import GOLDEN, ROOT, commands, flags

# A service-account key file: its "private_key" field holding a PEM private key (written only as
# a pattern here, so that neither this file nor a secret scanner takes it for one).
SERVICE_ACCOUNT_KEY = re.compile(r'"private_key"\s*:\s*"-----BEGIN [A-Z ]*PRIVATE[ ]KEY-----')
WORKFLOWS = ROOT / ".github" / "workflows"
JACTIONLINT = ROOT / ".venv" / "bin" / "jactionlint"
PINNED = re.compile(r"^\s*(?:-\s+)?uses:\s+([\w.-]+/[\w.-]+)@([0-9a-f]{40})\s+#\s+v\d+\.\d+\.\d+$")


def lint(*args: str, text: str | None = None) -> list[dict]:
    """jactionlint's findings (its pedantic profile: every rule that needs no network)."""
    if shutil.which("shellcheck") is None:  # without it, run: scripts would go unchecked
        pytest.fail("shellcheck is not installed: ./scripts/setup.sh --test-services says how")
    result = subprocess.run([str(JACTIONLINT), "--profile=pedantic", "--no-online", "--no-color",
                             "--no-hints", "--format=json", *args], cwd=ROOT, input=text,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode in (0, 1) and not result.stderr, result.stderr
    return json.loads(result.stdout)


def names() -> list[str]:
    return sorted(path.name for path in WORKFLOWS.glob("*.yml"))


def workflow(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True)  # YAML 1.1 reads the key `on` as true
    return data


def readme_test_command() -> str:
    [line] = [line for line in (ROOT / "README.md").read_text().splitlines()
              if line.endswith("(CI runs exactly this)")]
    return line.split("#", 1)[0].strip()


def test_every_workflow_and_dependabot_lints_clean():
    assert {"ci.yml", "deploy.yml"} <= set(names())
    findings = lint(*(f".github/workflows/{name}" for name in names()), ".github/dependabot.yml")
    assert findings == [], "\n".join(f"{f['filepath']}:{f['line']}: {f['message']} [{f['id']}]"
                                     for f in findings)


def test_the_linter_finds_a_broken_workflow():
    """What makes the clean run above mean something: shellcheck runs on the scripts, and an
    expression inside a script is caught."""
    broken = ("on: workflow_dispatch\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n"
              "      - run: echo $FOO ${{ github.event.inputs.x }}\n")
    found = {finding["id"] for finding in lint("-", text=broken)}
    assert {"shellcheck", "template-injection", "missing-permissions",
            "missing-timeout"} <= found


def test_ci_runs_the_readme_test_command_unchanged():
    command = readme_test_command()
    assert command == "./scripts/test.sh"
    [job] = workflow("ci.yml")["jobs"].values()
    assert job["steps"][-1]["run"] == command and job["steps"][-1]["env"] == {"CI": "true"}
    assert all(step.get("run") != command for step in job["steps"][:-1])
    assert f"\nexec {command}\n" in (ROOT / ".ci" / "run").read_text()  # and CI here


def test_ci_runs_on_every_push_and_pull_request_and_can_only_read():
    ci = workflow("ci.yml")
    assert ci["on"] == {"push": None, "pull_request": None}
    assert ci["permissions"] == {"contents": "read"}
    assert ci["concurrency"]["cancel-in-progress"] is True
    [job] = ci["jobs"].values()
    assert job["runs-on"] == "ubuntu-24.04" and job["timeout-minutes"] == 90
    assert "permissions" not in job


def test_no_json_key_anywhere():
    texts = {path.name: path.read_text() for path in WORKFLOWS.glob("*.yml")}
    assert all("credentials_json" not in text for text in texts.values())
    [auth] = [step for step in workflow("deploy.yml")["jobs"]["deploy"]["steps"]
              if step.get("uses", "").startswith("google-github-actions/auth@")]
    assert auth["with"] == {
        "workload_identity_provider": "${{ vars.GCP_WORKLOAD_IDENTITY_PROVIDER }}",
        "service_account": "${{ vars.GCP_DEPLOYER_SERVICE_ACCOUNT }}"}
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                             check=True).stdout.decode().split("\0")
    for name in filter(None, tracked):
        path = ROOT / name
        if path.is_file() and path.stat().st_size < 1_000_000:
            text = path.read_bytes().decode("utf-8", "replace")
            assert not SERVICE_ACCOUNT_KEY.search(text), name


def test_only_the_deploy_job_gets_an_oidc_token():
    assert all("id-token" not in json.dumps(workflow(name)) for name in names()
               if name != "deploy.yml")
    deploy = workflow("deploy.yml")
    assert deploy["permissions"] == {}
    [(name, job)] = deploy["jobs"].items()
    assert job["permissions"] == {"contents": "read", "id-token": "write"}


def test_the_deploy_job_is_one_that_ci_identity_admits():
    """The provider's condition (ci-identity's plan) and the job: this repository's production
    environment, on main (a dispatch) or a v* tag; the variables it reads are those that
    ci-identity prints."""
    deploy = workflow("deploy.yml")
    job = deploy["jobs"]["deploy"]
    assert job["environment"] == "production"
    assert deploy["on"]["push"] == {"tags": ["v*"]} and "workflow_dispatch" in deploy["on"]
    plan = (GOLDEN / "ci-identity.txt").read_text()
    [create] = [argv for argv in commands(plan) if "create-oidc" in argv]
    condition = flags(create)["--attribute-condition"]
    assert "assertion.environment == 'production'" in condition
    assert "assertion.ref.startsWith('refs/tags/v')" in condition
    assert "assertion.ref == 'refs/heads/main'" in condition
    printed = re.findall(r"^#   (GCP_[A-Z_]+)=", plan, re.MULTILINE)
    used = set(re.findall(r"vars\.(\w+)", (WORKFLOWS / "deploy.yml").read_text()))
    assert used == {*printed, "DEPLOY_ENV"} and len(printed) == 4


def test_the_deploy_targets_are_deploy_sh_targets():
    deploy = workflow("deploy.yml")
    options = deploy["on"]["workflow_dispatch"]["inputs"]["target"]["options"]
    assert options == ["all", "chat", "auth", "health", "hosting"]
    targets = re.search(r"^    ([a-z|-]+)\) target=\$1 ;;$", (ROOT / "deploy.sh").read_text(),
                        re.MULTILINE)[1].split("|")
    assert set(options) <= set(targets)
    [step] = [s for s in deploy["jobs"]["deploy"]["steps"] if s.get("name") == "Deploy"]
    assert step["run"] == './deploy.sh "$TARGET" --project "$GCP_PROJECT_ID" --region "$GCP_REGION"'
    assert step["env"]["TARGET"] == "${{ inputs.target || 'all' }}"


def test_scripts_take_no_expression_only_environment_variables():
    """An input or variable expanded into a script is a script injection; through env it is
    only ever data."""
    for name in names():
        for job in workflow(name)["jobs"].values():
            for step in job["steps"]:
                assert "${{" not in step.get("run", ""), (name, step)


def test_every_action_is_pinned_to_a_commit_with_its_release():
    pins: dict[str, set[str]] = {}
    for path in WORKFLOWS.glob("*.yml"):
        for line in path.read_text().splitlines():
            if re.match(r"^\s*(-\s+)?uses:", line):
                match = PINNED.match(line)
                assert match, f"{path.name}: not pinned to a commit with its release: {line}"
                pins.setdefault(match[1], set()).add(line.split("@", 1)[1])
    assert {"actions/checkout", "google-github-actions/auth"} <= set(pins)
    assert all(len(versions) == 1 for versions in pins.values()), pins  # one pin per action
    gcloud = {job_step["with"]["version"] for name in names()
              for job in workflow(name)["jobs"].values() for job_step in job["steps"]
              if job_step.get("uses", "").startswith("google-github-actions/setup-gcloud@")}
    assert len(gcloud) == 1  # the gcloud the deploy tests parse with is the one that deploys


@pytest.mark.parametrize("deploy_env, refused", [
    ("", False), ("REGION=europe-west1\nALERT_EMAIL=\n", False), ('ALERT_EMAIL=""', False),
    ("# ALERT_EMAIL=ops@example.com", False), ("ALERT_EMAIL=ops@example.com", True),
    ('REGION=europe-west1\n  ALERT_EMAIL = "ops@example.com"', False),  # deploy.sh refuses it
    ('ALERT_EMAIL="ops@example.com"', True), ("ALERT_EMAIL='ops@example.com'", True),
])
def test_deploy_env_is_written_as_it_is_and_alerts_are_refused(tmp_path, deploy_env, refused):
    """The workflow's own step, run by bash: DEPLOY_ENV becomes the file DEPLOY_ENV_FILE names,
    unless it would have the deployer set up alerts, for which it has no role."""
    [step] = [s for s in workflow("deploy.yml")["jobs"]["deploy"]["steps"]
              if s.get("name") == "Write deploy.env from the DEPLOY_ENV variable"]
    result = subprocess.run(["bash", "-eo", "pipefail", "-c", step["run"]],
                            env={"PATH": "/usr/bin:/bin", "DEPLOY_ENV": deploy_env,
                                 "RUNNER_TEMP": str(tmp_path)},
                            capture_output=True, text=True, timeout=30)
    assert (result.returncode == 1) == refused, result.stdout + result.stderr
    assert ("::error::leave ALERT_EMAIL out of DEPLOY_ENV" in result.stdout) == refused
    assert (tmp_path / "deploy.env").read_text() == deploy_env + "\n"
