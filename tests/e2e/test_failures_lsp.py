"""Failures explain themselves, findings stay true (the real server over stdio, the real code-loader):
the preview notification carries the reason and the project's subsets; an interpreter without
code-loader is named with what is missing; a float64 encoder is one diagnostic with the test failure
as related information, withdrawn when the encoder changes; untrusted workspaces get no preview lens."""

from __future__ import annotations

import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from test_diagnostics import open_doc, replace_all, wait_diags
from test_dynamic_lsp import CONFIG, copy, execute

pytestmark = [pytest.mark.e2e, pytest.mark.dynamic]


async def _session(lsp_client: LanguageClient, **options):
    lsp_client.feature(lsp.CLIENT_REGISTER_CAPABILITY)(lambda params: None)
    lsp_client.panel = []
    lsp_client.feature("tensorleap/preview")(lambda params: lsp_client.panel.append(params))
    await lsp_client.initialize_session(lsp.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"), initialization_options={"debounceMs": 0, **options}))


@pytest_lsp.fixture(config=CONFIG)
async def trusted(lsp_client: LanguageClient):
    await _session(lsp_client, trusted=True)
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=CONFIG)
async def bare(lsp_client: LanguageClient):
    """Trusted, but the project interpreter is a Python without code-loader."""
    await _session(lsp_client, trusted=True, interpreter=shutil.which("python3") or "/usr/bin/python3")
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=CONFIG)
async def untrusted(lsp_client: LanguageClient):
    await _session(lsp_client)
    yield
    await lsp_client.shutdown_session()


def panel(params):
    """The notification as the extension receives it (plain JSON; pygls hands over named tuples)."""
    if hasattr(params, "_asdict"):
        return {k: panel(v) for k, v in params._asdict().items()}
    if isinstance(params, dict):
        return {k: panel(v) for k, v in params.items()}
    if isinstance(params, (list, tuple)):
        return [panel(v) for v in params]
    return params


async def test_preview_failure_carries_the_reason_then_recovers(trusted: LanguageClient, tmp_path: Path):
    root = copy(tmp_path, "decorator_mnist")
    u = open_doc(trusted, root / "leap_integration.py")
    await wait_diags(trusted, u, lambda d: True)
    result = await execute(trusted, "tensorleap.preview", {"uri": u, "subset": "training", "sampleId": 99999})
    assert result["ok"] is False
    shown = panel(trusted.panel[-1])
    assert shown["ok"] is False
    assert "sample 99999 is not in the training subset" in shown["message"]
    assert shown["subsets"] == ["training", "validation"]  # the project's subsets, not a fixed list
    assert shown["first"] == 0
    # a subset the project does not have: the reason names the ones it has
    await execute(trusted, "tensorleap.preview", {"uri": u, "subset": "test", "sampleId": None})
    shown = panel(trusted.panel[-1])
    assert shown["ok"] is False and "no subset 'test'" in shown["message"] and "'validation'" in shown["message"]
    # the next good request recovers, with the real neighbours
    await execute(trusted, "tensorleap.preview", {"uri": u, "subset": "validation", "sampleId": None})
    shown = panel(trusted.panel[-1])
    assert shown["ok"] is True and shown["message"] is None and "<img" in shown["html"]
    assert shown["neighbors"]["prev"] is None and shown["neighbors"]["next"] is not None
    assert shown["sample_id"] == shown["first"]


async def test_float64_encoder_is_one_diagnostic_named_in_the_panel_and_withdrawn_on_edit(
        trusted: LanguageClient, tmp_path: Path):
    root = copy(tmp_path, "decorator_mnist")
    enc = root / "mnist_tl" / "encoders.py"
    good = enc.read_text()
    bad = good.replace("astype(np.float32)", "astype(np.float64)", 1)
    enc.write_text(bad)
    u = open_doc(trusted, root / "leap_integration.py")
    eu = open_doc(trusted, enc)
    await wait_diags(trusted, eu, lambda d: any(x.code == "TL223" for x in d))  # the static warning, before a run
    result = await execute(trusted, "tensorleap.runChecks", {"uri": u})
    assert result["ran"] and "TL504" in result["codes"]
    diags = await wait_diags(trusted, eu, lambda d: any(x.code == "TL504" for x in d))
    assert [d.code for d in diags if d.code.startswith("TL2") or d.code.startswith("TL5")] == ["TL504"]
    related = diags[[d.code for d in diags].index("TL504")].related_information
    assert related and "input_encoder() validation failed" in related[0].message
    assert related[0].location.uri.endswith("leap_integration.py")
    entry_diags = trusted.diagnostics.get(u) or []
    assert not any(d.code == "TL523" for d in entry_diags)
    # the preview names the function, the sample and a link to the encoder
    await execute(trusted, "tensorleap.preview", {"uri": u, "subset": "training", "sampleId": 2})
    shown = panel(trusted.panel[-1])
    problem = next(p for p in shown["problems"] if p["code"] == "TL523")
    assert problem["function"] == "input_encoder" and problem["sample"] == 2 and problem["subset"] == "training"
    assert problem["file"] == str(enc.resolve()) and good.split("\n")[problem["line"] - 1].startswith("def input_encoder")
    # an edit elsewhere in the file keeps it (moved with its function); an edit of the encoder withdraws it
    replace_all(trusted, eu, 2, "# a comment\n" + bad)
    diags = await wait_diags(trusted, eu, lambda d: any(x.code == "TL504" for x in d)
                             and [x for x in d if x.code == "TL504"][0].range.start.line == problem["line"])
    replace_all(trusted, eu, 3, "# a comment\n" + good)
    await wait_diags(trusted, eu, lambda d: not any(x.code.startswith("TL5") or x.code == "TL223" for x in d))


