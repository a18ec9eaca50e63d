"""Completion, hover, signature help, symbols and the checklist lens, through the real server."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient

from test_diagnostics import open_doc, wait_diags

pytestmark = pytest.mark.e2e


async def labels_at(client: LanguageClient, u: str, line: int, character: int) -> list[str]:
    result = await client.text_document_completion_async(lsp.CompletionParams(
        text_document=lsp.TextDocumentIdentifier(uri=u), position=lsp.Position(line, character)))
    items = result.items if isinstance(result, lsp.CompletionList) else result
    return [i.label for i in sorted(items, key=lambda i: i.sort_text or i.label)]


async def edited(client: LanguageClient, path: Path, text: str) -> str:
    u = open_doc(client, path, text)
    await wait_diags(client, u, lambda d: True)
    return u


@pytest.mark.parametrize("snippet,expect_first,expect", [
    ("leap_binder.", None, {"set_input", "set_preprocess", "add_custom_metric", "add_prediction"}),
    ("@tensorleap_", None, {"tensorleap_input_encoder", "tensorleap_custom_visualizer", "tensorleap_integration_test"}),
    ("@tensorleap_custom_visualizer('mask', ", "LeapDataType.Image", {"LeapDataType.ImageMask", "LeapDataType.HorizontalBar"}),
    ("x = DataStateType.", "training", {"validation", "test", "unlabeled"}),
    ("x = MetricDirection.", "Upward", {"Downward"}),
    ("x = DatasetMetadataType.", None, {"float", "string", "int", "boolean"}),
    ("x = PreprocessResponse(sample_ids=ids, ", None, {"state=", "sample_id_type=", "data="}),
    ("x = LeapImageMask(", None, {"mask=", "image=", "labels="}),
    ("@tensorleap_custom_visualizer('v', LeapDataType.Image, heatmap_function=", None, {"image_visualizer", "input_encoder"}),
    ("    prediction = model.run(None, {'", None, {"image", "classes"}),
])
async def test_completion_contexts(client: LanguageClient, project: Path, snippet, expect_first, expect):
    entry = project / "leap_integration.py"
    text = entry.read_text() + "\n" + snippet
    u = await edited(client, entry, text)
    lines = text.split("\n")
    got = await labels_at(client, u, len(lines) - 1, len(lines[-1]))
    assert expect <= set(got), got
    if expect_first:
        assert got[0] == expect_first, got


async def test_return_annotation_completes_the_matching_leap_class_first(client: LanguageClient, project: Path):
    viz = project / "mnist_tl" / "visualizers.py"
    text = viz.read_text() + ("\n\n@tensorleap_custom_visualizer('mask_viz', LeapDataType.ImageMask)\n"
                              "def mask_viz(image: np.ndarray) -> Leap")
    u = await edited(client, viz, text)
    lines = text.split("\n")
    got = await labels_at(client, u, len(lines) - 1, len(lines[-1]))
    assert got[0] == "LeapImageMask", got


async def test_hover_on_a_binding_and_on_a_decorator(client: LanguageClient, project: Path):
    enc = project / "mnist_tl" / "encoders.py"
    text = enc.read_text()
    u = await edited(client, enc, text)
    lines = text.split("\n")
    line = next(i for i, ln in enumerate(lines) if ln.startswith("def input_encoder"))
    hover = await client.text_document_hover_async(lsp.HoverParams(
        text_document=lsp.TextDocumentIdentifier(uri=u), position=lsp.Position(line, 6)))
    assert "input" in hover.contents.value and "`image`" in hover.contents.value and "float32" in hover.contents.value
    line = next(i for i, ln in enumerate(lines) if ln.startswith("@tensorleap_gt_encoder"))
    hover = await client.text_document_hover_async(lsp.HoverParams(
        text_document=lsp.TextDocumentIdentifier(uri=u), position=lsp.Position(line, 5)))
    assert "tensorleap_gt_encoder(name)" in hover.contents.value and "unbatched" in hover.contents.value


async def test_signature_help_tracks_the_argument(client: LanguageClient, project: Path):
    entry = project / "leap_integration.py"
    text = entry.read_text() + "\n@tensorleap_custom_metric('m', "
    u = await edited(client, entry, text)
    lines = text.split("\n")
    sig = await client.text_document_signature_help_async(lsp.SignatureHelpParams(
        text_document=lsp.TextDocumentIdentifier(uri=u), position=lsp.Position(len(lines) - 1, len(lines[-1]))))
    assert sig.signatures[0].label.startswith("tensorleap_custom_metric(name, direction")
    assert sig.active_parameter == 1


async def test_symbols_references_and_checklist(client: LanguageClient, project: Path):
    entry = project / "leap_integration.py"
    u = await edited(client, entry, entry.read_text())
    symbols = await client.workspace_symbol_async(lsp.WorkspaceSymbolParams(query="accur"))
    assert [s.name for s in symbols] == ["accuracy"]
    lenses = await client.text_document_code_lens_async(lsp.CodeLensParams(text_document=lsp.TextDocumentIdentifier(uri=u)))
    titles = [lens.command.title for lens in lenses if lens.command]
    assert any(t.startswith("Tensorleap: preprocess ✓, inputs 1, ground truth ✓, load_model ✓") for t in titles), titles
    lines = entry.read_text().split("\n")
    line = next(i for i, ln in enumerate(lines) if "accuracy(gt, prediction)" in ln)
    refs = await client.text_document_references_async(lsp.ReferenceParams(
        text_document=lsp.TextDocumentIdentifier(uri=u), position=lsp.Position(line, lines[line].index("accuracy") + 2),
        context=lsp.ReferenceContext(include_declaration=True)))
    files = {Path(r.uri.removeprefix("file://")).name for r in refs}
    assert {"leap_integration.py", "metrics.py"} <= files
    defs = await client.text_document_definition_async(lsp.DefinitionParams(
        text_document=lsp.TextDocumentIdentifier(uri=u), position=lsp.Position(line, lines[line].index("accuracy") + 2)))
    assert defs and defs[0].uri.endswith("metrics.py")
