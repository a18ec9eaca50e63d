"""Which interpreter runs the user's code, and the one gate every process start goes through.

Choice: the setting / --python, else the project's .venv or venv, else the one running the
server. It must have code_loader: checked once per interpreter.

Trust gate: the server, the CLI and the runtime start processes only through ``popen`` /
``start_user_code`` here (a test scans ``server/`` for any other process start), and ``refusal`` is
the one function that decides. Helper scripts (a version probe, a model reader) run through
``runner.run_script``: the child's limits and guardian, so a venv's ``.pth`` files run limited and
leave nothing behind. In an untrusted workspace no interpreter inside
the workspace (or a project root) is executed, whoever asks (code actions reading a model file,
interpreter discovery, version checks), and user code never runs. The server sets the policy
from the client's trust (``set_policy``); the CLI runs only what its user asked for, trusted.
"""

from __future__ import annotations

import functools
import json
import os
import shlex
import sys
import threading
from typing import Any

from tensorleap_ls.core import lazy

subprocess = lazy.Module("subprocess")  # when a process starts: not for a static `check` that starts none


class Untrusted(OSError):
    """A process start refused by the trust gate (an OSError: callers treat it as "cannot run")."""


_lock = threading.Lock()
_trusted = True  # the CLI and library callers; the server sets its client's trust at start-up
_workspace: tuple[str, ...] = ()

# Runs outside any project: `-c` scripts put the working directory on sys.path.
NEUTRAL_CWD = os.path.abspath(os.sep)


def set_policy(trusted: bool, workspace: list[str] | tuple[str, ...] = ()) -> None:
    """The server: the client's workspace trust and its folders (the folders whose files never run)."""
    global _trusted, _workspace
    with _lock:
        _trusted = bool(trusted)
        _workspace = tuple(_real(p) for p in workspace if p)
    problem.cache_clear()


def trusted() -> bool:
    return _trusted


def policy() -> tuple[bool, tuple[str, ...]]:
    """The policy in force, as ``set_policy`` takes it (tests restore it after a server built in-process)."""
    return _trusted, _workspace


def _real(path: str) -> str:
    return os.path.realpath(os.path.abspath(path))


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def refusal(executable: str, root: str | None = None, user_code: bool = False) -> str | None:
    """The one decision: None when ``executable`` may start, else why not (shown to the user)."""
    if _trusted:
        return None
    if user_code:
        return "this workspace is not trusted: no user code runs in it"
    found = executable if os.sep in executable else (_which(executable) or executable)
    folders = _workspace + ((_real(root),) if root else ())
    for candidate in {os.path.abspath(found), _real(found)}:
        for folder in folders:
            if _inside(candidate, folder):
                return (f"this workspace is not trusted: its interpreter {executable} is not executed "
                        "(trust the folder, or choose an interpreter outside it)")
    return None


def _gate(cmd: list[str], root: str | None, user_code: bool) -> None:
    why = refusal(cmd[0], root, user_code)
    if why:
        raise Untrusted(why)


def popen(cmd: list[str], *, root: str | None = None, user_code: bool = False, **kwargs: Any) -> subprocess.Popen:
    """``subprocess.Popen`` through the gate. ``user_code``: the command executes code of the project
    (the child, loading a Keras file); ``root``: the project whose interpreters an untrusted workspace
    does not run. A process that runs no user code (the compile worker of core/facts/compiled.py, the
    server's own interpreter) starts in a neutral working directory unless told otherwise."""
    _gate(cmd, root, user_code)
    if not user_code:
        kwargs.setdefault("cwd", NEUTRAL_CWD)
    return subprocess.Popen(cmd, **kwargs)  # noqa: S603 - the gate above decided


def start_user_code(cmd: list[str], **kwargs: Any) -> subprocess.Popen:
    """``subprocess.Popen`` of a process that runs user code (the runtime's child): trusted only."""
    return popen(cmd, root=kwargs.get("cwd"), user_code=True, **kwargs)


def choose(root: str, explicit: str | None = None) -> str:
    if explicit:
        return explicit
    for venv in (".venv", "venv", "env"):
        for exe in ("bin/python", "bin/python3", "Scripts/python.exe"):
            candidate = os.path.join(root, venv, exe)
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK) and refusal(candidate, root) is None:
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
def _quote(args: list[str], windows: bool) -> str:
    return subprocess.list2cmdline(args) if windows else " ".join(shlex.quote(a) for a in args)


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError):
        return None


