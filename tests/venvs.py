"""Real interpreters other than the suite's own, and the venvs the tests build with them: cached between
runs under ~/.cache/tensorleap-ls-tests (TL_TEST_CACHE), rebuilt when what they hold changes."""

from __future__ import annotations

import fcntl
import glob
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

CACHE = Path(os.environ.get("TL_TEST_CACHE") or Path.home() / ".cache" / "tensorleap-ls-tests")


def pyenv_python(version: str) -> str | None:
    """An interpreter of ``version`` ("3.8") on this machine: pyenv's, else on PATH."""
    found = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python{version}")))
    return found[-1] if found else shutil.which(f"python{version}")


def _base_identity(base: str) -> str:
    """The interpreter a venv made with ``base`` runs: a worktree's own .venv python counts as the Python it
    was made from (its pyvenv.cfg ``home``), so every checkout keys the same venv the same way."""
    cfg = Path(base).parent.parent / "pyvenv.cfg"
    if cfg.is_file():
        for line in cfg.read_text().splitlines():
            k, _, v = line.partition("=")
            if k.strip() == "home":
                return f"{v.strip()}/{Path(base).name}"
    return os.path.realpath(base)


def cached_venv(name: str, base: str, install: list[str], key: str, skip_if_fails: str | None = None) -> str:
    """The python of ``CACHE/name``: a venv of ``base`` with ``pip install *install`` done, built once per
    ``key`` (what it holds: requirements text, interpreter...) and by one test run at a time. A failed install
    fails the test; with ``skip_if_fails`` (what could not be installed) it skips it, saying why."""
    venv = CACHE / name
    marker, python = venv / ".tensorleap-ls-ready", venv / "bin" / "python"
    # Keyed by what the venv holds, not by where the checkout is: a requirements file counts by its text,
    # so worktrees of one repository share the venv instead of rebuilding it under each other.
    what = [Path(a).read_text() if os.path.isfile(a) else a for a in install]
    digest = hashlib.sha256(f"{_base_identity(base)}\n{what}\n{key}".encode()).hexdigest()
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f".lock-{name}", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test runs build it once
        if not (marker.exists() and marker.read_text() == digest and python.exists()):
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([base, "-m", "venv", str(venv)], check=True)
            r = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *install],
                               capture_output=True, text=True)
            if r.returncode != 0:
                shutil.rmtree(venv, ignore_errors=True)
                if skip_if_fails:
                    pytest.skip(f"{skip_if_fails} cannot be installed for {base}: {r.stderr.strip()[-500:]}")
                pytest.fail(f"pip install into the venv {name} failed:\n{r.stderr[-3000:]}")
            marker.write_text(digest)
    return str(python)
