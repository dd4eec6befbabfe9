"""What scripts/bench_cold_start.py starts: each variant's source (the peers written here, the
functions staged as deployed, compiled to bytecode as Google's Functions Framework buildpack
does) and the virtualenv it runs in (its function's requirements.txt only)."""

from __future__ import annotations

import hashlib
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "devtools"))

from procs import stage  # noqa: E402

HELLO = 'def hello(request):\n    return "ok"\n'
PEERS = {"hello": HELLO, "sdk-floor": f"import google.genai\nimport firebase_admin.auth\n\n\n{HELLO}"}
VENVS = ROOT / "build" / "bench-venvs"
# Whose requirements.txt each variant's virtualenv installs (peers: the function they stand for).
REQUIREMENTS_OF = {"hello": "health", "sdk-floor": "chat"}


def function_of(variant: str) -> str:
    return variant.removesuffix("+fs")


def deployed_python(variant: str) -> pathlib.Path:
    """The bin/ of a virtualenv with exactly the variant's function's requirements.txt, built on
    first use and kept under build/bench-venvs/ by a hash of that file."""
    requirements = ROOT / "functions" / REQUIREMENTS_OF.get(variant, function_of(variant)) / \
        "requirements.txt"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()[:16]
    venv = VENVS / digest
    if not (venv / "ready").exists():
        print(f"bench_cold_start: building {venv} from {requirements.relative_to(ROOT)}",
              file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                        "--disable-pip-version-check", "-r", str(requirements)], check=True,
                       stdin=subprocess.DEVNULL)
        (venv / "ready").write_text(requirements.read_text())
    return venv / "bin"


def python_of(variant: str, mode: str) -> pathlib.Path:
    """The bin/ directory whose python and functions-framework run `variant`."""
    return deployed_python(variant) if mode == "deployed" else pathlib.Path(sys.executable).parent


def build_sources(variants: list[str], build: pathlib.Path,
                  bins: dict[str, pathlib.Path]) -> dict[str, pathlib.Path]:
    """main.py of each variant: the peers written here, the functions staged as deployed, and
    each compiled to bytecode by its own python, as the buildpack does."""
    sources = {}
    for variant in variants:
        if variant in PEERS:
            sources[variant] = build / variant / "main.py"
            sources[variant].parent.mkdir(parents=True)
            sources[variant].write_text(PEERS[variant])
        else:
            function = function_of(variant)
            sources[variant] = sources.get(function) or stage(function, build / function)
        subprocess.run([str(bins[variant] / "python"), "-m", "compileall", "-f", "-q",
                        str(sources[variant].parent)], check=True, stdout=subprocess.DEVNULL)
    return sources