def install_args(root: str | None) -> list[str]:
    """``pip install`` arguments giving an interpreter the project's dependencies, pinned as the project
    pins them (requirements.txt, else pyproject.toml; code-loader pinned to the release we know)."""
    from tensorleap_ls.core.fixes.stubs import DEFAULT_SDK
    from tensorleap_ls.core.project.requirements import install_args as args_of

    return args_of(root or "", _read, DEFAULT_SDK)


def install_line(python: str, root: str | None = None, windows: bool = os.name == "nt",
                 pip: bool | None = None) -> str:
    """The exact command that gives ``python`` what the project needs: ``-r requirements.txt`` (or the
    pins of pyproject.toml), preceded by ``ensurepip`` when that interpreter has no pip (a venv made
    ``--without-pip``). ``pip`` None: asked of the interpreter (trusted workspaces; else assumed)."""
    line = _quote([python, "-m", "pip", "install", *install_args(root)], windows)
    if pip is None:
        pip = has_pip(python)
    if not pip:
        line = _quote([python, "-m", "ensurepip", "--upgrade"], windows) + ("; " if windows else " && ") + line
    return line


@functools.lru_cache(maxsize=16)
def has_pip(python: str) -> bool:
    """Whether ``python`` can run ``-m pip`` (True when it cannot be asked: not found, untrusted)."""
    from tensorleap_ls.runtime.runner import run_script

    try:
        out = run_script(python, "import importlib.util as u; print(u.find_spec('pip') is not None)", timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return True
    return out.stdout.strip() != "False"


def chosen(root: str, explicit: str | None = None) -> tuple[str, str]:
    """``choose`` and where its answer comes from: "setting", "venv" (the project's own), or "fallback"
    (the interpreter running the server: the project has none of its own yet)."""
    python = choose(root, explicit)
    if explicit:
        return python, "setting"
    return python, "fallback" if python == sys.executable else "venv"


def venv_base() -> str | None:
    """An interpreter to make a project venv with: the server's own when code-loader supports its
    version, else the newest supported ``python3.x`` on PATH."""
    low, high = SUPPORTED
    if low <= sys.version_info[:2] < high:
        return sys.executable
    for minor in range(high[1] - 1, low[1] - 1, -1):
        found = _which(f"python3.{minor}")
        if found:
            return found
    return None


def venv_line(root: str, windows: bool = os.name == "nt") -> str | None:
    """The command that creates ``<root>/.venv`` and installs the project's requirements into it (the
    user runs it: nothing is created until they do); None without a suitable Python."""
    base = venv_base()
    if base is None:
        return None
    venv = os.path.join(root, ".venv")
    python = os.path.join(venv, "Scripts", "python.exe") if windows else os.path.join(venv, "bin", "python")
    return (_quote([base, "-m", "venv", venv], windows) + ("; " if windows else " && ")
            + install_line(python, root, windows, pip=True))


@functools.lru_cache(maxsize=16)
def problem(python: str, root: str | None = None) -> str | None:
    """None when ``python`` can run integrations; else why not (for a TL534 diagnostic)."""
    if not (os.path.isfile(python) or _which(python)):
        return f"interpreter not found: {python}"
    from tensorleap_ls.runtime.runner import run_script

    try:
        out = run_script(python, _PROBE, root=root, timeout=120)
    except Untrusted as e:
        return str(e)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"cannot run {python}: {e}"
    too = version_problem(python, (out.stdout.split() or [""])[0])
    if too:
        return too
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["unknown error"])[-1]
        return (f"{python} cannot import code_loader/numpy ({last}). Install code-loader in it "
                f"({install_line(python, root)}) or pick another interpreter")
    return None


def _which(name: str) -> str | None:
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
    if not (os.path.isfile(python) or _which(python)):
        return {**info, "error": "not found"}
    from tensorleap_ls.runtime.runner import run_script

    try:
        out = run_script(python, _INVENTORY, [",".join(modules)], timeout=60)
        info.update(json.loads(out.stdout.strip().splitlines()[-1]))
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError) as e:
        info["error"] = str(e) or type(e).__name__
    return info
