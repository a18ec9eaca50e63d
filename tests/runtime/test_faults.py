"""Fault injection: every way user code can go wrong ends as a finding at the right line, the
runner answers the next request with a fresh child, and no process is left behind."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import psutil
import pytest

from tensorleap_ls.runtime.api import run_checks
from tensorleap_ls.runtime.runner import Limits, Runner

pytestmark = pytest.mark.dynamic

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "dynamic" / "legacy"
HOOK = "    image = _image(idx)\n"
STATS = {"faults": 0}

FAULTS = {
    "exception": ("    if idx == 3:\n        raise ValueError('bad sample')\n", "TL501", "raise ValueError"),
    "infinite loop": ("    while idx == 3: pass  # spins\n", "TL530", "while idx == 3"),
    "hang in C code": ("    if idx == 3:\n        import signal, time\n        signal.pthread_sigmask(signal.SIG_BLOCK, "
                       "[signal.SIGALRM])\n        time.sleep(60)  # the per-call alarm cannot fire\n",
                       "TL530", "time.sleep(60)"),
    "os._exit": ("    if idx == 3:\n        import os\n        os._exit(7)\n", "TL532", "os._exit(7)"),
    "segfault": ("    if idx == 3:\n        import ctypes\n        ctypes.string_at(0)\n", "TL532", "ctypes.string_at(0)"),
    "MemoryError": ("    if idx == 3:\n        hog = bytearray(1 << 40)\n", "TL531", "hog = bytearray"),
    "sys.exit": ("    if idx == 3:\n        import sys\n        sys.exit(4)\n", "TL533", "sys.exit(4)"),
    "output flood": ("    print('x' * 100000)\n", None, None),
}


@pytest.fixture()
def runner():
    r = Runner(Limits(timeout_s=1.5, preprocess_timeout_s=30, memory_mb=1024, stderr_cap=32 * 1024))
    yield r
    r.close()


def make(tmp_path: Path, body: str) -> Path:
    root = tmp_path / "p"
    if root.exists():
        shutil.rmtree(root)
    shutil.copytree(FIX, root, ignore=shutil.ignore_patterns("__pycache__"))
    f = root / "dyn" / "functions.py"
    f.write_text(f.read_text().replace(HOOK, HOOK + body, 1))
    return root


def children(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


@pytest.mark.parametrize("name", list(FAULTS))
def test_fault_becomes_a_finding_and_the_next_request_works(tmp_path, runner, name):
    body, code, marker = FAULTS[name]
    root = make(tmp_path, body)
    entry = str(root / "leap_binder.py")
    findings, _ = run_checks(runner, sys.executable, str(root), entry, samples=0)
    STATS["faults"] += 1
    if code is None:  # the flood is capped, not a finding
        assert findings == []
        out = runner.stderr(sys.executable, str(root), entry)
        assert len(out) <= 32 * 1024 * 1.25 + 200 and "bytes of output dropped" in out
    else:
        hits = [f for f in findings if f.code == code]
        assert hits, [(f.code, f.message) for f in findings]
        line = Path(hits[0].span.path).read_text().split("\n")[hits[0].span.line]
        assert marker in line, (hits[0].message, line)
    # the fault is fixed: the next request gets a fresh child and a clean result
    (root / "dyn" / "functions.py").write_text((FIX / "dyn" / "functions.py").read_text())
    runner.invalidate(str(root))
    findings, _ = run_checks(runner, sys.executable, str(root), entry, samples=3)
    assert findings == []


def test_no_orphan_processes(tmp_path, runner):
    import os

    before = {p.pid for p in children(os.getpid())}  # e.g. the oracle's long-lived SDK process
    root = make(tmp_path, FAULTS["hang in C code"][0])
    run_checks(runner, sys.executable, str(root), str(root / "leap_binder.py"), samples=0)
    runner.close()
    left = [p for p in children(os.getpid()) if p.pid not in before]
    assert all(not p.is_running() or p.status() == psutil.STATUS_ZOMBIE for p in left), left
