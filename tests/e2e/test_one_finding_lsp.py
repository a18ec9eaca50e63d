"""One slip, one finding (issue 26, items 6, 7 and 9), over stdio with the real server:

- a glob removed from leap.yaml's include is one TL405 on `include` (the import sites as related
  information), fixed by restoring the glob or by adding every file;
- a finding repeated in a file (each with its preferred fix) has a "Fix all" action;
- a file outside the workspace's projects (go to definition into code-loader, another folder) is
  read, never checked;
- one `raise` in an encoder is one diagnostic (TL501), the integration test's failure at the same line
  its related information."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient, client_capabilities

import code_loader
from test_diagnostics import codes, open_doc, uri, wait_diags
from test_dynamic_lsp import CONFIG, copy, execute

pytestmark = pytest.mark.e2e
GLOB = "  - mnist_tl/**/*.py\n"


async def actions_at(client: LanguageClient, u: str, diag: lsp.Diagnostic) -> list[lsp.CodeAction]:
    return await client.text_document_code_action_async(lsp.CodeActionParams(
        text_document=lsp.TextDocumentIdentifier(u), range=diag.range, context=lsp.CodeActionContext(diagnostics=[diag])))


def apply(text: str, edits: list[lsp.TextEdit]) -> str:
    lines = text.split("\n")
    for e in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        s, t = e.range.start, e.range.end
        head = "\n".join(lines[:s.line] + [lines[s.line][:s.character]]) if s.line < len(lines) else text
        tail = lines[t.line][t.character:] + "\n" + "\n".join(lines[t.line + 1:]) if t.line < len(lines) else ""
        text = head + e.new_text + tail
        lines = text.split("\n")
    return text


async def test_a_glob_removed_from_include_is_one_finding_with_both_fixes(client: LanguageClient, project: Path):
    ly = project / "leap.yaml"
    text = ly.read_text().replace(GLOB, "")
    u = open_doc(client, ly, text)
    diags = await wait_diags(client, u, lambda d: "TL405" in codes(d))
    ours = [d for d in diags if d.code == "TL405"]
    assert len(ours) == 1, ours
    d = ours[0]
    assert text.split("\n")[d.range.start.line].startswith("include:")
    assert "5 modules the integration imports are not matched by `include`" in d.message
    sites = {(Path(r.location.uri.removeprefix("file://")).name, r.message) for r in d.related_information}
    assert ("leap_integration.py", "`mnist_tl/encoders.py` is imported here") in sites and len(sites) == 5, sites
    entry = uri(project / "leap_integration.py")
    assert not any(x.code == "TL405" for x in client.diagnostics.get(entry, ()))  # not once more at each import
    actions = await actions_at(client, u, d)
    titles = [a.title for a in actions]
    glob = next(a for a in actions if a.title.startswith("Restore the include glob mnist_tl/**/*.py"))
    assert glob.is_preferred and "Add the 5 files to include in leap.yaml" in titles, titles
    everything = next(a for a in actions if a.title == "Add the 5 files to include in leap.yaml")
    assert all(f"mnist_tl/{m}.py" in everything.edit.changes[u][0].new_text
               for m in ("config", "data", "encoders", "metrics", "visualizers"))
    fixed = apply(text, glob.edit.changes[u])
    assert "'mnist_tl/**/*.py'" in fixed
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=u, version=2),
        content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=fixed)]))
    await wait_diags(client, u, lambda d: "TL405" not in codes(d))


async def test_a_repeated_finding_has_a_fix_all(client: LanguageClient, project: Path):
    enc = project / "mnist_tl" / "encoders.py"
    text = enc.read_text().replace(".astype(np.float32)", ".astype(np.float64)") + (
        "\n\n@tensorleap_input_encoder('flipped', channel_dim=-1)\n"
        "def flipped_encoder(idx: int, preprocess: PreprocessResponse) -> np.ndarray:\n"
        "    return preprocess.data['images'][idx - preprocess.data['offset']][::-1].astype(np.float64)\n")
    u = open_doc(client, enc, text)
    diags = await wait_diags(client, u, lambda d: sum(x.code == "TL223" for x in d) == 2)
    first = next(d for d in diags if d.code == "TL223")
    actions = await actions_at(client, u, first)
    fix_all = next(a for a in actions if a.title == "Fix all TL223 in this file (2)")
    fixed = apply(text, fix_all.edit.changes[u])
    assert "float64" not in fixed and fixed.count(".astype(np.float32)") == 2


@pytest_lsp.fixture(config=CONFIG)
async def in_folder(lsp_client: LanguageClient, tmp_path_factory):
    """A session whose workspace folder is one project (as an editor opens a folder)."""
    lsp_client.feature(lsp.CLIENT_REGISTER_CAPABILITY)(lambda params: None)
    lsp_client.published = []
    features = lsp_client.protocol.fm.features
    original = features[lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS]

    def record(params: lsp.PublishDiagnosticsParams):
        lsp_client.published.append((params.uri, {d.code for d in params.diagnostics}))
        return original(params)

    features[lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = record
    base = tmp_path_factory.mktemp("ws")
    lsp_client.root = copy(base, "decorator_mnist")
    await lsp_client.initialize_session(lsp.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"), root_uri=lsp_client.root.as_uri(),
        workspace_folders=[lsp.WorkspaceFolder(uri=lsp_client.root.as_uri(), name="ws")],
        initialization_options={"debounceMs": 0}))
    yield
    await lsp_client.shutdown_session()


async def test_files_outside_the_workspace_projects_are_read_never_checked(in_folder: LanguageClient, tmp_path: Path):
    root = in_folder.root
    # go to definition into code-loader: its own file, from the project's .venv and from elsewhere
    sdk_file = Path(code_loader.__file__).parent / "inner_leap_binder" / "leapbinder_decorators.py"
    in_venv = root / ".venv" / "lib" / "python3.11" / "site-packages" / "code_loader" / "leapbinder_decorators.py"
    in_venv.parent.mkdir(parents=True)
    shutil.copy(sdk_file, in_venv)
    other = tmp_path / "another_project"
    copy(tmp_path, "decorator_mnist").rename(other)
    outside = [in_venv, sdk_file, other / "leap_integration.py"]
    for f in outside:
        open_doc(in_folder, f)
    inside = open_doc(in_folder, root / "mnist_tl" / "visualizers.py",
                      (root / "mnist_tl" / "visualizers.py").read_text().replace("-> LeapImage:", "-> LeapHorizontalBar:"))
    await wait_diags(in_folder, inside, lambda d: "TL213" in codes(d))
    await asyncio.sleep(2)  # the files opened first were analysed first: nothing of them may follow
    shown = {u: c for u, c in in_folder.published if c}
    assert set(shown) == {inside}, shown
    assert not any(in_folder.diagnostics.get(uri(f)) for f in outside)


@pytest_lsp.fixture(config=CONFIG)
async def trusted(lsp_client: LanguageClient):
    lsp_client.feature(lsp.CLIENT_REGISTER_CAPABILITY)(lambda params: None)
    lsp_client.feature("tensorleap/preview")(lambda params: None)
    lsp_client.feature("tensorleap/output")(lambda params: None)
    await lsp_client.initialize_session(lsp.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"),
        initialization_options={"debounceMs": 0, "trusted": True, "samplesPerSubset": 2}))
    yield
    await lsp_client.shutdown_session()


@pytest.mark.dynamic
async def test_one_raise_in_an_encoder_is_one_diagnostic(trusted: LanguageClient, tmp_path: Path):
    root = copy(tmp_path, "decorator_mnist")
    enc = root / "mnist_tl" / "encoders.py"
    line = "    return preprocess.data['images'][idx - preprocess.data['offset']].astype(np.float32)\n"
    enc.write_text(enc.read_text().replace(line, "    raise ValueError('corrupt image file')\n" + line, 1))
    raise_line = enc.read_text().split("\n").index("    raise ValueError('corrupt image file')")
    u = open_doc(trusted, root / "leap_integration.py")
    await wait_diags(trusted, u, lambda d: True)
    await execute(trusted, "tensorleap.runChecks", {"uri": u})
    diags = await wait_diags(trusted, uri(enc), lambda d: any(x.code == "TL501" for x in d))
    at_raise = [d for d in diags if d.range.start.line == raise_line]
    assert [d.code for d in at_raise] == ["TL501"], [(d.code, d.message) for d in diags]
    assert any("integration test" in r.message for r in at_raise[0].related_information or []), at_raise[0]
    # the preview of that sample says it once too
    pv = await execute(trusted, "tensorleap.preview", {"uri": u, "subset": "training", "sampleId": 0})
    assert [p["code"] for p in pv["problems"] if p.get("code")] == ["TL501"], pv["problems"]
