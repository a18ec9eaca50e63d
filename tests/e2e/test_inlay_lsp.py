"""Observed values inline (``textDocument/inlayHint``) over LSP, with the real code-loader in the child: the
content after a dynamic run and after a preview, the hint following its function when other lines move,
gone once the function's text changes, and the ``inlayHints`` setting."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient, client_capabilities

from test_diagnostics import open_doc, replace_all
from test_dynamic_lsp import CONFIG, copy, execute

pytestmark = [pytest.mark.e2e, pytest.mark.dynamic]


@pytest_lsp.fixture(config=CONFIG)
async def trusted(lsp_client: LanguageClient):
    lsp_client.feature(lsp.CLIENT_REGISTER_CAPABILITY)(lambda params: None)
    lsp_client.refreshed = 0

    @lsp_client.feature(lsp.WORKSPACE_INLAY_HINT_REFRESH)
    def refresh(params: None) -> None:
        lsp_client.refreshed += 1

    caps = client_capabilities("visual-studio-code")
    caps.workspace.inlay_hint = lsp.InlayHintWorkspaceClientCapabilities(refresh_support=True)
    await lsp_client.initialize_session(lsp.InitializeParams(
        capabilities=caps, initialization_options={"debounceMs": 0, "trusted": True}))
    yield
    await lsp_client.shutdown_session()


async def hints(client: LanguageClient, u: str, lines: int = 200) -> dict[int, list[str]]:
    """0-based line -> hint labels (each hint's position is the end of its line, checked here)."""
    got = await client.text_document_inlay_hint_async(lsp.InlayHintParams(
        text_document=lsp.TextDocumentIdentifier(u), range=lsp.Range(lsp.Position(0, 0), lsp.Position(lines, 0))))
    out: dict[int, list[str]] = {}
    for h in got or []:
        out.setdefault(h.position.line, []).append(h.label)
    return out


def def_line(text: str, name: str) -> int:
    return next(i for i, line in enumerate(text.split("\n")) if line.startswith(f"def {name}("))


async def test_a_run_shows_shape_dtype_range_and_metadata_types_at_each_definition(trusted: LanguageClient, tmp_path: Path):
    root = copy(tmp_path, "decorator_mnist")
    enc = root / "mnist_tl" / "encoders.py"
    text = enc.read_text()
    u = open_doc(trusted, enc)
    assert await hints(trusted, u) == {}  # nothing seen yet
    result = await execute(trusted, "tensorleap.runChecks", {"uri": u})
    assert result["ok"] and result["findings"] == 0, result
    assert trusted.refreshed >= 1  # the client is asked to show the new hints
    got = await hints(trusted, u)
    assert set(got) == {def_line(text, f) for f in ("input_encoder", "gt_encoder", "metadata_label", "metadata_stats")}, got
    image = got[def_line(text, "input_encoder")][0]
    # synthetic digits: a bar of 1.0 on noise in [0, 0.2)
    assert re.fullmatch(r"\(28, 28, 1\) float32 \[0\.0\d*|\(28, 28, 1\) float32 \[[0-9.e-]+, 1\]", image), image
    assert got[def_line(text, "gt_encoder")] == ["(10,) float32 [0, 1]"]
    assert got[def_line(text, "metadata_label")] == ["str"]
    assert got[def_line(text, "metadata_stats")] == ["{brightness: float, is_even: bool}"]
    # the hint sits at the end of the def line
    full = await trusted.text_document_inlay_hint_async(lsp.InlayHintParams(
        text_document=lsp.TextDocumentIdentifier(u), range=lsp.Range(lsp.Position(0, 0), lsp.Position(200, 0))))
    first = next(h for h in full if h.label == "str")
    assert first.position.character == len(text.split("\n")[def_line(text, "metadata_label")])
    assert "observed by the dynamic checks" in first.tooltip.value


async def test_hints_follow_their_function_and_go_when_it_changes(trusted: LanguageClient, tmp_path: Path):
    root = copy(tmp_path, "decorator_mnist")
    enc = root / "mnist_tl" / "encoders.py"
    text = enc.read_text()
    u = open_doc(trusted, enc)
    await execute(trusted, "tensorleap.runChecks", {"uri": u})
    assert len(await hints(trusted, u)) == 4
    # two lines above everything: every hint moves with its function
    moved = "# a comment\n# another\n" + text
    replace_all(trusted, u, 2, moved)
    got = await hints(trusted, u)
    assert set(got) == {def_line(moved, f) for f in ("input_encoder", "gt_encoder", "metadata_label", "metadata_stats")}
    # the input encoder's body changes: its hint (values of code that is gone) disappears, the others stay
    edited = moved.replace(".astype(np.float32)", ".astype(np.float32) * 2")
    assert edited != moved
    replace_all(trusted, u, 3, edited)
    got = await hints(trusted, u)
    assert def_line(edited, "input_encoder") not in got
    assert set(got) == {def_line(edited, f) for f in ("gt_encoder", "metadata_label", "metadata_stats")}
    # undoing the edit brings them back: the text is again the one the run saw
    replace_all(trusted, u, 4, moved)
    assert def_line(moved, "input_encoder") in await hints(trusted, u)


async def test_a_preview_shows_the_values_of_its_sample_and_the_setting_turns_hints_off(trusted: LanguageClient, tmp_path: Path):
    root = copy(tmp_path, "decorator_mnist")
    enc = root / "mnist_tl" / "encoders.py"
    text = enc.read_text()
    u = open_doc(trusted, enc)
    result = await execute(trusted, "tensorleap.preview", {"uri": u, "subset": "validation", "sampleId": None})
    assert result["ok"], result.get("message")
    full = await trusted.text_document_inlay_hint_async(lsp.InlayHintParams(
        text_document=lsp.TextDocumentIdentifier(u), range=lsp.Range(lsp.Position(0, 0), lsp.Position(200, 0))))
    by_line = {h.position.line: h for h in full}
    gt = by_line[def_line(text, "gt_encoder")]
    assert gt.label == "(10,) float32 [0, 1]" and "in the preview of validation sample" in gt.tooltip.value
    assert by_line[def_line(text, "metadata_stats")].label == "{brightness: float, is_even: bool}"
    trusted.workspace_did_change_configuration(lsp.DidChangeConfigurationParams(settings={"tensorleap": {"inlayHints": False}}))
    assert await hints(trusted, u) == {}
    trusted.workspace_did_change_configuration(lsp.DidChangeConfigurationParams(settings={"tensorleap": {"inlayHints": True}}))
    assert len(await hints(trusted, u)) == 4
