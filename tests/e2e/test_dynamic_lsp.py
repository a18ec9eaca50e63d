"""Dynamic checks and previews over LSP: trust gating, findings merged with the static ones,
previews with images, and a server that keeps answering after user code crashes."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

import tensorleap_ls

from test_diagnostics import open_doc, wait_diags

pytestmark = [pytest.mark.e2e, pytest.mark.dynamic]
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


# trust comes from initializationOptions, as the VS Code extension sends it
CONFIG = ClientServerConfig(server_command=[sys.executable, str(Path(tensorleap_ls.__file__).parent / "_boot" / "serve.py")],
                            server_env={**os.environ, "TL_DISABLE_ANALYTICS": "1"})


@pytest_lsp.fixture(config=CONFIG)
async def trusted(lsp_client: LanguageClient):
    lsp_client.feature(lsp.CLIENT_REGISTER_CAPABILITY)(lambda params: None)
    await lsp_client.initialize_session(lsp.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"),
        initialization_options={"debounceMs": 0, "trusted": True, "timeoutSeconds": 2.0}))
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=CONFIG)
async def untrusted(lsp_client: LanguageClient):
    lsp_client.feature(lsp.CLIENT_REGISTER_CAPABILITY)(lambda params: None)
    await lsp_client.initialize_session(lsp.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"), initialization_options={"debounceMs": 0}))
    yield
    await lsp_client.shutdown_session()


def copy(tmp_path: Path, name: str) -> Path:
    dst = tmp_path / name
    shutil.copytree(EXAMPLES / name, dst, ignore=shutil.ignore_patterns("__pycache__"))
    return dst


async def execute(client: LanguageClient, command: str, args: dict):
    return await client.workspace_execute_command_async(lsp.ExecuteCommandParams(command=command, arguments=[args]))


async def test_untrusted_workspace_runs_no_user_code(untrusted: LanguageClient, tmp_path: Path):
    root = copy(tmp_path, "legacy_mnist")
    marker = tmp_path / "ran.txt"
    entry = root / "leap_binder.py"
    entry.write_text(f"open({str(marker)!r}, 'w').write('user code ran')\n" + entry.read_text())
    u = open_doc(untrusted, entry)
    await wait_diags(untrusted, u, lambda d: True)
    result = await execute(untrusted, "tensorleap.runChecks", {"uri": u})
    assert result["ok"] is False and "not trusted" in result["message"]
    result = await execute(untrusted, "tensorleap.preview", {"uri": u, "subset": "training", "sampleId": "training_0"})
    assert result["ok"] is False
    assert not marker.exists()


async def test_run_checks_merges_findings_and_survives_a_crash(trusted: LanguageClient, tmp_path: Path):
    root = copy(tmp_path, "legacy_mnist")
    funcs = root / "digits" / "functions.py"
    good = funcs.read_text()
    funcs.write_text(good.replace("    return preprocess.data['images'][_index(sample_id)].astype(np.float32)",
                                  "    return preprocess.data['images'][_index(sample_id)].astype(np.float64)"))
    entry = root / "leap_binder.py"
    u = open_doc(trusted, entry)
    await wait_diags(trusted, u, lambda d: True)
    result = await execute(trusted, "tensorleap.runChecks", {"uri": u})
    assert result["ok"] and "TL504" in result["codes"]
    # the hover of the input encoder now shows what the run observed
    lines = funcs.read_text().split("\n")
    line = next(i for i, ln in enumerate(lines) if ln.startswith("def encode_image"))
    open_doc(trusted, funcs)
    hover = await trusted.text_document_hover_async(lsp.HoverParams(
        text_document=lsp.TextDocumentIdentifier(uri=funcs.resolve().as_uri()), position=lsp.Position(line, 6)))
    assert "last run: shape (28, 28, 1), dtype float64" in hover.contents.value
    fu = funcs.resolve().as_uri()
    diags = await wait_diags(trusted, fu, lambda d: any(x.code == "TL504" for x in d))
    assert all(d.source == "tensorleap" for d in diags)
    # user code that kills its process: a diagnostic, and the server keeps answering
    funcs.write_text(good.replace("def encode_image(sample_id: str, preprocess: PreprocessResponse) -> np.ndarray:\n",
                                  "def encode_image(sample_id: str, preprocess: PreprocessResponse) -> np.ndarray:\n"
                                  "    import os\n    os._exit(9)\n"))
    trusted.text_document_did_save(lsp.DidSaveTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=u)))
    result = await execute(trusted, "tensorleap.runChecks", {"uri": u})
    assert result["ok"] and result["codes"] == ["TL532"]
    await wait_diags(trusted, fu, lambda d: any(x.code == "TL532" for x in d))
    symbols = await trusted.text_document_document_symbol_async(lsp.DocumentSymbolParams(
        text_document=lsp.TextDocumentIdentifier(uri=u)))
    assert symbols
    # fixed: the next run uses a fresh child and clears the dynamic findings
    funcs.write_text(good)
    trusted.text_document_did_save(lsp.DidSaveTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=u)))
    result = await execute(trusted, "tensorleap.runChecks", {"uri": u})
    assert result["ok"] and result["codes"] == []
    await wait_diags(trusted, fu, lambda d: not any(x.code.startswith("TL5") for x in d))


async def test_preview_returns_images_and_html(trusted: LanguageClient, tmp_path: Path):
    root = copy(tmp_path, "decorator_mnist")
    entry = root / "leap_integration.py"
    u = open_doc(trusted, entry)
    await wait_diags(trusted, u, lambda d: True)
    result = await execute(trusted, "tensorleap.preview", {"uri": u, "subset": "training", "sampleId": 3})
    assert result["ok"], result
    assert result["sample_id"] == 3
    assert "visualizers/image_visualizer" in result["images"]
    assert "<img" in result["html"] and "Model outputs" in result["html"]
    assert result["predictions"][0]["top"][0][0] in ("zero", "one", "two", "three", "four", "five", "six", "seven",
                                                     "eight", "nine")
    lenses = await trusted.text_document_code_lens_async(lsp.CodeLensParams(
        text_document=lsp.TextDocumentIdentifier(uri=(root / "mnist_tl" / "encoders.py").resolve().as_uri())))
    assert any(lens.command and lens.command.command == "tensorleap.preview" for lens in lenses)
