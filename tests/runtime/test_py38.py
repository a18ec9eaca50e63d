"""The child runs on every Python that code-loader supports (3.8-3.12): its files are checked for
3.8 (vermin, ``ast.parse(feature_version=(3, 8))``), an interpreter outside the range gets TL534
with the version found, and the bundled decorator example runs clean end to end with a real
Python 3.8 venv as the project interpreter."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tensorleap_ls.runtime import interpreter
from tensorleap_ls.runtime.api import run_checks
from tensorleap_ls.runtime.runner import Limits, Runner
from venvs import cached_venv, pyenv_python

REPO = Path(__file__).resolve().parents[2]
# every file that executes in the project interpreter: the child's package
CHILD_FILES = sorted((REPO / "server" / "tensorleap_ls" / "runtime" / "child" / "tensorleap_ls_child").glob("*.py"))
EXAMPLE = REPO / "examples" / "decorator_mnist"


def project_venv(version: str, requirements: Path) -> str:
    """A venv of Python ``version`` with ``requirements`` installed (cached; rebuilt when they change)."""
    base = pyenv_python(version)
    if base is None:
        pytest.skip(f"no Python {version} interpreter on this machine (pyenv or PATH)")
    return cached_venv(f"venv-py{version.replace('.', '')}", base, ["-r", str(requirements)], requirements.read_text())


def test_the_child_package_is_all_there():
    assert {"__main__.py", "guard.py", "wire.py", "protocol.py", "samples.py", "preview.py"} <= {p.name for p in CHILD_FILES}


@pytest.mark.parametrize("path", CHILD_FILES, ids=lambda p: p.name)
def test_child_files_parse_as_python38(path: Path):
    ast.parse(path.read_text(encoding="utf-8"), filename=str(path), feature_version=(3, 8))


def test_child_files_pass_vermin_for_38():
    r = subprocess.run([str(Path(sys.executable).with_name("vermin")), "--target=3.8-", "--no-tips", "--violations",
                        "--no-parse-comments", *map(str, CHILD_FILES)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("version,which", [("3.7", "too old"), ("3.13", "too new")])
def test_interpreter_outside_the_supported_range_is_tl534_with_its_version(tmp_path, version, which):
    python = pyenv_python(version)
    if python is None:
        pytest.skip(f"no Python {version} interpreter on this machine (pyenv or PATH)")
    found = subprocess.run([python, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                           capture_output=True, text=True, check=True).stdout.strip()
    runner = Runner(Limits(timeout_s=5))
    try:
        findings, _ = run_checks(runner, python, str(EXAMPLE), str(EXAMPLE / "leap_integration.py"), samples=2)
    finally:
        runner.close()
    (f,) = findings
    assert f.code == "TL534" and f"Python {found}" in f.message and which in f.message, f.message


def test_version_check_accepts_the_supported_range():
    assert interpreter.version_problem("py", "3.8.18") is None
    assert interpreter.version_problem("py", "3.12.1") is None
    assert "too new" in interpreter.version_problem("py", "3.13.0")
    assert "too old" in interpreter.version_problem("py", "3.7.16")


@pytest.mark.dynamic
def test_decorator_example_is_clean_with_a_python38_project_interpreter(tmp_path):
    python = project_venv("3.8", EXAMPLE / "requirements.txt")
    assert subprocess.run([python, "-c", "import sys; assert sys.version_info[:2] == (3, 8)"]).returncode == 0
    env = {**os.environ, "TL_DISABLE_ANALYTICS": "1"}
    r = subprocess.run([sys.executable, "-m", "tensorleap_ls", "check", "--dynamic", "--samples", "3", "--format",
                        "json", "--python", python, str(EXAMPLE)], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    (project,) = json.loads(r.stdout)["projects"]
    assert project["diagnostics"] == []
    out = tmp_path / "preview"
    r = subprocess.run([sys.executable, "-m", "tensorleap_ls", "preview", str(EXAMPLE), "--subset", "training",
                        "--sample", "0", "--out", str(out), "--python", python], capture_output=True, text=True,
                       env=env, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["ok"] and summary["problems"] == [] and summary["integration_test"] is True
    assert summary["inputs"] and summary["metadata"] and summary["predictions"]
    assert any(p.suffix == ".png" for p in out.iterdir())
