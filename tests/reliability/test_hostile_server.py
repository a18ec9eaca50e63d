"""A hostile project (a cloned repository the user has not trusted) against the server and the CLI.

Each test reproduces an attack of issue 13 and fails without its fix: shadowing modules in the
workspace, the workspace's own interpreter, special files, NaN on the wire, malformed frames,
tracebacks, bad arguments and settings. docs/reliability.md ("Hostile project") lists them.
"""

from __future__ import annotations

import ast
import json
import re
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lspproc import LAUNCHER, is_diag, start_server

pytestmark = pytest.mark.e2e

HERE = Path(__file__).parent
FIXTURE = HERE / "fixtures" / "mnist_decorator"
SERVER_SRC = Path(__file__).resolve().parents[2] / "server" / "tensorleap_ls"
ENV = {**os.environ, "TL_DISABLE_ANALYTICS": "1"}
SHADOWS = ("json", "yaml", "pygls", "tensorleap_ls", "attr", "lsprotocol", "attrs", "cattrs", "typing_extensions")


@pytest.fixture(autouse=True)
def _process_trust_restored():
    """The in-process tests build a server, which makes this process untrusted (the gate's policy is
    per process, as a server process is one workspace's): give later tests back the CLI's default."""
    yield
    from tensorleap_ls.runtime import interpreter

    interpreter.set_policy(True)


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    dst = tmp_path / "proj"
    shutil.copytree(FIXTURE, dst)
    return dst


def cli(*args: str, cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tensorleap_ls", *args], capture_output=True, text=True,
                          env=ENV, cwd=cwd, timeout=timeout, stdin=subprocess.DEVNULL)


def open_entry(c, root: Path, name: str = "leap_integration.py") -> str:
    entry = root / name
    uri = entry.resolve().as_uri()
    mark = c.mark()
    c.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                       "text": entry.read_text()}})
    c.wait_for(is_diag(uri, 1), mark, timeout=60)
    return uri


# --- 1: nothing of the workspace is importable by the server ------------------------------------
def plant_shadows(root: Path) -> Path:
    markers = root / "markers"
    markers.mkdir()
    for name in SHADOWS:
        (root / f"{name}.py").write_text(f"open({str(markers / name)!r}, 'w').close()\n")
    return markers