async def test_interpreter_without_code_loader_is_named_with_what_is_missing(bare: LanguageClient, tmp_path: Path):
    root = copy(tmp_path, "decorator_mnist")
    u = open_doc(bare, root / "leap_integration.py")
    await wait_diags(bare, u, lambda d: True)
    for command in ("tensorleap.preview", "tensorleap.runChecks"):
        result = await execute(bare, command, {"uri": u, "subset": "training", "sampleId": None}
                               if command == "tensorleap.preview" else {"uri": u})
        assert result["ok"] is False
        reason = result["reason"]
        assert reason["kind"] == "interpreter" and reason["role"] == "project"
        assert reason["interpreter"] == (shutil.which("python3") or "/usr/bin/python3")
        assert reason["version"].startswith("3.")
        assert "code_loader" in reason["missing"] and "code-loader" in reason["packages"]
    assert panel(bare.panel[-1])["reason"]["missing"] == reason["missing"]
    env = await execute(bare, "tensorleap.environment", {"uri": u})
    assert env["server"]["interpreter"] == sys.executable
    assert env["project"]["code_loader"] is None and "code_loader" in env["project"]["missing"]


async def test_environment_names_both_interpreters_and_the_sdk(trusted: LanguageClient, tmp_path: Path):
    root = copy(tmp_path, "decorator_mnist")
    u = open_doc(trusted, root / "leap_integration.py")
    env = await execute(trusted, "tensorleap.environment", {"uri": u})
    assert env["project"]["code_loader"] == "1.0.214" and env["project"]["onnx"] is True
    assert env["server"]["version"].startswith("3.")


async def test_untrusted_no_preview_lens_and_no_run(untrusted: LanguageClient, tmp_path: Path):
    root = copy(tmp_path, "decorator_mnist")
    enc = root / "mnist_tl" / "encoders.py"
    eu = open_doc(untrusted, enc)
    await wait_diags(untrusted, eu, lambda d: True)
    lenses = await untrusted.text_document_code_lens_async(lsp.CodeLensParams(
        text_document=lsp.TextDocumentIdentifier(uri=eu)))
    assert not any(lens.command and lens.command.command == "tensorleap.preview" for lens in lenses)
    result = await execute(untrusted, "tensorleap.runChecks", {"uri": eu})
    assert result == {"ok": False, "ran": False, "message": result["message"], "reason": {"kind": "untrusted"}}
    env = await execute(untrusted, "tensorleap.environment", {"uri": eu})
    assert env["trusted"] is False and env["project"]["version"] is None  # the project interpreter was not run



def _hide_pillow() -> str:
    """A PYTHONPATH entry that hides Pillow from the server (as in an interpreter without it)."""
    d = Path(tempfile.mkdtemp(prefix="tl-no-pillow-"))
    (d / "PIL").mkdir()
    (d / "PIL" / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'PIL'\", name='PIL')\n")
    return str(d)


@pytest_lsp.fixture(config=ClientServerConfig(server_command=CONFIG.server_command,
                                              server_env={**os.environ, "TL_DISABLE_ANALYTICS": "1",
                                                          "PYTHONPATH": _hide_pillow()}))
async def no_pillow(lsp_client: LanguageClient):
    await _session(lsp_client, trusted=True, interpreter=sys.executable)
    yield
    await lsp_client.shutdown_session()


async def test_server_without_pillow_still_previews_and_names_the_install_line(no_pillow: LanguageClient,
                                                                                tmp_path: Path):
    """Pillow is optional for the server (the .vsix bundles no native code): plain images are drawn with
    the standard library, bar charts as HTML in the page (never an empty card with its reason at the
    bottom); only boxes need Pillow (tests/compat/test_without_pillow.py)."""
    root = copy(tmp_path, "decorator_mnist")
    u = open_doc(no_pillow, root / "leap_integration.py")
    await wait_diags(no_pillow, u, lambda d: True)
    result = await execute(no_pillow, "tensorleap.preview", {"uri": u, "subset": "training", "sampleId": None})
    assert result["ok"] is True and result["images"], result.get("message")
    shown = panel(no_pillow.panel[-1])
    assert shown["ok"] and "visualizers/prediction_bar" not in result["images"]
    card = shown["html"].split("<b>prediction_bar</b>", 1)[1].split("</table>", 1)[0]
    assert "<table class='bars'>" in card and card.count("<tr>") == 10, card[:300]  # one bar per label
    assert "pip install pillow" not in shown["html"]  # nothing here needs it


@pytest_lsp.fixture(config=CONFIG)
async def on_save(lsp_client: LanguageClient):
    await _session(lsp_client, trusted=True, interpreter=sys.executable, dynamicChecksOnSave=True)
    yield
    await lsp_client.shutdown_session()


async def test_dynamic_checks_on_save_recheck_the_saved_code(on_save: LanguageClient, tmp_path: Path):
    root = copy(tmp_path, "decorator_mnist")
    enc = root / "mnist_tl" / "encoders.py"
    good = enc.read_text()
    eu = open_doc(on_save, enc)
    await wait_diags(on_save, eu, lambda d: True)
    bad = good.replace("astype(np.float32)", "astype(np.float64)", 1)
    replace_all(on_save, eu, 2, bad)
    enc.write_text(bad)
    on_save.text_document_did_save(lsp.DidSaveTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=eu)))
    await wait_diags(on_save, eu, lambda d: any(x.code == "TL504" for x in d), timeout=60)
    replace_all(on_save, eu, 3, good)
    enc.write_text(good)
    on_save.text_document_did_save(lsp.DidSaveTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=eu)))
    await wait_diags(on_save, eu, lambda d: not any(x.code.startswith("TL5") or x.code == "TL223" for x in d), timeout=60)
