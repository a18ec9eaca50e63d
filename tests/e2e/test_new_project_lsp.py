"""A project from an empty folder: tensorleap.newProjectFiles returns leap.yaml, requirements.txt, the
entry and (trusted, onnx in the project interpreter) a tiny ONNX model; written as returned, the
project checks clean statically and on real samples. Untrusted: nothing runs, a load_model stub
that the checks report once, as information."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest
import pytest_lsp
from pytest_lsp import LanguageClient

from test_dynamic_lsp import CONFIG, execute
from test_failures_lsp import _session, untrusted  # noqa: F401 - a fixture

pytestmark = [pytest.mark.e2e, pytest.mark.dynamic]


@pytest_lsp.fixture(config=CONFIG)
async def trusted(lsp_client: LanguageClient):
    await _session(lsp_client, trusted=True, interpreter=sys.executable)
    yield
    await lsp_client.shutdown_session()


def write(folder: Path, result: dict) -> None:
    for rel, text in result["files"].items():
        (folder / rel).write_text(text)
    for rel, data in result["binary"].items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(base64.b64decode(data))


def check(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tensorleap_ls", "check", "--dynamic", "--python", sys.executable,
                           str(folder)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TL_DISABLE_ANALYTICS": "1"})


async def test_new_project_with_a_generated_model_checks_clean(trusted: LanguageClient, tmp_path: Path):
    folder = tmp_path / "empty"
    folder.mkdir()
    result = await execute(trusted, "tensorleap.newProjectFiles", {"folder": folder.as_uri()})
    assert result["ok"] and result["model"] is True and result["sdk"] == "1.0.214"
    assert set(result["files"]) == {"leap.yaml", "requirements.txt", "leap_integration.py"}
    assert result["files"]["requirements.txt"].splitlines() == ["code-loader==1.0.214", "onnxruntime"]
    assert "entryFile: leap_integration.py" in result["files"]["leap.yaml"]
    assert not any(folder.iterdir())  # the server writes nothing: the client applies a WorkspaceEdit
    write(folder, result)
    r = check(folder)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip().splitlines()[-1] == "1 project(s) checked: 0 error(s), 0 warning(s), 0 info, 0 hint(s)"


async def test_new_project_untrusted_runs_nothing_and_stubs_the_model(untrusted: LanguageClient, tmp_path: Path):
    folder = tmp_path / "empty"
    folder.mkdir()
    result = await execute(untrusted, "tensorleap.newProjectFiles", {"folder": folder.as_uri()})
    assert result["ok"] and result["model"] is False and result["binary"] == {}
    assert result["files"]["requirements.txt"] == "code-loader==1.0.214\n"
    assert "raise NotImplementedError('TODO: load your model')" in result["files"]["leap_integration.py"]
    write(folder, result)
    r = check(folder)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[-1] == "1 project(s) checked: 0 error(s), 0 warning(s), 1 info, 0 hint(s)"
    assert "information TL310 `load_model` is a stub (TODO: load your model)" in lines[0]