def test_shadowing_modules_in_the_workspace_are_never_imported(project: Path) -> None:
    markers = plant_shadows(project)
    # the attack is real: `python -m` in the workspace imports them (why editors use the launcher)
    subprocess.run([sys.executable, "-m", "tensorleap_ls", "--version"], cwd=project, env=ENV, capture_output=True)
    assert sorted(p.name for p in markers.iterdir()), "the control run should have imported a shadowing module"
    for p in markers.iterdir():
        p.unlink()
    console_script = str(Path(sys.executable).with_name("tensorleap-ls"))
    for cmd in ([sys.executable, LAUNCHER], [console_script, "serve"]):
        from lspproc import LspClient

        c = LspClient(cmd, cwd=str(project), env=ENV)
        try:
            uri = project.resolve().as_uri()
            _, resp = c.request("initialize", {"processId": None, "rootUri": uri, "capabilities": {},
                                               "initializationOptions": {"debounceMs": 0}}, timeout=60)
            assert "result" in resp, (cmd, resp)
            c.notify("initialized", {})
            doc = open_entry(c, project)
            _, resp = c.request("textDocument/hover", {"textDocument": {"uri": doc}, "position": {"line": 10, "character": 5}})
            assert "result" in resp
            _, resp = c.request("textDocument/codeAction", {"textDocument": {"uri": doc}, "range": {
                "start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "context": {"diagnostics": []}})
            assert "result" in resp
        finally:
            c.close()
        assert not list(markers.iterdir()), f"{cmd}: imported {[p.name for p in markers.iterdir()]} from the workspace"


# --- 2: one trust gate for every process start ---------------------------------------------------
_STARTERS = {("subprocess", n) for n in ("run", "Popen", "call", "check_call", "check_output", "getoutput",
                                          "getstatusoutput")} | {
    ("os", n) for n in ("system", "popen", "execv", "execve", "execl", "execle", "execlp", "execlpe", "execvp",
                        "execvpe", "spawnv", "spawnve", "spawnl", "spawnle", "spawnlp", "spawnvp", "posix_spawn",
                        "posix_spawnp", "fork", "forkpty")} | {
    ("asyncio", "create_subprocess_exec"), ("asyncio", "create_subprocess_shell"), ("pty", "spawn"),
    ("multiprocessing", "Process"), ("multiprocessing", "Pool")}
GATE = SERVER_SRC / "runtime" / "interpreter.py"
# the child's own package runs inside the user's interpreter, started through the gate (its guard forks there)
IN_THE_CHILD = SERVER_SRC / "runtime" / "child"


def _process_starts(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    aliases = {}  # local name -> module, for `import subprocess as sp` / `from subprocess import run`
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                aliases[a.asname or a.name] = a.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                if (node.module, a.name) in _STARTERS:
                    aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
            key = (aliases.get(f.value.id, f.value.id), f.attr)
        elif isinstance(f, ast.Name) and "." in aliases.get(f.id, ""):
            key = tuple(aliases[f.id].split(".", 1))
        else:
            continue
        if key in _STARTERS:
            found.append(f"{path.relative_to(SERVER_SRC)}:{node.lineno} {'.'.join(key)}")
    return found


def test_every_process_start_goes_through_the_trust_gate() -> None:
    starts = {p: _process_starts(p) for p in SERVER_SRC.rglob("*.py")}
    outside = [s for p, found in starts.items() if p != GATE and IN_THE_CHILD not in p.parents for s in found]
    assert not outside, f"process starts outside runtime/interpreter.py (use interpreter.popen/start_user_code, or runner.run_script): {outside}"
    assert starts[GATE], "the scan found no process start at all in the gate: the scan is broken"


def _model_project(root: Path, marker: Path) -> Path:
    """TL102 (no input encoder) + a .onnx model + a workspace interpreter that would leave a marker."""
    root.mkdir()
    (root / "leap_integration.py").write_text(
        "from typing import List\n\nfrom code_loader.contract.datasetclasses import PreprocessResponse\n"
        "from code_loader.contract.enums import DataStateType\n"
        "from code_loader.inner_leap_binder.leapbinder_decorators import tensorleap_preprocess\n\n\n"
        "@tensorleap_preprocess()\ndef preprocess() -> List[PreprocessResponse]:\n"
        "    return [PreprocessResponse(sample_ids=['a'], state=DataStateType.training)]\n")
    (root / "model.onnx").write_bytes(b"not really a model")
    venv = root / ".venv" / "bin"
    venv.mkdir(parents=True)
    python = venv / "python"
    python.write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    python.chmod(python.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return root


def _ask_for_model_stubs(root: Path, trusted: bool) -> None:
    c = start_server(str(root), init_options={"trusted": trusted})
    try:
        uri = (root / "leap_integration.py").resolve().as_uri()
        mark = c.mark()
        c.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                           "text": (root / "leap_integration.py").read_text()}})
        _, msg = c.wait_for(lambda m: is_diag(uri, 1)(m) and any(
            d["code"] == "TL102" for d in m["params"]["diagnostics"]), mark)
        diag = next(d for d in msg["params"]["diagnostics"] if d["code"] == "TL102")
        _, resp = c.request("textDocument/codeAction", {"textDocument": {"uri": uri}, "range": diag["range"],
                                                        "context": {"diagnostics": [diag]}}, timeout=120)
        assert "result" in resp, resp
    finally:
        c.close()


def test_untrusted_workspace_never_executes_its_own_interpreter(tmp_path: Path) -> None:
    marker = tmp_path / "workspace-python-ran"
    root = _model_project(tmp_path / "untrusted", marker)
    _ask_for_model_stubs(root, trusted=False)
    assert not marker.exists(), "the code action ran the untrusted workspace's .venv/bin/python"
    # control: trusted, the same request does run it (the test exercises the path it guards)
    trusted_root = _model_project(tmp_path / "trusted", marker)
    _ask_for_model_stubs(trusted_root, trusted=True)
    assert marker.exists()


def test_gate_refuses_workspace_interpreters_and_user_code_when_untrusted(tmp_path: Path) -> None:
    from tensorleap_ls.runtime import interpreter
    from tensorleap_ls.runtime.runner import run_script

    inside = tmp_path / "ws" / ".venv" / "bin" / "python"
    inside.parent.mkdir(parents=True)
    os.symlink(sys.executable, inside)
    try:
        interpreter.set_policy(False, [str(tmp_path / "ws")])
        assert interpreter.refusal(str(inside)) and interpreter.refusal(sys.executable, user_code=True)
        assert interpreter.refusal(sys.executable) is None  # the server's own interpreter on a data file
        assert interpreter.choose(str(tmp_path / "ws")) == sys.executable  # discovery skips it
        assert "not trusted" in (interpreter.problem(str(inside)) or "")  # version check: not executed
        with pytest.raises(interpreter.Untrusted):
            interpreter.popen([str(inside), "-c", "pass"])
        with pytest.raises(interpreter.Untrusted):
            run_script(str(inside), "pass")
    finally:
        interpreter.set_policy(True)
    assert interpreter.refusal(str(inside)) is None


# --- 4: strict JSON on the wire --------------------------------------------------------------------
def _strict(body: bytes) -> None:
    def bad(token: str):
        raise ValueError(f"non-standard JSON token {token}")

    json.loads(body, parse_constant=bad)


def test_serializer_turns_non_finite_floats_into_null() -> None:
    from tensorleap_ls.lsp.server import build

    server = build()
    sent: list[bytes] = []

    class Writer:
        def write(self, data: bytes) -> None:
            sent.append(data)

        def close(self) -> None:
            pass

    server.protocol.set_writer(Writer())
    server.protocol.notify("tensorleap/preview", {"a": float("nan"), "b": [float("inf"), -float("inf"), 1.5],
                                                  "c": {"d": float("nan")}})
    header, _, body = sent[-1].partition(b"\r\n\r\n")
    assert int(header.split(b"Content-Length: ")[1].split(b"\r\n")[0]) == len(body)
    _strict(body)
    assert json.loads(body)["params"] == {"a": None, "b": [None, None, 1.5], "c": {"d": None}}


@pytest.mark.dynamic
def test_a_nan_session_is_strict_json_for_a_javascript_client(project: Path) -> None:
    enc = project / "tensorleap" / "encoders.py"
    text = enc.read_text()
    poisoned = text.replace("    return rng.random((IMAGE_SIZE, IMAGE_SIZE, 1)).astype(np.float32)",
                            "    x = rng.random((IMAGE_SIZE, IMAGE_SIZE, 1)).astype(np.float32)\n"
                            "    x[0, 0, 0], x[0, 1, 0], x[1, 0, 0] = np.nan, np.inf, -np.inf\n    return x")
    assert poisoned != text
    enc.write_text(poisoned)
    c = start_server(str(project), init_options={"trusted": True}, keep_raw=True)
    try:
        uri = open_entry(c, project)
        _, resp = c.request("workspace/executeCommand", {"command": "tensorleap.runChecks",
                                                         "arguments": [{"uri": uri}]}, timeout=180)
        assert "result" in resp, resp
        _, resp = c.request("workspace/executeCommand", {"command": "tensorleap.preview", "arguments": [
            {"uri": uri, "subset": "training", "sampleId": None}]}, timeout=180)
        assert "result" in resp, resp
    finally:
        c.close()
    assert c.raw and len(c.raw) > 3
    for body in c.raw:
        _strict(body)
    # and once through JavaScript's JSON.parse, as vscode-jsonrpc reads them
    script = ("const fs=require('fs');const xs=JSON.parse(fs.readFileSync(0,'utf8'));"
              "for(const x of xs){JSON.parse(x)};console.log(xs.length)")
    r = subprocess.run(["node", "-e", script], input=json.dumps([b.decode("utf-8") for b in c.raw]),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and int(r.stdout) == len(c.raw), r.stderr


# --- 5: special files ------------------------------------------------------------------------------
def _specialise(root: Path, kind: str) -> None:
    if kind == "fifo-requirements":
        (root / "requirements.txt").unlink()
        os.mkfifo(root / "requirements.txt")
    elif kind == "dev-zero-requirements":
        (root / "requirements.txt").unlink()
        os.symlink("/dev/zero", root / "requirements.txt")
    elif kind == "dev-stdin-config":
        (root / "tensorleap" / "config.yaml").unlink()
        os.symlink("/dev/stdin", root / "tensorleap" / "config.yaml")
    elif kind == "fifo-config":
        (root / "tensorleap" / "config.yaml").unlink()
        os.mkfifo(root / "tensorleap" / "config.yaml")
    elif kind == "fifo-entry":
        (root / "leap_integration.py").unlink()
        os.mkfifo(root / "leap_integration.py")


SPECIAL = ["fifo-requirements", "dev-zero-requirements", "dev-stdin-config", "fifo-config", "fifo-entry"]


@pytest.mark.parametrize("kind", SPECIAL)
def test_special_files_are_skipped_with_a_finding_by_the_cli(project: Path, kind: str) -> None:
    _specialise(project, kind)
    # stdin is a pipe nobody writes to: a read of /dev/stdin would hang until the timeout
    r = subprocess.run([sys.executable, "-m", "tensorleap_ls", "check", "--format", "json", str(project)],
                       capture_output=True, text=True, env=ENV, timeout=60, stdin=subprocess.PIPE)
    assert r.returncode in (0, 1), r.stderr
    assert "Traceback" not in r.stderr
    messages = [d["message"] for d in json.loads(r.stdout)["projects"][0]["diagnostics"] if d["code"] == "TL191"]
    assert any("not a regular file" in m for m in messages), messages


def test_special_files_never_stall_the_server(project: Path) -> None:
    for kind in ("fifo-requirements", "dev-stdin-config"):
        _specialise(project, kind)
    c = start_server(str(project))
    try:
        uri = open_entry(c, project)
        for method, params in (("textDocument/hover", {"position": {"line": 12, "character": 5}}),
                               ("textDocument/documentSymbol", {})):
            t, resp = c.request(method, {"textDocument": {"uri": uri}, **params}, timeout=20)
            assert "result" in resp, resp
        _, msg = c.wait_for(is_diag(uri), 0)
        assert any(d["code"] == "TL191" and "requirements.txt was skipped" in d["message"]
                   for d in msg["params"]["diagnostics"])
    finally:
        c.close()


def test_safe_reader_refuses_what_is_not_a_regular_file(tmp_path: Path) -> None:
    from tensorleap_ls.core.source import files

    os.mkfifo(tmp_path / "fifo")
    os.symlink("/dev/zero", tmp_path / "zero")
    (tmp_path / "big").write_bytes(b"x" * 2048)
    (tmp_path / "ok").write_text("fine\n")
    for name, why in (("fifo", "FIFO"), ("zero", "character device"), ("big", "larger than")):
        with pytest.raises(files.Refused) as e:
            files.read_bytes(str(tmp_path / name), max_bytes=1024)
        assert why in e.value.reason
        assert isinstance(e.value, OSError)
    assert files.read_text(str(tmp_path / "ok")) == "fine\n"


# --- 6: no traceback for any input ------------------------------------------------------------------
def test_nul_bytes_and_deep_nesting_give_findings_not_tracebacks(project: Path) -> None:
    entry = project / "leap_integration.py"
    text = entry.read_text()
    entry.write_text(text.replace("import numpy as np", "import numpy as np\x00", 1)
                     + "\nleap_binder_x = " + "g()" + ".h()" * 1100 + "\n"
                     + "CHAIN = " + "a" + ".b" * 1500 + "\n")
    r = cli("check", "--format", "json", str(project))
    assert "Traceback" not in r.stdout + r.stderr, r.stderr[-2000:]
    assert r.returncode == 1, r.stderr
    diags = json.loads(r.stdout)["projects"][0]["diagnostics"]
    nul = [d for d in diags if d["code"] == "TL191" and "NUL" in d["message"]]
    assert nul and nul[0]["line"] > 1, diags
    assert r.stderr == "", r.stderr  # no check crashed on the nesting


def _corpus_texts() -> list[tuple[str, str]]:
    from test_fuzz_lsp import ENTRY_TEXT, apply_edit

    out = []
    for case in sorted((HERE / "corpus").glob("*.json")):
        text = ENTRY_TEXT
        for i, (op, a, b, frag) in enumerate(json.loads(case.read_text(encoding="utf-8"))):
            text, _ = apply_edit(text, op, a, b, frag)
            out.append((f"{case.stem}-{i}", text))
    return out


def test_the_cli_prints_no_traceback_across_the_corpus(tmp_path: Path) -> None:
    cases = _corpus_texts() + [("nul", "x = 1\x00\n"), ("deep", "y = " + "f(" * 990 + ")" * 990 + "\n"),
                               ("chain", "z = " + "g()" + ".h()" * 1200 + "\n")]
    assert len(cases) >= 3
    for name, text in cases:
        root = tmp_path / name
        shutil.copytree(FIXTURE, root)
        (root / "leap_integration.py").write_text(text, encoding="utf-8", newline="")
        for fmt in ("text", "json"):
            r = cli("check", "--format", fmt, str(root))
            assert r.returncode in (0, 1), (name, r.stderr[-1000:])
            assert "Traceback" not in r.stdout + r.stderr, (name, r.stderr[-2000:])


# --- 10: arguments and settings --------------------------------------------------------------------
@pytest.mark.parametrize("args", [["--timeout", "nan"], ["--timeout", "inf"], ["--timeout", "-5"],
                                  ["--timeout", "1e300"], ["--memory-mb", "0"], ["--samples", "-3"],
                                  ["--timeout", "soon"]])
def test_bad_limits_are_usage_errors(project: Path, args: list[str]) -> None:
    r = cli("check", "--dynamic", *args, str(project))
    assert r.returncode == 2
    assert f"argument {args[0]}" in r.stderr and "Traceback" not in r.stderr
    assert not r.stdout


def test_bad_settings_are_logged_without_echoing_the_secret(project: Path) -> None:
    c = start_server(str(project), init_options={
        "timeoutSeconds": float("inf"), "memoryMb": 0, "samplesPerSubset": -3, "preprocessTimeoutSeconds": 1e300,
        "authSecret": ["tl-secret-in-a-list-9f8e"]})
    try:
        c.request("textDocument/documentSymbol", {"textDocument": {"uri": "file:///x.py"}})
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            logs = [m["params"]["message"] for _, m in c._notifications if m.get("method") == "window/logMessage"]
            if sum("ignored setting" in m for m in logs) >= 5:
                break
            time.sleep(0.1)
    finally:
        c.close()
    ignored = [m for m in logs if "ignored setting" in m]
    assert {re.match(r"ignored setting (\w+)", m).group(1) for m in ignored} == {
        "timeoutSeconds", "memoryMb", "samplesPerSubset", "preprocessTimeoutSeconds", "authSecret"}, ignored
    assert not any("tl-secret-in-a-list" in m for _, msg in c._notifications for m in [json.dumps(msg)])


# --- 11: protocol edges ------------------------------------------------------------------------------
def _frame(c, header: bytes, body: bytes) -> None:
    assert c.proc.stdin is not None
    c.proc.stdin.write(header + b"\r\n\r\n" + body)
    c.proc.stdin.flush()


def _alive(c) -> None:
    _, resp = c.request("textDocument/documentSymbol", {"textDocument": {"uri": "file:///nonexistent/x.py"}}, timeout=20)
    assert "result" in resp


def test_malformed_frames_batches_and_odd_ids_never_end_the_server(project: Path, tmp_path: Path) -> None:
    err = open(tmp_path / "stderr.txt", "wb")
    c = start_server(str(project), stderr=err)
    try:
        hover = json.dumps({"jsonrpc": "2.0", "id": 999, "method": "textDocument/hover", "params": {
            "textDocument": {"uri": "file:///x.py"}, "position": {"line": 0, "character": 0}}}).encode()
        for header in (b"Content-Length: -5", b"Content-Length: abc", b"Content-Length: 1e3",
                       b"Content-Type: application/json", b"Content-Length: 99999999999999999999"):
            _frame(c, header, hover)
            _alive(c)
        assert 999 not in c._responses  # a frame without a usable length is skipped, never guessed at
        # batches and bodies that are not objects: an error with id null
        _frame(c, b"Content-Length: %d" % len(b"[" + hover + b"]"), b"[" + hover + b"]")
        _frame(c, b"Content-Length: 2", b"42")
        _frame(c, b"Content-Length: 9", b"{not json")
        _alive(c)
        for odd in ({"a": 1}, [1], 1.5, True):
            body = json.dumps({"jsonrpc": "2.0", "id": odd, "method": "textDocument/hover", "params": {}}).encode()
            _frame(c, b"Content-Length: %d" % len(body), body)
        body = json.dumps({"id": 4242, "method": "textDocument/hover", "params": {}}).encode()  # no "jsonrpc"
        _frame(c, b"Content-Length: %d" % len(body), body)
        _alive(c)
        with c._lock:
            assert c._responses[4242][1]["error"]["code"] == -32600
            nulls = c._responses.get(None)
        assert nulls is not None and nulls[1]["error"]["code"] in (-32600, -32700), nulls
        # a request after shutdown: InvalidRequest, not silence
        _, resp = c.request("shutdown", None)
        assert "result" in resp
        _, resp = c.request("textDocument/hover", {"textDocument": {"uri": "file:///x.py"},
                                                   "position": {"line": 0, "character": 0}}, timeout=10)
        assert resp["error"]["code"] == -32600, resp
        c.notify("exit", None)
        assert c.proc.wait(timeout=15) == 0
    finally:
        if c.proc.poll() is None:
            c.proc.kill()
        err.close()
    stderr = (tmp_path / "stderr.txt").read_text(errors="replace")
    assert "Traceback" not in stderr, stderr[-3000:]
    assert "skipped a message" in stderr  # each skip leaves a log line


# --- 13: no future retained per notification ---------------------------------------------------------
def test_notifications_leave_no_future_behind() -> None:
    import asyncio

    from tensorleap_ls.lsp import protocol as proto
    from tensorleap_ls.lsp.server import build

    server = build()

    class Writer:
        def write(self, data: bytes) -> None:
            pass

        def close(self) -> None:
            pass

    server.protocol.set_writer(Writer())

    def send(msg: dict) -> None:
        proto._dispatch(server.protocol, json.dumps({"jsonrpc": "2.0", **msg}).encode(), None)

    async def session() -> int:
        send({"id": 1, "method": "initialize", "params": {"processId": None, "rootUri": None, "capabilities": {},
                                                          "initializationOptions": {"debounceMs": 100000}}})
        send({"method": "initialized", "params": {}})
        uri = "file:///tmp/tl-futures/x.py"
        send({"method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": uri, "languageId": "python", "version": 1, "text": ""}}})
        for v in range(2, 1002):
            send({"method": "textDocument/didChange", "params": {"textDocument": {"uri": uri, "version": v},
                  "contentChanges": [{"text": f"x = {v}\n"}]}})
        await asyncio.sleep(0.2)
        for task in server._tasks.values():  # noqa: SLF001 - the debounced analyses never ran
            task.cancel()
        return len(server.protocol._request_futures)  # noqa: SLF001

    assert asyncio.run(session()) < 5  # pygls 2.1.1 alone keeps ~1,000 here (bench/pygls_futures_repro.py)


# --- 6: the safety nets ------------------------------------------------------------------------------
def test_an_internal_error_in_a_handler_is_a_clear_answer_and_a_log_entry(caplog, monkeypatch) -> None:
    import asyncio

    from tensorleap_ls.lsp import navigation
    from tensorleap_ls.lsp import protocol as proto
    from tensorleap_ls.lsp.server import build

    def broken(ls, uri):  # a bug behind a real handler
        raise KeyError("a bug")

    monkeypatch.setattr(navigation, "symbols_of", broken)
    server = build()
    sent: list[dict] = []

    class Writer:
        def write(self, data: bytes) -> None:
            sent.append(json.loads(data.partition(b"\r\n\r\n")[2]))

        def close(self) -> None:
            pass

    server.protocol.set_writer(Writer())

    async def session() -> None:
        for msg in ({"id": 1, "method": "initialize", "params": {"processId": None, "rootUri": None, "capabilities": {}}},
                    {"id": 2, "method": "textDocument/documentSymbol", "params": {"textDocument": {"uri": "file:///x.py"}}}):
            proto._dispatch(server.protocol, json.dumps({"jsonrpc": "2.0", **msg}).encode(), None)
        await asyncio.sleep(0.1)

    with caplog.at_level("ERROR", logger="tensorleap_ls"):
        asyncio.run(session())
    (answer,) = [m for m in sent if m.get("id") == 2]
    assert answer["error"]["code"] == -32603 and "KeyError" in answer["error"]["message"]
    assert "traceback" not in json.dumps(answer).lower()
    logged = [m["params"]["message"] for m in sent if m.get("method") == "window/logMessage"]
    assert any("internal error in textDocument/documentSymbol" in m for m in logged), logged
    assert any(r.exc_info for r in caplog.records)  # the traceback is in the server's log, not on the wire


def test_an_internal_error_in_the_cli_is_one_line(project: Path, monkeypatch, capsys) -> None:
    from tensorleap_ls import cli as cli_module
    from tensorleap_ls.core.engine import analysis

    def broken(self, path):
        raise RuntimeError("a bug in the analysis")

    monkeypatch.setattr(analysis.Analyzer, "analyze_path", broken)
    monkeypatch.delenv("TL_DEBUG", raising=False)
    assert cli_module.main(["check", str(project)]) == 2
    err = capsys.readouterr().err
    assert "internal error (RuntimeError: a bug in the analysis)" in err and "Traceback" not in err
