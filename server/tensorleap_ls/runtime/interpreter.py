"""Which interpreter runs the user's code: the setting / --python, else the project's .venv or
venv, else the one running the server. It must have code_loader: checked once per interpreter."""

from __future__ import annotations

import functools
import json
import os
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


# the versions code-loader supports (Requires-Python >=3.8,<3.13); the child is written for them
SUPPORTED = ((3, 8), (3, 13))
# prints the version before importing anything: an interpreter too old for code_loader still says which it is
_PROBE = ("import sys; sys.stdout.write('%d.%d.%d\\n' % tuple(sys.version_info[:3])); sys.stdout.flush(); "
          "import code_loader, numpy")


def version_problem(python: str, version: str) -> str | None:
    """Why ``version`` ("3.7.16") cannot run the child, or None."""
    try:
        found = tuple(int(x) for x in version.split(".")[:2])
    except ValueError:
        return None  # no version printed: the import error explains it
    low, high = SUPPORTED
    if len(found) == 2 and not low <= found < high:
        which = "too old" if found < low else "too new"
        return (f"{python} is Python {version}, {which}: code-loader and the dynamic checks need Python "
                f"{low[0]}.{low[1]} to {high[0]}.{high[1] - 1}; pick another interpreter")
    return None


@functools.lru_cache(maxsize=16)
def problem(python: str) -> str | None:
    """None when ``python`` can run integrations; else why not (for a TL534 diagnostic)."""
    if not (os.path.isfile(python) or shutil_which(python)):
        return f"interpreter not found: {python}"
    try:
        out = subprocess.run(
            [python, "-c", _PROBE], capture_output=True, text=True, timeout=120,
            env={**os.environ, "TL_DISABLE_ANALYTICS": "1", "PYTHONPATH": ""},
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"cannot run {python}: {e}"
    too = version_problem(python, (out.stdout.split() or [""])[0])
    if too:
        return too
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["unknown error"])[-1]
        return f"{python} cannot import code_loader/numpy ({last}); install code-loader in it or pick another interpreter"
    return None


def shutil_which(name: str) -> str | None:
    import shutil

    return shutil.which(name)


_INVENTORY = """import sys, json, importlib.util as u
try:
    from importlib import metadata as m
except ImportError:
    m = None
mods = sys.argv[1].split(',')
missing = [x for x in mods if u.find_spec(x) is None]
def ver(d):
    try:
        return m.version(d) if m else None
    except Exception:
        return None
print(json.dumps({'version': '.'.join(map(str, sys.version_info[:3])), 'missing': missing,
                  'code_loader': ver('code-loader'), 'onnx': u.find_spec('onnx') is not None}))
"""


def probe(python: str, modules: tuple[str, ...] = ("code_loader", "numpy")) -> dict:
    """What an interpreter has: its Python version, which of ``modules`` it cannot find (found
    without importing them), the code-loader version, whether onnx is there. Not cached: the user
    may install what was missing and try again. Runs ``python``: only for a trusted workspace."""
    info: dict = {"python": python, "version": None, "missing": list(modules), "code_loader": None, "onnx": False}
    if not (os.path.isfile(python) or shutil_which(python)):
        return {**info, "error": "not found"}
    try:
        out = subprocess.run([python, "-c", _INVENTORY, ",".join(modules)], capture_output=True, text=True, timeout=60,
                             env={**os.environ, "PYTHONPATH": ""})
        info.update(json.loads(out.stdout.strip().splitlines()[-1]))
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError) as e:
        info["error"] = str(e) or type(e).__name__
    return info
