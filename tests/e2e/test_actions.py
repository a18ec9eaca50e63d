"""Code actions through the real server: each quick fix removes the diagnostic it answers, keeps
the file parseable, changes nothing outside its edits; generated stubs and skeletons are accepted
by the real code-loader (imported the platform's way, then ``leap_binder.check()``)."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))
from test_codes import EXAMPLES, Case, plant  # noqa: E402
from test_diagnostics import open_doc, wait_diags  # noqa: E402
from test_fixes import FIXABLE, IMPORT_TIME  # noqa: E402  (the codes that have a fix, checked against the registry there)

pytestmark = pytest.mark.e2e

# codes whose fix generates code that must pass code-loader's own check
STUB_CODES = {"TL101", "TL102", "TL105", "TL106", "TL110", "TL222", "TL223", "TL224", "TL230", "TL231", "TL232",
              "TL112", "TL113", "TL114"}  # the slips: the fixed code imports and passes again


def apply_edits(text: str, edits: list[lsp.TextEdit]) -> str:
    lines = text.split("\n")
    offsets = [0]
    for ln in lines:
        offsets.append(offsets[-1] + len(ln) + 1)

    def off(p: lsp.Position) -> int:
        line = lines[p.line] if p.line < len(lines) else ""
        units, i = 0, 0
        while i < len(line) and units < p.character:
            units += 2 if ord(line[i]) > 0xFFFF else 1
            i += 1
        return offsets[min(p.line, len(lines))] + i

    for e in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        text = text[:off(e.range.start)] + e.new_text + text[off(e.range.end):]
    return text


def untouched(before: str, after: str, edits: list[lsp.TextEdit]) -> bool:
    """Every line outside the edited ranges is still there, in order."""
    touched = set()
    for e in edits:
        touched |= set(range(e.range.start.line, e.range.end.line + 1))
    kept = [ln for i, ln in enumerate(before.split("\n")) if i not in touched]
    it = iter(after.split("\n"))
    return all(any(ln == x for x in it) for ln in kept)


def mutate(tmp_path: Path, case: Case) -> Path:
    return plant(tmp_path, case)


def sdk_check(root: Path, entry: str) -> subprocess.CompletedProcess:
    """Imports the entry as the platform does and runs leap_binder.check() with the real code-loader."""
    code = ("import importlib.util, os, sys\n"
            f"root = {str(root)!r}\nsys.path.insert(0, root)\nos.chdir(root)\n"
            f"spec = importlib.util.spec_from_file_location('entry', os.path.join(root, {entry!r}))\n"
            "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
            "from code_loader import leap_binder\nleap_binder.check()\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "TL_DISABLE_ANALYTICS": "1"})


@pytest.mark.parametrize("case", FIXABLE, ids=[f"{c.code}-{c.base.split('_')[0]}" for c in FIXABLE])
async def test_quick_fix(client: LanguageClient, tmp_path: Path, case: Case):
    root = mutate(tmp_path, case)
    where = root / (case.where or case.file)
    u = open_doc(client, where)
    diags = await wait_diags(client, u, lambda d: any(x.code == case.code for x in d))
    diag = next(d for d in diags if d.code == case.code)
    actions = await client.text_document_code_action_async(lsp.CodeActionParams(
        text_document=lsp.TextDocumentIdentifier(uri=u), range=diag.range,
        context=lsp.CodeActionContext(diagnostics=[diag])))
    mine = [a for a in actions or [] if a.diagnostics and any(d.code == case.code for d in a.diagnostics)]
    assert mine, f"no quick fix offered for {case.code}: {diag.message}"
    action = next((a for a in mine if a.is_preferred), mine[0])
    changed: dict[Path, str] = {}
    olds: dict[Path, str] = {}
    for file_uri, edits in action.edit.changes.items():
        path = Path(file_uri.removeprefix("file://"))
        old = olds[path] = path.read_text()
        new = apply_edits(old, edits)
        assert untouched(old, new, edits), f"{case.code}: lines outside the edit changed"
        if path.suffix == ".py":
            ast.parse(new)
        path.write_text(new)
        changed[path] = new
    # the diagnostic is gone from the fixed file (the server re-reads it)
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=u, version=2),
        content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=where.read_text())]))
    for path in changed:
        if path != where:
            client.workspace_did_change_watched_files(lsp.DidChangeWatchedFilesParams(changes=[
                lsp.FileEvent(uri=path.as_uri(), type=lsp.FileChangeType.Changed)]))
    # that diagnostic (same code and message) is gone; other instances of the code may remain
    after = await wait_diags(client, u, lambda d: not any(x.code == case.code and x.message == diag.message for x in d),
                             timeout=10)
    assert not [x.message for x in after if x.code in IMPORT_TIME], f"{action.title} left code that fails at import"
    assert changed and all(new != olds[p] for p, new in changed.items()), "the fix changed nothing"
    if case.code in STUB_CODES:
        entry = "leap_integration.py" if case.base.startswith("decorator") else "leap_binder.py"
        run = sdk_check(root, entry)
        assert "Successful!" in run.stdout, run.stdout + run.stderr


async def test_skeleton_for_an_empty_file_passes_the_sdk(client: LanguageClient, tmp_path: Path):
    root = tmp_path / "new_project"
    root.mkdir()
    entry = root / "leap_integration.py"
    entry.write_text("")
    u = open_doc(client, entry, "")
    actions = await client.text_document_code_action_async(lsp.CodeActionParams(
        text_document=lsp.TextDocumentIdentifier(uri=u), range=lsp.Range(lsp.Position(0, 0), lsp.Position(0, 0)),
        context=lsp.CodeActionContext(diagnostics=[], only=[lsp.CodeActionKind.Source])))
    skeleton = next(a for a in actions if "skeleton" in a.title.lower())
    text = apply_edits("", skeleton.edit.changes[u])
    entry.write_text(text)
    out = subprocess.run([sys.executable, "-m", "tensorleap_ls", "check", str(entry)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout  # no error; the TODOs are comments
    run = sdk_check(root, "leap_integration.py")
    assert "Successful!" in run.stdout, run.stdout + run.stderr


async def test_generate_skeleton_command_applies_through_the_client(client: LanguageClient, tmp_path: Path):
    applied = []

    @client.feature(lsp.WORKSPACE_APPLY_EDIT)
    def apply(params: lsp.ApplyWorkspaceEditParams):
        applied.append(params.edit)
        return lsp.ApplyWorkspaceEditResult(applied=True)

    entry = tmp_path / "leap_integration.py"
    entry.write_text("")
    u = open_doc(client, entry, "")
    result = await client.workspace_execute_command_async(lsp.ExecuteCommandParams(
        command="tensorleap.generateSkeleton", arguments=[{"uri": u}]))
    assert result["ok"] and applied and "tensorleap_integration_test" in applied[0].changes[u][0].new_text
    assert entry.read_text() == ""  # the server itself wrote nothing


async def test_legacy_registration_converts_to_a_decorator(client: LanguageClient, tmp_path: Path):
    root = tmp_path / "p"
    root.mkdir()
    src = ("from code_loader import leap_binder\nimport numpy as np\n\n\n"
           "def encode(sample_id, preprocess):\n    return np.zeros(3, dtype=np.float32)  # keep this comment\n\n\n"
           "leap_binder.set_input(encode, 'image', channel_dim=-1)\n")
    entry = root / "leap_binder.py"
    entry.write_text(src)
    u = open_doc(client, entry, src)
    await wait_diags(client, u, lambda d: True)
    actions = await client.text_document_code_action_async(lsp.CodeActionParams(
        text_document=lsp.TextDocumentIdentifier(uri=u), range=lsp.Range(lsp.Position(8, 3), lsp.Position(8, 3)),
        context=lsp.CodeActionContext(diagnostics=[])))
    conv = next(a for a in actions if a.title.startswith("Convert to @tensorleap_input_encoder"))
    new = apply_edits(src, conv.edit.changes[u])
    assert "@tensorleap_input_encoder('image', channel_dim=-1)\ndef encode(" in new
    assert "leap_binder.set_input" not in new and "# keep this comment" in new
    ast.parse(new)


@pytest.mark.parametrize("base", ["decorator_mnist", "legacy_mnist"])
async def test_add_visualizer_metadata_metric_for_an_input(client: LanguageClient, tmp_path: Path, base: str):
    root = tmp_path / base
    shutil.copytree(EXAMPLES / base, root, ignore=shutil.ignore_patterns("__pycache__"))
    path = root / ("mnist_tl/encoders.py" if base.startswith("decorator") else "digits/functions.py")
    src = path.read_text()
    u = open_doc(client, path, src)
    await wait_diags(client, u, lambda d: True)
    line = next(i for i, ln in enumerate(src.split("\n")) if ln.startswith(("def input_encoder", "def encode_image")))
    actions = await client.text_document_code_action_async(lsp.CodeActionParams(
        text_document=lsp.TextDocumentIdentifier(uri=u), range=lsp.Range(lsp.Position(line, 5), lsp.Position(line, 5)),
        context=lsp.CodeActionContext(diagnostics=[])))
    titles = [a.title for a in actions]
    assert {"Add a visualizer for `image`", "Add a metadata for `image`", "Add a metric for `image`"} <= set(titles)
    action = next(a for a in actions if a.title == "Add a visualizer for `image`")
    text = apply_edits(src, action.edit.changes[u])
    path.write_text(text)
    ast.parse(text)
    assert "def image_visualizer" in text or "def image_visualizer_2" in text
    out = subprocess.run([sys.executable, "-m", "tensorleap_ls", "check", "--format", "json", str(root)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout
    entry = "leap_integration.py" if base.startswith("decorator") else "leap_binder.py"
    run = sdk_check(root, entry)
    assert "Successful!" in run.stdout, run.stdout + run.stderr


async def test_encoders_and_prediction_types_from_the_model_file(client: LanguageClient, tmp_path: Path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime"))
    from test_dynamic import build_model  # a tiny ONNX model: 'image' [N, 8, 8, 1] -> 'pred' [N, 3]

    root = tmp_path / "p"
    root.mkdir()
    build_model(root / "model.onnx")
    src = ("from typing import List\n\nfrom code_loader.contract.datasetclasses import PreprocessResponse\n"
           "from code_loader.contract.enums import DataStateType\n"
           "from code_loader.inner_leap_binder.leapbinder_decorators import tensorleap_preprocess\n\n\n"
           "@tensorleap_preprocess()\ndef preprocess() -> List[PreprocessResponse]:\n"
           "    return [PreprocessResponse(sample_ids=['a'], state=DataStateType.training),\n"
           "            PreprocessResponse(sample_ids=['b'], state=DataStateType.validation)]\n")
    entry = root / "leap_integration.py"
    entry.write_text(src)
    u = open_doc(client, entry, src)
    diags = await wait_diags(client, u, lambda d: any(x.code == "TL102" for x in d))
    diag = next(d for d in diags if d.code == "TL102")
    actions = await client.text_document_code_action_async(lsp.CodeActionParams(
        text_document=lsp.TextDocumentIdentifier(uri=u), range=diag.range, context=lsp.CodeActionContext(diagnostics=[diag])))
    action = next(a for a in actions if a.title == "Create encoders and prediction types from model.onnx")
    text = apply_edits(src, action.edit.changes[u])
    ast.parse(text)
    assert "@tensorleap_input_encoder('image', channel_dim=-1)" in text and "np.zeros((8, 8, 1), dtype=np.float32)" in text
    assert "PredictionTypeHandler('pred', [str(i) for i in range(3)], channel_dim=-1)" in text
    entry.write_text(text)
    out = subprocess.run([sys.executable, "-m", "tensorleap_ls", "check", "--format", "json", str(entry)],
                         capture_output=True, text=True)
    codes = {d["code"] for d in __import__("json").loads(out.stdout)["projects"][0]["diagnostics"]}
    assert not codes & {"TL102", "TL103"}, codes
    run = sdk_check(root, "leap_integration.py")
    assert "Successful!" in run.stdout, run.stdout + run.stderr


def test_install_command_survives_the_diagnostic_json():
    """TL534's data goes to the client as the diagnostic's JSON (as before: ``{"install", "code"}``) and the
    install action is rebuilt from what the client sends back, not from server state."""
    from tensorleap_ls.core.fixdata import Install
    from tensorleap_ls.core.model import Finding, Span
    from tensorleap_ls.lsp.actions import ActionRequest, _install
    from tensorleap_ls.lsp.convert import to_diagnostic

    line = "/venv/bin/python -m pip install code-loader==1.0.214"
    diag = to_diagnostic(Finding("TL534", "code-loader is not installed", Span.point("/p/e.py"), data=Install(line)),
                         lambda path, n: "")
    assert diag.data == {"install": line, "code": "TL534"}
    params = lsp.CodeActionParams(text_document=lsp.TextDocumentIdentifier(uri="file:///p/e.py"), range=diag.range,
                                  context=lsp.CodeActionContext(diagnostics=[diag]))
    (action,) = _install(None, ActionRequest(params, "/p/e.py"))
    assert action.command.command == "tensorleap.openInstallTerminal" and action.command.arguments == [line]
