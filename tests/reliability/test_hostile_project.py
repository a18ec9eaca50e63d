"""A hostile project, round 3 (issue 24): the model readers, the installed-SDK reader, the files beside
the entry, New Project and the quick fixes, against the server and the CLI.

Each test reproduces an attack of the issue and fails without its fix; docs/reliability.md
("Hostile project") lists them with the limits they show.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lspproc import is_diag, start_server

HERE = Path(__file__).parent
FIXTURE = HERE / "fixtures" / "mnist_decorator"
ENV = {**os.environ, "TL_DISABLE_ANALYTICS": "1"}


@pytest.fixture(autouse=True)
def _process_trust_restored():
    """An in-process server sets the process' trust policy: later tests get the CLI's default back."""
    yield
    from tensorleap_ls.runtime import interpreter

    interpreter.set_policy(True)


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    dst = tmp_path / "proj"
    shutil.copytree(FIXTURE, dst)
    return dst


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tensorleap_ls", *args], capture_output=True, text=True,
                          env=ENV, timeout=timeout, stdin=subprocess.DEVNULL, cwd="/")


# --- 8: the missing-part fix on a module holding a 1,000-deep expression ------------------------------
DEEP = "1" + " + 1" * 1000  # CPython compiles it; a recursive walk (ast.dump) of it raises RecursionError


def test_missing_part_fix_on_a_deeply_nested_module(project: Path) -> None:
    from tensorleap_ls.core import fixes
    from tensorleap_ls.core.engine.analysis import Analyzer

    entry = project / "leap_integration.py"
    text = entry.read_text().replace("@tensorleap_preprocess()", "", 1)
    # before the __main__ block: the insertion point is searched statement by statement
    text = text.replace("\n\n\n", f"\n\nif {DEEP}:\n    pass\n\n\n"
                                  f"def never():\n    raise NotImplementedError({DEEP})\n\n\n", 1)
    entry.write_text(text)
    (pa,) = Analyzer().analyze_file(str(entry))
    missing = [f for f in pa.findings if f.code == "TL101"]
    assert missing, [f.code for f in pa.findings]
    titles = [fix.title for f in pa.findings for fix in fixes.run_fixer(f, pa)]  # run_fixer raises what a fixer raises
    assert "Create a preprocess stub" in titles, titles
