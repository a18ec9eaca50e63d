"""The data-set scan over LSP (the real server over stdio): the command, its work-done progress, cancellation,
the diagnostics it feeds (one per function and check, with counts and the first sample ids), trust."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import psutil
import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

import planted
import tensorleap_ls

pytestmark = [pytest.mark.e2e, pytest.mark.dynamic]
SERVE = [sys.executable, str(Path(tensorleap_ls.__file__).parent / "_boot" / "serve.py")]
STALL = Path(os.environ.get("TMPDIR", "/tmp")) / f"tl-scan-lsp-stall-{os.getpid()}"


def config(**env: str) -> ClientServerConfig:
    return ClientServerConfig(server_command=SERVE, server_env={**os.environ, "TL_DISABLE_ANALYTICS": "1", **env})


async def start(client: LanguageClient, trusted: bool = True) -> None:
    client.feature(lsp.CLIENT_REGISTER_CAPABILITY)(lambda params: None)
    await client.initialize_session(lsp.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"),
        initialization_options={"debounceMs": 0, "trusted": trusted, "interpreter": sys.executable}))


@pytest_lsp.fixture(config=config())
async def trusted(lsp_client: LanguageClient):
    await start(lsp_client)
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=config())
async def untrusted(lsp_client: LanguageClient):
    await start(lsp_client, trusted=False)
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=config(TL_SCAN_STALL=f"4100:{STALL}"))
async def stalling(lsp_client: LanguageClient):
    STALL.unlink(missing_ok=True)
    await start(lsp_client)
    yield
    await lsp_client.shutdown_session()
    STALL.unlink(missing_ok=True)


def project(tmp_path: Path, n: int = 5000) -> tuple[Path, str]:
    root = tmp_path / "shapes"
    entry = planted.write(root, n=n)
    return root, entry.as_uri()


async def scan(client: LanguageClient, uri: str, **args):
    return await client.workspace_execute_command_async(lsp.ExecuteCommandParams(
        command="tensorleap.scan", arguments=[{"uri": uri, **args}]))


async def test_scan_feeds_diagnostics_and_reports_progress(trusted: LanguageClient, tmp_path: Path):
    root, uri = project(tmp_path)
    result = await scan(trusted, uri, workers=2)
    assert result["ok"] is True and result["findings"] == 2, result.get("message")
    doc = result["summary"]
    assert doc["scan"]["samples"] == 5001 and doc["scan"]["workers"] == 2
    assert {(f["sample_id"], f["code"]) for f in doc["scan"]["failures"]} == {(555, "TL512"), (2468, "TL536")}
    assert any(c["kind"] == "histogram" for c in doc["charts"]) and any(c["kind"] == "values" for c in doc["charts"])
    assert Path(result["report"][-1]).name == "report.html" and Path(result["report"][-1]).exists()
    # one diagnostic per function and check, at the function (or where it raised), with the first sample ids
    diags = trusted.diagnostics[uri]
    scans = sorted((d.code, d.range.start.line, d.message) for d in diags if d.message.startswith("scan: "))
    lines = (root / "leap_integration.py").read_text().split("\n")
    assert [c for c, _, _ in scans] == ["TL512", "TL536"]
    assert "def load_annotations" in lines[scans[0][1]] and "def meta_label" in lines[scans[1][1]]
    assert "1 sample(s) fail (first: training 2468)" in scans[1][2]
    # work-done progress: begun, reported with counts and percentages, ended with the summary
    reports = [r for rs in trusted.progress_reports.values() for r in rs]
    assert any(isinstance(r, lsp.WorkDoneProgressBegin) and r.cancellable for r in reports)
    assert any(isinstance(r, lsp.WorkDoneProgressReport) and "/5,001 samples" in (r.message or "") for r in reports)
    assert any(isinstance(r, lsp.WorkDoneProgressEnd) and "5,001 samples, 2 failure(s)" in (r.message or "") for r in reports)
    # a second scan replaces the first one's diagnostics (and reads the cache)
    again = await scan(trusted, uri)
    assert again["summary"]["scan"]["cache"]["computed"] == 0
    diags = trusted.diagnostics[uri]
    assert sorted(d.code for d in diags if d.message.startswith("scan: ")) == ["TL512", "TL536"]


async def test_untrusted_workspace_scans_nothing(untrusted: LanguageClient, tmp_path: Path):
    root, uri = project(tmp_path, n=50)
    result = await scan(untrusted, uri)
    assert result["ok"] is False and result["reason"]["kind"] == "untrusted"
    assert not (root / ".tensorleap").exists()


async def test_cancel_stops_the_scan_and_its_workers(stalling: LanguageClient, tmp_path: Path):
    _, uri = project(tmp_path)
    task = asyncio.ensure_future(scan(stalling, uri, workers=2))
    for _ in range(600):  # a worker reached the stalling sample: the scan is running
        if STALL.exists():
            break
        await asyncio.sleep(0.1)
    assert STALL.exists()
    token = next(iter(stalling.progress_reports))
    stalling.protocol.notify(lsp.WINDOW_WORK_DONE_PROGRESS_CANCEL, lsp.WorkDoneProgressCancelParams(token=token))
    result = await asyncio.wait_for(task, 60)
    assert result["cancelled"] is True
    assert result["summary"]["scan"]["samples"] == 5001
    stalled = int(STALL.read_text())
    assert not psutil.pid_exists(stalled) or psutil.Process(stalled).status() == psutil.STATUS_ZOMBIE
