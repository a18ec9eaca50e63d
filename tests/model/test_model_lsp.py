"""The model checks in the real server over stdio: in a trusted workspace the model's facts are read
off the event loop and TL601 is published (and TL602 for a legacy project, from the model its local test
loads); in an untrusted one no interpreter runs to read them."""

from __future__ import annotations

import asyncio
import os
import stat
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

import tensorleap_ls

from onnx_models import project
from test_model_legacy import EMBEDDING, LAST_PREDICTION, legacy

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from test_diagnostics import open_doc, wait_diags  # noqa: E402

pytestmark = [pytest.mark.e2e]
CONFIG = ClientServerConfig(server_command=[sys.executable, str(Path(tensorleap_ls.__file__).parent / "_boot" / "serve.py")],
                            server_env={**os.environ, "TL_DISABLE_ANALYTICS": "1"})
TYPO = [("{'image': image}", "{'imgae': image}")]


def spy_python(tmp_path: Path) -> tuple[Path, Path]:
    """An interpreter that records that it ran, then behaves like this one."""
    marker = tmp_path / "interpreter-ran.txt"
    exe = tmp_path / "spy-python"
    exe.write_text(f"#!/bin/sh\necho ran >> {marker}\nexec {sys.executable} \"$@\"\n")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return exe, marker


async def _session(client: LanguageClient, options: dict) -> None:
    client.feature(lsp.CLIENT_REGISTER_CAPABILITY)(lambda params: None)
    await client.initialize_session(lsp.InitializeParams(capabilities=client_capabilities("visual-studio-code"),
                                                         initialization_options=options))


@pytest_lsp.fixture(config=CONFIG)
async def server(lsp_client: LanguageClient):
    yield lsp_client
    await lsp_client.shutdown_session()


async def test_trusted_workspace_reports_the_misspelled_feed(server: LanguageClient, tmp_path: Path):
    exe, marker = spy_python(tmp_path)
    await _session(server, {"debounceMs": 0, "trusted": True, "interpreter": str(exe)})
    root = project(tmp_path, TYPO)
    u = open_doc(server, root / "leap_integration.py")
    diags = await wait_diags(server, u, lambda d: any(x.code == "TL601" for x in d), timeout=60)
    [d] = [x for x in diags if x.code == "TL601"]
    line = (root / "leap_integration.py").read_text().split("\n")[d.range.start.line]
    assert line[d.range.start.character:d.range.end.character] == "'imgae'"
    assert "Did you mean `image`?" in d.message and d.severity == lsp.DiagnosticSeverity.Error
    assert marker.exists()


async def test_untrusted_workspace_runs_no_interpreter(server: LanguageClient, tmp_path: Path):
    exe, marker = spy_python(tmp_path)
    await _session(server, {"debounceMs": 0, "interpreter": str(exe)})
    root = project(tmp_path, TYPO)
    u = open_doc(server, root / "leap_integration.py")
    diags = await wait_diags(server, u, lambda d: True)
    await asyncio.sleep(3)  # time a facts reader would have needed to run and republish
    assert not [x for x in (server.diagnostics.get(u) or diags) if str(x.code).startswith("TL6")]
    assert not marker.exists()


async def test_trusted_legacy_workspace_reports_the_prediction_count(server: LanguageClient, tmp_path: Path):
    exe, marker = spy_python(tmp_path)
    await _session(server, {"debounceMs": 0, "trusted": True, "interpreter": str(exe)})
    root = legacy(tmp_path, plant=[("leap_binder.py", LAST_PREDICTION, f"{LAST_PREDICTION}\n{EMBEDDING}")])
    u = open_doc(server, root / "leap_binder.py")
    diags = await wait_diags(server, u, lambda d: any(x.code == "TL602" for x in d), timeout=60)
    [d] = [x for x in diags if x.code == "TL602"]
    assert d.severity == lsp.DiagnosticSeverity.Warning and "(the model leap_custom_test.py loads)" in d.message
    assert (root / "leap_binder.py").read_text().split("\n")[d.range.start.line] == EMBEDDING
    assert marker.exists()
