"""The server's declared minimum Python (pyproject's requires-python) is real: vermin finds no newer
construct in the server's files, and the server installs, checks the examples and answers an editor
session under exactly that Python."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stdio_session import LAUNCHER, ROOT, start, static_session

PYPROJECT = (ROOT / "pyproject.toml").read_text()
FLOOR = tuple(int(x) for x in re.search(r'requires-python = ">=(\d+)\.(\d+)"', PYPROJECT).groups())
# Files that run in the *project* interpreter have their own, lower floor (3.8), checked with the child.
CHILD_FILES = r"runtime/child\.py$"
CACHE = Path.home() / ".cache" / "tensorleap-ls-tests"


def test_readme_and_pyproject_agree_on_the_floor():
    readme = (ROOT / "README.md").read_text()
    assert f"server: Python ≥ {FLOOR[0]}.{FLOOR[1]}" in readme


def test_server_files_need_nothing_newer_than_the_floor():
    target = f"{FLOOR[0]}.{FLOOR[1]}-"
    r = subprocess.run([str(Path(sys.executable).with_name("vermin")), f"--target={target}", "--violations", "--no-tips",
                        "--eval-annotations", "--exclude-regex", CHILD_FILES, str(ROOT / "server" / "tensorleap_ls")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def floor_python() -> str:
    """The interpreter of exactly the floor version (pyenv's, else pythonX.Y on PATH)."""
    name = f"python{FLOOR[0]}.{FLOOR[1]}"
    found = sorted(Path.home().glob(f".pyenv/versions/{FLOOR[0]}.{FLOOR[1]}.*/bin/python")) or \
        [Path(p) for p in [shutil.which(name)] if p]
    if not found:
        pytest.fail(f"{name} is needed to check the server's floor (pyenv install {FLOOR[0]}.{FLOOR[1]})")
    return str(found[-1])


def floor_venv() -> Path:
    """A venv of the floor Python with this checkout installed (editable), cached between runs."""
    key = hashlib.sha256(f"{ROOT}\n{PYPROJECT}".encode()).hexdigest()[:12]
    venv = CACHE / f"floor-{FLOOR[0]}{FLOOR[1]}-{key}"
    py = venv / "bin" / "python"
    if not (venv / ".installed").exists():
        for stale in CACHE.glob(f"floor-{FLOOR[0]}{FLOOR[1]}-*"):  # this checkout's, before a pyproject change
            if (stale / ".root").exists() and (stale / ".root").read_text() == str(ROOT):
                shutil.rmtree(stale, ignore_errors=True)
        shutil.rmtree(venv, ignore_errors=True)
        venv.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([floor_python(), "-m", "venv", str(venv)], check=True)
        r = subprocess.run([str(py), "-m", "pip", "install", "-q", "-e", str(ROOT)], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        (venv / ".root").write_text(str(ROOT))
        (venv / ".installed").write_text("ok")
    return venv


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
