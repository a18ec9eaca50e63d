"""A hostile (or merely careless) project against the runtime: the child side of issue 13.

Each test is one finding of the attack pass, reproduced with the real code-loader in the child:
secrets spelt with escapes, NaN/Inf on the wire, processes that outlive the server or the CLI,
previews of huge arrays, cancelled and restarted runs, preprocess limits, odd registered names
and odd metadata values."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import psutil
import pytest

from lspproc import is_diag, start_server
from tensorleap_ls.runtime import api
from tensorleap_ls.runtime.runner import CHILD_PATH, Limits, Runner

pytestmark = pytest.mark.dynamic
FIX = Path(__file__).resolve().parents[1] / "fixtures" / "dynamic" / "legacy"


def project(tmp_path: Path, functions: str = "", binder: str = "", replace: tuple[str, str] | None = None) -> Path:
    """The legacy dynamic fixture with extra functions / registrations (or one replacement)."""
    root = tmp_path / "p"
    shutil.copytree(FIX, root, ignore=shutil.ignore_patterns("__pycache__"))
    funcs = root / "dyn" / "functions.py"
    text = funcs.read_text()
    if replace:
        assert replace[0] in text
        text = text.replace(*replace)
    funcs.write_text(text + functions)
    entry = root / "leap_binder.py"
    entry.write_text(entry.read_text() + binder)
    return root


def strict_loads(text: str):
    def refuse(name):
        raise ValueError(f"bare {name} in JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture()
def runner():
    r = Runner(Limits(timeout_s=20, preprocess_timeout_s=60, memory_mb=2048))
    yield r
    r.close()


# --- item 3: secrets, in every spelling -------------------------------------------------------
SECRET = 'tl-s\u00e9"cr\\et-7d1'  # a non-ASCII letter, a quote and a backslash


def secret_forms(secret: str) -> list[str]:
    return [secret, repr(secret)[1:-1], json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1],
            urllib.parse.quote(secret), urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)]


LEAKY = '''
import json as _json, os as _os, urllib.parse as _up


def meta_secret(idx, preprocess):
    s = _os.environ['AUTH_SECRET']
    print('token', _json.dumps(s), repr(s))
    return {'plain': s, 'repr': repr(s), 'json': _json.dumps(s), 'url': _up.quote(s), 'q': _up.quote_plus(s)}


def encode_leaky(idx, preprocess):
    if idx % 2 == 0:
        raise ValueError('bad token %r / %s' % (_os.environ['AUTH_SECRET'], _json.dumps(_os.environ['AUTH_SECRET'])))
    return np.zeros((2,), np.float32)
'''


def test_escaped_secret_never_leaves_the_child(tmp_path, runner, monkeypatch):
    root = project(tmp_path, LEAKY, "leap_binder.set_metadata(meta_secret, 'secret_meta')\n"
                                    "leap_binder.set_input(encode_leaky, 'leaky')\n")
    entry = str(root / "leap_binder.py")
    findings, _ = api.run_checks(runner, sys.executable, str(root), entry, samples=3, auth_secret=SECRET)
    hits = [f for f in findings if f.code == "TL501" and "leaky" in f.message]
    assert hits and "***" in hits[0].message, [(f.code, f.message) for f in findings]  # it ran, with the secret set
    result = api.preview(runner, sys.executable, str(root), entry, "training", 1, auth_secret=SECRET)
    assert result["ok"], result
    meta = next(m for m in result["metadata"] if m["name"] == "secret_meta")["value"]
    assert {v.strip("'\"") for v in meta.values()} == {"***"}, meta  # every spelling scrubbed, the value kept
    result.pop("images")
    emitted = json.dumps([[f.message for f in findings], result]) + runner.stderr(sys.executable, str(root), entry)
    emitted += json.dumps(result, ensure_ascii=False)
    # the CLI preview files
    monkeypatch.setenv("AUTH_SECRET", SECRET)
    out = tmp_path / "out"
    api.preview_sample(str(root), entry, "training", 1, str(out), python=sys.executable)
    files = {p.name: p.read_text(encoding="utf-8") for p in out.iterdir() if p.suffix in (".json", ".html")}
    assert {"summary.json", "index.html"} <= set(files)
    assert "***" in files["summary.json"]
    for form in secret_forms(SECRET):
        assert form not in emitted, form
        for name, text in files.items():
            assert form not in text, (form, name)
    import html

    assert html.escape(SECRET) not in files["index.html"]


def test_the_server_scrubs_again_what_a_rogue_child_sends(tmp_path):
    """User code can write to the protocol channel itself: the runner scrubs what it decodes too
    (here the "interpreter" is a script that answers with the secret, JSON-escaped)."""
    line = json.dumps({"id": 1, "ok": True, "setup": {"inputs": [{"name": SECRET, "bare": float("nan")}]}})
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\nread request\ncat <<'EOF'\n" + line + "\nEOF\nread next\n")
    fake.chmod(0o755)
    root = tmp_path / "p"
    root.mkdir()
    r = Runner(Limits(timeout_s=5, preprocess_timeout_s=5))
    try:
        _, setup = r.child(str(fake), str(root), str(root / "leap_binder.py"), auth_secret=SECRET)
    finally:
        r.close()
    # json.dumps wrote a bare NaN: decoded, then made strict, then parsed into the reply's dataclass
    assert setup.inputs == [{"name": "***", "bare": "NaN"}]


# --- item 4: strict JSON ------------------------------------------------------------------------
NAN = '''

def encode_nan(idx, preprocess):
    a = np.ones((4,), np.float32)
    a[0], a[1], a[2] = np.nan, np.inf, -np.inf
    return a


def meta_nan(idx, preprocess):
    return {'nan': float('nan'), 'inf': float('inf'), 'ok': 1.0}


def meta_nan_scalar(idx, preprocess):
    return float('-inf')


def viz_nan_bar(nan_input: np.ndarray) -> LeapHorizontalBar:
    return LeapHorizontalBar(body=np.array([np.nan, 1.0, np.inf], np.float32), labels=LABELS)
'''


def test_nan_and_inf_never_reach_the_wire_as_bare_tokens(tmp_path, runner):
    root = project(tmp_path, NAN, "leap_binder.set_input(encode_nan, 'nan_input')\n"
                                  "leap_binder.set_metadata(meta_nan, 'nan_meta')\n"
                                  "leap_binder.set_metadata(meta_nan_scalar, 'nan_scalar')\n"
                                  "leap_binder.set_visualizer(viz_nan_bar, 'nan_bar', LeapDataType.HorizontalBar)\n")
    entry = str(root / "leap_binder.py")
    # what the child itself writes on its channel, parsed strictly
    child = subprocess.run([sys.executable, "-m", "tensorleap_ls_child"], cwd=root, capture_output=True, timeout=120,
                           input="\n".join(json.dumps(r) for r in (
                               {"id": 1, "cmd": "load", "root": str(root), "entry": entry},
                               {"id": 2, "cmd": "check", "samples": 2},
                               {"id": 3, "cmd": "preview", "subset": "training", "sample_id": 0})).encode(),
                           env={**os.environ, "TL_DISABLE_ANALYTICS": "1", "PYTHONPATH": str(CHILD_PATH)})
    replies = {r["id"]: r for r in map(strict_loads, child.stdout.decode().splitlines()) if "id" in r}
    assert sorted(replies) == [1, 2, 3] and all(r["ok"] for r in replies.values()), child.stderr.decode()[-2000:]
    assert "TL505" in {f["code"] for f in replies[2]["findings"]}
    assert {m["name"]: m["value"] for m in replies[3]["metadata"]}["nan_scalar"] == "-Infinity"
    findings, stats = api.run_checks(runner, sys.executable, str(root), entry, samples=2)
    nan = sorted(f.message.split("'")[1] for f in findings if f.code == "TL505")
    assert nan == ["nan_input", "nan_meta.inf", "nan_meta.nan", "nan_scalar"], [(f.code, f.message) for f in findings]
    strict_loads(json.dumps(stats, allow_nan=False))
    result = api.preview(runner, sys.executable, str(root), entry, "training", 0)
    assert result["ok"], result
    result.pop("images")
    text = json.dumps(result, allow_nan=False)  # what the LSP layer sends: raises on a float NaN
    meta = {m["name"]: m["value"] for m in strict_loads(text)["metadata"]}
    assert meta["nan_meta"] == {"nan": "NaN", "inf": "Infinity", "ok": 1.0} and meta["nan_scalar"] == "-Infinity"
    out = tmp_path / "out"
    api.preview_sample(str(root), entry, "training", 0, str(out), python=sys.executable)
    summary = strict_loads((out / "summary.json").read_text(encoding="utf-8"))
    bar = next(v for v in summary["visualizers"] if v["name"] == "nan_bar")
    assert bar["render"]["values"] == ["NaN", 1.0, "Infinity"]
    assert (out / "visualizers__nan_bar.png").exists()


# --- items 7 and 14: nothing outlives the server, the CLI or the run --------------------------
HELPERS = '''

PIDS = {pids!r}


def _sleep_forever():
    import time
    time.sleep(600)


def _start_helpers():
    import multiprocessing, os, subprocess, sys
    worker = multiprocessing.Process(target=_sleep_forever)  # a data-loader worker
    worker.start()
    helper = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])
    pid = os.fork()  # a daemon: double fork, its own session
    if pid == 0:
        os.setsid()
        if os.fork() == 0:
            open(os.path.join(PIDS, 'daemon-%d' % os.getpid()), 'w').close()
            _sleep_forever()
        os._exit(0)
    os.waitpid(pid, 0)
    for p in (worker.pid, helper.pid, os.getpid()):
        open(os.path.join(PIDS, 'helper-%d' % p), 'w').close()
    open(os.path.join(PIDS, 'ready'), 'w').close()
'''


def helper_project(tmp_path: Path, hang: bool = False) -> tuple[Path, Path]:
    pids = tmp_path / "pids"
    pids.mkdir()
    root = project(tmp_path, HELPERS.format(pids=str(pids)), replace=(
        "def preprocess():\n", "def preprocess():\n    _start_helpers()\n"
        + ("    import time\n    time.sleep(120)\n" if hang else "")))
    return root, pids


def started(pids: Path, timeout: float = 60) -> list[int]:
    deadline = time.monotonic() + timeout
    while not (pids / "ready").exists() or not list(pids.glob("daemon-*")):
        assert time.monotonic() < deadline, "the helpers did not start"
        time.sleep(0.1)
    out = [int(p.name.split("-")[1]) for p in pids.iterdir() if "-" in p.name]
    assert len(out) == 4 and all(alive(p) for p in out), out  # a worker, a helper, a daemon, the child itself
    return out


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def assert_all_gone(pids: list[int], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [p for p in pids if alive(p)]
    for p in left:  # do not leave them to the next test; fail below
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass
    assert not left, f"left running: {left}"


def test_run_end_kills_workers_helpers_and_double_forked_daemons(tmp_path, runner):
    root, pids = helper_project(tmp_path)
    findings, _ = api.run_checks(runner, sys.executable, str(root), str(root / "leap_binder.py"), samples=2)
    assert findings == [], [(f.code, f.message) for f in findings]
    procs = started(pids)
    runner.close()
    assert_all_gone(procs)


def test_sigkill_of_the_server_kills_everything_the_child_started(tmp_path):
    root, pids = helper_project(tmp_path)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    c = start_server(str(root), init_options={"trusted": True}, env={"TMPDIR": str(tmp)})
    try:
        uri = (root / "leap_binder.py").resolve().as_uri()
        c.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                           "text": (root / "leap_binder.py").read_text()}})
        _, resp = c.request("workspace/executeCommand", {"command": "tensorleap.runChecks",
                                                         "arguments": [{"uri": uri}]}, timeout=120)
        assert resp["result"]["ok"], resp
        procs = started(pids)
        assert list(tmp.glob("tl-trace-*")), "the warm child has its trace file"
        os.kill(c.proc.pid, signal.SIGKILL)  # the OOM killer, an editor killing its server
        c.proc.wait(timeout=10)
        assert_all_gone(procs)
        deadline = time.monotonic() + 5
        while list(tmp.glob("tl-trace-*")) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not list(tmp.glob("tl-trace-*"))
    finally:
        if c.proc.poll() is None:
            c.close()


def test_sigterm_of_the_cli_during_check_dynamic_kills_everything(tmp_path):
    root, pids = helper_project(tmp_path, hang=True)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    cli = subprocess.Popen([sys.executable, "-m", "tensorleap_ls", "check", "--dynamic", str(root)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env={**os.environ, "TMPDIR": str(tmp), "TL_DISABLE_ANALYTICS": "1"})
    try:
        procs = started(pids)  # preprocess is running (it sleeps after starting the helpers)
        cli.send_signal(signal.SIGTERM)
        cli.wait(timeout=10)
        assert_all_gone(procs)
        deadline = time.monotonic() + 5
        while list(tmp.glob("tl-trace-*")) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not list(tmp.glob("tl-trace-*"))
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()


# --- item 8: bounded previews -------------------------------------------------------------------
HUGE = '''

def encode_big(idx, preprocess):
    return np.random.default_rng(idx).random((4000, 4000, 3), dtype=np.float32)


def viz_huge(image: np.ndarray) -> LeapImage:
    return LeapImage(np.random.default_rng(0).integers(0, 255, (8000, 8000, 3), dtype=np.uint8))
'''


def test_huge_arrays_give_a_bounded_preview(tmp_path):
    root = project(tmp_path, HUGE, "leap_binder.set_input(encode_big, 'big')\n"
                                   "leap_binder.set_visualizer(viz_huge, 'huge', LeapDataType.Image)\n")
    c = start_server(str(root), init_options={"trusted": True, "memoryMb": 4096, "timeoutSeconds": 120})
    try:
        uri = (root / "leap_binder.py").resolve().as_uri()
        mark = c.mark()
        c.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                           "text": (root / "leap_binder.py").read_text()}})
        c.wait_for(is_diag(uri, 1), mark)
        base_rss = c.peak_rss_mb()
        _, resp = c.request("workspace/executeCommand", {"command": "tensorleap.preview", "arguments": [
            {"uri": uri, "subset": "training", "sampleId": 0}]}, timeout=300)
        assert "result" in resp, str(resp)[:3000]
        result = resp["result"]
        assert result["ok"], result
        size = len(json.dumps(resp))
        big = next(i for i in result["inputs"] if i["name"] == "big")
        huge = next(v for v in result["visualizers"] if v["name"] == "huge")
        # the array is summarised, not sent; the images are shown at a capped size, and say so
        assert big["value"]["shape"] == [4000, 4000, 3] and len(json.dumps(big["value"])) < 2000
        assert "4000x4000" in big["render"]["reduced"] and "8000x8000" in huge["render"]["image"]["reduced"]
        assert max(huge["render"]["image"]["width"], huge["render"]["image"]["height"]) <= 1024
        assert "shown at" in result["html"]
        # 192 MB of pixels each became a few MB of PNG (the issue saw 120-240 MB messages, a 1.2 GB server)
        assert size < 4 * api.MAX_PREVIEW_BYTES, size
        peak = c.peak_rss_mb()
        print("preview message", size, "bytes; server peak RSS", base_rss, "->", peak)
        assert peak - base_rss < 400, (base_rss, peak)
    finally:
        c.close()


# --- item 9: cancellation, restarts, the preprocess limit ---------------------------------------
SLOW = '''
import os as _os, time as _time


def encode_slow(idx, preprocess):
    open(_os.path.join({pids!r}, 'worker-%d' % _os.getpid()), 'w').close()
    _time.sleep({delay})
    return np.zeros((2,), np.float32)
'''


def test_cancelling_a_run_stops_the_user_code(tmp_path):
    pids = tmp_path / "pids"
    pids.mkdir()
    root = project(tmp_path, SLOW.format(pids=str(pids), delay=1.0), "leap_binder.set_input(encode_slow, 'slow')\n")
    c = start_server(str(root), init_options={"trusted": True, "samplesPerSubset": 0})
    try:
        uri = (root / "leap_binder.py").resolve().as_uri()
        c.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                           "text": (root / "leap_binder.py").read_text()}})
        rid = next(c._ids)  # the client's own id counter: the request is sent without waiting for it
        c._write({"jsonrpc": "2.0", "id": rid, "method": "workspace/executeCommand",
                  "params": {"command": "tensorleap.runChecks", "arguments": [{"uri": uri}]}})
        deadline = time.monotonic() + 60
        while not list(pids.glob("worker-*")):
            assert time.monotonic() < deadline, "the run did not start"
            time.sleep(0.1)
        worker = int(next(pids.glob("worker-*")).name.split("-")[1])
        c.notify("$/cancelRequest", {"id": rid})  # the 50 samples would take more than a minute
        deadline = time.monotonic() + 15
        with c._lock:
            while rid not in c._responses:
                assert time.monotonic() < deadline, "no answer to the cancelled request"
                c._lock.wait(0.5)
            _, resp = c._responses.pop(rid)
        assert "error" in resp or resp["result"].get("cancelled"), resp
        assert_all_gone([worker], timeout=10)  # the user code stopped with the request
        # the next request gets a fresh child at once (its own encoder calls sleep 1 s each)
        _, resp = c.request("workspace/executeCommand", {"command": "tensorleap.preview", "arguments": [
            {"uri": uri, "subset": "training", "sampleId": 0}]}, timeout=30)
        assert resp["result"]["ok"], resp
    finally:
        c.close()


def test_a_save_during_a_run_is_not_a_crash(tmp_path, runner):
    pids = tmp_path / "pids"
    pids.mkdir()
    root = project(tmp_path, SLOW.format(pids=str(pids), delay=0.3), "leap_binder.set_input(encode_slow, 'slow')\n")
    entry = str(root / "leap_binder.py")
    out = {}
    t = threading.Thread(target=lambda: out.update(r=api.run_checks(runner, sys.executable, str(root), entry, 0)))
    t.start()
    deadline = time.monotonic() + 60
    while not list(pids.glob("worker-*")):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    funcs = root / "dyn" / "functions.py"
    funcs.write_text(funcs.read_text().replace("_time.sleep(0.3)", "pass"))  # the user saves a fix
    runner.invalidate(str(root))  # what the server does on save
    t.join(120)
    findings, _ = out["r"]
    assert findings == [], [(f.code, f.message) for f in findings]  # re-run on the new code: no TL531/TL532


def test_preprocess_has_its_own_time_limit(tmp_path):
    root = project(tmp_path, replace=("def preprocess():\n", "def preprocess():\n    import time\n    time.sleep(3)\n"))
    entry = str(root / "leap_binder.py")
    slow_calls_ok = Runner(Limits(timeout_s=1, preprocess_timeout_s=30))
    try:
        findings, _ = api.run_checks(slow_calls_ok, sys.executable, str(root), entry, samples=2)
    finally:
        slow_calls_ok.close()
    assert findings == [], [(f.code, f.message) for f in findings]
    short = Runner(Limits(timeout_s=30, preprocess_timeout_s=1.5))
    try:
        findings, _ = api.run_checks(short, sys.executable, str(root), entry, samples=2)
    finally:
        short.close()
    assert [f.code for f in findings] == ["TL530"] and "1.5 s" in findings[0].message, findings
    r = subprocess.run([sys.executable, "-m", "tensorleap_ls", "check", "--dynamic", "--samples", "2", "--timeout", "1",
                        "--preprocess-timeout", "30", str(root)], capture_output=True, text=True,
                       env={**os.environ, "TL_DISABLE_ANALYTICS": "1"}, timeout=120)
    # the legacy fixture pins code-loader 1.0.214 without an integration test: TL104 (static) is its only finding
    assert re.findall(r"\bTL\d{3}\b", r.stdout) == ["TL104"], r.stdout + r.stderr


# --- item 10: registered names as file names ----------------------------------------------------
def test_long_and_nul_names_become_safe_bounded_file_names(tmp_path):
    long_name = "v" * 300
    root = project(tmp_path, binder=f"leap_binder.set_visualizer(viz_image, {long_name!r}, LeapDataType.Image)\n"
                                    "leap_binder.set_visualizer(viz_image, 'a\\x00b', LeapDataType.Image)\n"
                                    "leap_binder.set_visualizer(viz_image, 'a_b', LeapDataType.Image)\n"
                                    "leap_binder.set_visualizer(viz_image, '../../x', LeapDataType.Image)\n")
    out = tmp_path / "out"
    result = api.preview_sample(str(root), str(root / "leap_binder.py"), "training", 0, str(out), python=sys.executable)
    assert result["ok"], result
    pngs = sorted(p.name for p in out.iterdir() if p.suffix == ".png")
    assert all(len(n) <= 120 and "\x00" not in n for n in pngs), pngs
    assert sum(n.startswith("visualizers__vvvv") for n in pngs) == 1
    assert "visualizers__a_b.png" in pngs  # a safe name is kept as it is
    assert sum(n.startswith("visualizers__a_b-") for n in pngs) == 1  # the NUL one: the same stem and a hash
    assert len(pngs) == len(set(pngs)) == len(result["visualizers"]) + 1  # + the 'image' input
    assert {p.parent for p in out.iterdir()} == {out}


# --- item 14: one value checker for the preview and the dynamic run -----------------------------
VALUES = '''

def meta_tuple_key(idx, preprocess):
    return {('a', 1): 1.0, 'b': 2}


def meta_set(idx, preprocess):
    return {'s': {1, 2}}


def encode_ragged(idx, preprocess):
    return np.array([np.zeros(2), np.zeros(3)], dtype=object)
'''


def test_odd_values_get_the_same_findings_in_the_preview_and_the_run(tmp_path, runner):
    root = project(tmp_path, VALUES, "leap_binder.set_metadata(meta_tuple_key, 'tuple_key')\n"
                                     "leap_binder.set_metadata(meta_set, 'set_value')\n"
                                     "leap_binder.set_input(encode_ragged, 'ragged')\n")
    entry = str(root / "leap_binder.py")
    findings, _ = api.run_checks(runner, sys.executable, str(root), entry, samples=2)
    run = {(f.code, f.message.split(" on ")[0]) for f in findings}
    assert ("TL510", "metadata 'tuple_key' has a key of type tuple (('a', 1)); keys must be strings.") in run
    assert ("TL510", "metadata 'set_value' key 's' holds a set; values must be scalars.") in run
    assert any(code == "TL504" and "'ragged'" in m for code, m in run), run
    result = api.preview(runner, sys.executable, str(root), entry, "training", 0)
    assert result["ok"], result  # no crash of the child (TL532) on a tuple key
    shown = {(p.get("code"), p["message"].split(" on ")[0]) for p in result["problems"]}
    assert run <= shown, (run, shown)
    assert not any(p.get("internal") for p in result["problems"]), result["problems"]
    assert not any("item" in p["message"] or "can only convert" in p["message"] for p in result["problems"])
    meta = {m["name"]: m["value"] for m in result["metadata"]}
    assert meta["tuple_key"] == {"('a', 1)": 1.0, "b": 2} and meta["set_value"] == {"s": [1, 2]}
    ragged = next(i for i in result["inputs"] if i["name"] == "ragged")["value"]
    assert ragged["dtype"] == "object" and ragged["slice"] == ["array(2,) float64", "array(3,) float64"]


# --- the child's module names cannot shadow the user's (nor the user's the child's) ------------
def test_user_modules_named_like_the_runtime_s_are_the_user_s(tmp_path, runner):
    root = project(tmp_path, replace=("def preprocess():\n", "def preprocess():\n    import render, state, samples, wire\n"
                                      "    assert (render.MINE, state.MINE, samples.MINE, wire.MINE) == (1, 2, 3, 4)\n"))
    for i, name in enumerate(("render", "state", "samples", "wire"), 1):
        (root / f"{name}.py").write_text(f"MINE = {i}\n")
    (root / "json.py").write_text("raise ImportError('the project json.py must not be imported by the child')\n")
    findings, _ = api.run_checks(runner, sys.executable, str(root), str(root / "leap_binder.py"), samples=2)
    assert findings == [], [(f.code, f.message) for f in findings]
    result = api.preview(runner, sys.executable, str(root), str(root / "leap_binder.py"), "training", 0)
    assert result["ok"] and result["problems"] == [], result.get("problems")


ODD_DICT = '''

class _Weird(dict):
    def items(self):
        raise RuntimeError('no items today')


def meta_weird(idx, preprocess):
    return _Weird(a=1)


def encode_f64(idx, preprocess):
    return np.zeros((2,), np.float64)
'''


def test_a_failure_of_our_checker_is_ours_and_the_run_goes_on(tmp_path, runner):
    root = project(tmp_path, ODD_DICT, "leap_binder.set_metadata(meta_weird, 'weird')\n"
                                       "leap_binder.set_input(encode_f64, 'f64')\n")
    entry = str(root / "leap_binder.py")
    findings, stats = api.run_checks(runner, sys.executable, str(root), entry, samples=2)
    assert [f.code for f in findings] == ["TL504"], [(f.code, f.message) for f in findings]  # the rest still ran
    assert stats["internal"] and "checking metadata 'weird'" in stats["internal"][0]["message"]
    assert "not reported as a problem of your code" in stats["internal"][0]["message"]
    result = api.preview(runner, sys.executable, str(root), entry, "training", 0)
    assert result["ok"], result
    (ours,) = [p for p in result["problems"] if p.get("internal")]
    assert "checking metadata 'weird'" in ours["message"] and not ours.get("file")
