"""Test-side client of the SDK oracle (``sdk_runner.py``) and the matching view of tensorleap-ls's analysis.

``SdkOracle`` starts one long-lived runner process (the venv interpreter, where code-loader 1.0.214 is
installed) and sends it project paths; each case runs in a fresh fork of the runner, see its docstring.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import threading
from collections import defaultdict
from pathlib import Path

from tensorleap_ls.core.engine.analysis import Analyzer
from tensorleap_ls.core.model import Severity

RUNNER = Path(__file__).with_name("sdk_runner.py")


class SdkOracle:
    def __init__(self, python: str = sys.executable):
        env = dict(os.environ, TL_DISABLE_ANALYTICS="1", PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg")
        env.pop("IS_TENSORLEAP_PLATFORM", None)
        self.proc = subprocess.Popen([python, str(RUNNER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, env=env)
        hello = json.loads(self._readline(120))
        assert hello.get("ready"), hello
        self.pid = hello["pid"]
        self.builtin = hello["builtin"]
        self._lock = threading.Lock()

    def _readline(self, timeout: float) -> str:
        box: list[str] = []
        t = threading.Thread(target=lambda: box.append(self.proc.stdout.readline()), daemon=True)
        t.start()
        t.join(timeout)
        if not box or not box[0]:
            raise RuntimeError(f"the SDK runner did not answer (exit code {self.proc.poll()})")
        return box[0]

    def run(self, root: str | Path, entry: str = "leap_integration.py", *, platform: bool = False,
            check: bool = True, mode: str = "load", timeout: float = 60) -> dict:
        req = {"root": str(Path(root).resolve()), "entry": entry, "platform": platform, "check": check,
               "mode": mode, "timeout": timeout}
        with self._lock:
            self.proc.stdin.write(json.dumps(req) + "\n")
            self.proc.stdin.flush()
            return json.loads(self._readline(timeout + 30))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@functools.lru_cache(maxsize=1)
def _environment():
    from tensorleap_ls.core.sdk import env as sdk_env

    return sdk_env.environment(sys.executable)


def analyze(root: str | Path):
    """tensorleap-ls's analysis of one project folder (in-process, as the CLI does), against the code-loader
    installed for the interpreter the oracle runs (this one)."""
    analyses = Analyzer(env_for=lambda _root: _environment()).analyze_path(str(root))
    assert len(analyses) == 1, [a.root for a in analyses]
    return analyses[0]


def errors(analysis) -> list:
    return [f for f in analysis.findings if f.effective_severity == Severity.ERROR]


def describe(findings) -> list[str]:
    return [f"{os.path.basename(f.span.path)}:{f.span.line + 1} {f.code} {f.message}" for f in findings]


def names_by_kind(bindings_json: list[dict]) -> dict[str, list]:
    """Registered names per kind from the JSON bindings of ``check --format json`` (sorted, with repeats)."""
    out: dict[str, list] = defaultdict(list)
    for b in bindings_json:
        out[b["kind"]].append(b["name"] if b["kind"] not in ("preprocess", "unlabeled_preprocess",
                                                            "integration_test") else None)
    return {k: sorted(v, key=repr) for k, v in out.items()}


def sdk_names_by_kind(registrations: dict[str, list], kinds) -> dict[str, list]:
    return {k: sorted(v, key=repr) for k, v in registrations.items() if k in kinds}


def code_cases():
    """tests/core/test_codes.py as a module: its CASES and ``plant`` are the oracle's fixtures too."""
    import importlib.util

    name = "_tl_test_codes"
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "core" / "test_codes.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def bundle_copy(root: str | Path, dest: str | Path) -> Path:
    """The files `leap push` would upload (leap.yaml's `include` / `exclude` doublestar globs; an empty or
    missing `include` means everything; the entry file always goes), copied to ``dest``.

    Written from the leap CLI's rules (rules.md §2), independently of tensorleap-ls's own bundle logic,
    so that the SDK can be run on exactly what the platform would receive.
    """
    import shutil

    import yaml
    from wcmatch import glob as wglob

    root, dest = Path(root), Path(dest)
    conf = yaml.safe_load((root / "leap.yaml").read_text(encoding="utf-8")) or {}
    include, exclude = conf.get("include") or ["**"], conf.get("exclude") or []
    flags = wglob.GLOBSTAR | wglob.DOTGLOB
    for path in root.rglob("*"):
        rel = path.relative_to(root).as_posix()
        if path.is_dir() or "__pycache__" in rel:
            continue
        wanted = rel == conf.get("entryFile") or any(wglob.globmatch(rel, p, flags=flags) for p in include)
        if wanted and not any(wglob.globmatch(rel, p, flags=flags) for p in exclude):
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest / rel)
    return dest


def write_project(root: str | Path, files: dict[str, str]) -> Path:
    root = Path(root)
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def compare(sdk: SdkOracle, root: str | Path, entry: str = "leap_integration.py") -> dict:
    """Runs one project through the SDK and through tensorleap-ls and classifies the pair of verdicts.

    ``verdict``: ``agree``; ``false_error`` (the SDK accepts, tensorleap-ls reports an error);
    ``missed_error`` (the SDK rejects, tensorleap-ls reports no error); ``wrong_line`` (the SDK rejects at
    lines of the project, no error of tensorleap-ls is on any of them).
    """
    root = Path(root).resolve()
    result = sdk.run(root, entry)
    if result["stage"] in ("crash", "timeout"):
        raise RuntimeError(f"the SDK runner failed on {root}: {result['error']}\n{result.get('log', '')}")
    analysis = analyze(root)
    ours = errors(analysis)
    warned = [f for f in analysis.findings if f.effective_severity == Severity.WARNING]
    out = {"sdk_ok": result["ok"], "sdk_stage": result["stage"], "sdk_error": result["error"],
           "sdk_where": result["where"], "errors": describe(ours), "codes": sorted({f.code for f in ours}),
           "warnings": [{"code": f.code, "file": os.path.relpath(f.span.path, root), "line": f.span.line + 1,
                         "message": f.message} for f in warned],
           "findings": [{"code": f.code, "file": os.path.relpath(f.span.path, root), "line": f.span.line + 1,
                         "end_line": f.span.end_line + 1} for f in ours]}
    if result["ok"]:
        out["verdict"] = "false_error" if ours else "agree"
    elif not ours:
        out["verdict"] = "missed_error"
    elif result["where"]:
        lines = {(str((root / w["file"]).resolve()), w["line"]) for w in result["where"]}
        hit = any((str(Path(f.span.path).resolve()), n) in lines
                  for f in ours for n in range(f.span.line + 1, f.span.end_line + 2))
        out["verdict"] = "agree" if hit else "wrong_line"
    else:
        out["verdict"] = "agree"
    return out
