"""Test-side client of the SDK oracle (``sdk_runner.py``) and the matching view of tensorleap-ls's analysis.

``SdkOracle`` starts one long-lived runner process (the venv interpreter, where code-loader 1.0.214 is
installed) and sends it project paths; each case runs in a fresh fork of the runner, see its docstring.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import defaultdict
from pathlib import Path

from tensorleap_ls.core.analysis import Analyzer
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
            check: bool = True, timeout: float = 60) -> dict:
        req = {"root": str(Path(root).resolve()), "entry": entry, "platform": platform, "check": check,
               "timeout": timeout}
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


def analyze(root: str | Path):
    """tensorleap-ls's analysis of one project folder (in-process, as the CLI does)."""
    analyses = Analyzer().analyze_path(str(root))
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
