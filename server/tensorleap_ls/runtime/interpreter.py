"""Which interpreter runs the user's code: the setting / --python, else the project's .venv or
venv, else the one running the server. It must have code_loader: checked once per interpreter."""

from __future__ import annotations

import functools
import os
import shlex
import subprocess
import sys


def choose(root: str, explicit: str | None = None) -> str:
    if explicit:
        return explicit
    for venv in (".venv", "venv", "env"):
        for exe in ("bin/python", "bin/python3", "Scripts/python.exe"):
            candidate = os.path.join(root, venv, exe)
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                return candidate
    return sys.executable


def install_line(python: str, root: str | None = None, windows: bool = os.name == "nt") -> str:
    """The exact command that installs code-loader into ``python``: the project's own requirement line
    (``code-loader==1.0.214``) when its requirements.txt has one."""
    from tensorleap_ls.core.requirements import _NAME, normalize

    spec = "code-loader"
    try:
        with open(os.path.join(root or "", "requirements.txt"), encoding="utf-8") as f:
            for raw in f:
                line = raw.split(" #", 1)[0].split(";", 1)[0].strip()
                m = _NAME.match(line)
                if m and normalize(m.group(1)) == "code-loader":
                    spec = line
                    break
    except (OSError, UnicodeDecodeError):
        pass
    quote = subprocess.list2cmdline if windows else (lambda args: " ".join(shlex.quote(a) for a in args))
    return quote([python, "-m", "pip", "install", spec])


@functools.lru_cache(maxsize=16)
def problem(python: str, root: str | None = None) -> str | None:
    """None when ``python`` can run integrations; else why not (for a TL534 diagnostic)."""
    if not (os.path.isfile(python) or shutil_which(python)):
        return f"interpreter not found: {python}"
    try:
        out = subprocess.run(
            [python, "-c", "import sys, code_loader, numpy; print(sys.version_info[:2])"],
            capture_output=True, text=True, timeout=120,
            env={**os.environ, "TL_DISABLE_ANALYTICS": "1", "PYTHONPATH": ""},
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"cannot run {python}: {e}"
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["unknown error"])[-1]
        return (f"{python} cannot import code_loader/numpy ({last}). Install code-loader in it "
                f"({install_line(python, root)}) or pick another interpreter")
    return None


def shutil_which(name: str) -> str | None:
    import shutil

    return shutil.which(name)
