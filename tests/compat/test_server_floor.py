"""The server's declared minimum Python (pyproject's requires-python) is real: vermin finds no newer
construct in the server's files, and the server installs, checks the examples and answers an editor
session under exactly that Python."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

from stdio_session import LAUNCHER, ROOT, start, static_session
from venvs import cached_venv, pyenv_python

PYPROJECT = (ROOT / "pyproject.toml").read_text()
FLOOR = tuple(int(x) for x in re.search(r'requires-python = ">=(\d+)\.(\d+)"', PYPROJECT).groups())
# Files that run in the *project* interpreter have their own, lower floor (3.8), checked with the child.
CHILD_FILES = r"runtime/child/"


def test_readme_and_pyproject_agree_on_the_floor():
    readme = (ROOT / "README.md").read_text()
    assert f"server: Python ≥ {FLOOR[0]}.{FLOOR[1]}" in readme


def test_server_files_need_nothing_newer_than_the_floor():
    target = f"{FLOOR[0]}.{FLOOR[1]}-"
    r = subprocess.run([str(Path(sys.executable).with_name("vermin")), f"--target={target}", "--violations", "--no-tips",
                        "--eval-annotations", "--exclude-regex", CHILD_FILES, str(ROOT / "server" / "tensorleap_ls")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def floor_venv() -> Path:
    """A venv of exactly the floor Python with this checkout installed (editable), cached between runs."""
    name = f"python{FLOOR[0]}.{FLOOR[1]}"
    base = pyenv_python(f"{FLOOR[0]}.{FLOOR[1]}")
    if base is None:
        pytest.fail(f"{name} is needed to check the server's floor (pyenv install {FLOOR[0]}.{FLOOR[1]})")
    checkout = hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]
    return Path(cached_venv(f"floor-{FLOOR[0]}{FLOOR[1]}-{checkout}", base, ["-e", str(ROOT)], PYPROJECT)).parent.parent


def test_the_server_runs_on_the_floor_python(tmp_path: Path):
    venv = floor_venv()
    py = str(venv / "bin" / "python")
    version = subprocess.run([py, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True)
    assert version.stdout.strip() == str(FLOOR)
    check = subprocess.run([str(venv / "bin" / "tensorleap-ls"), "check", str(ROOT / "examples" / "decorator_mnist"),
                            str(ROOT / "examples" / "legacy_mnist")], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "2 project(s) checked: 0 error(s)" in check.stdout
    launcher = subprocess.run([py, "-c", "import tensorleap_ls, os; print(os.path.dirname(tensorleap_ls.__file__))"],
                              capture_output=True, text=True, cwd=tmp_path).stdout.strip()
    client = start([py, str(Path(launcher).parent / LAUNCHER)], tmp_path, {})
    try:
        static_session(client, tmp_path)
    finally:
        client.close()
