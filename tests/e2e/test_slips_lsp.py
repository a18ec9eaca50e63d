"""The slips over LSP (issue 25), typed into an open buffer the way a user makes them: the error appears at the
typed line with its "did you mean", what the failing import hides is its related information (not a
diagnostic of its own on line 1), and the quick fix's edit clears the file. The fix of every planted slip is
applied over LSP in test_actions.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))
from test_actions import apply_edits  # noqa: E402
from test_diagnostics import open_doc, replace_all, uri, wait_diags  # noqa: E402

pytestmark = pytest.mark.e2e


async def _fix(client: LanguageClient, u: str, diag: lsp.Diagnostic, title: str, text: str) -> str:
    actions = await client.text_document_code_action_async(lsp.CodeActionParams(
        text_document=lsp.TextDocumentIdentifier(uri=u), range=diag.range,
        context=lsp.CodeActionContext(diagnostics=[diag])))
    action = next(a for a in actions if a.title == title)
    assert action.is_preferred
    return apply_edits(text, action.edit.changes[u])


@pytest.mark.parametrize("file, old, new, code, line, title, related", [
    ("mnist_tl/encoders.py", "@tensorleap_input_encoder('image'", "@tensorleap_input_encodr('image'", "TL113", 9,
     "Use `tensorleap_input_encoder`", "The integration registers no input encoder"),
    ("leap_integration.py", "    gt = gt_encoder(idx, preprocess)", "    gt = gt_encodr(idx, preprocess)", "TL114", 42,
     "Use `gt_encoder`", "`gt_encodr` is not a Tensorleap-decorated function"),
])
async def test_a_typed_slip_is_one_error_at_its_line_and_its_fix_clears_it(
        client: LanguageClient, project: Path, file, old, new, code, line, title, related):
    path = project / file
    good = path.read_text()
    u = open_doc(client, path, good)
    await wait_diags(client, u, lambda d: not d)
    typed = good.replace(old, new, 1)
    replace_all(client, u, 2, typed)
    diags = await wait_diags(client, u, lambda d: any(x.code == code for x in d))
    (diag,) = [d for d in diags if d.code == code]
    assert diag.severity == lsp.DiagnosticSeverity.Error and diag.range.start.line == line, diag
    assert "did you mean" in diag.message
    assert any(r.message.startswith(related) for r in diag.related_information or []), diag.related_information
    entry = client.diagnostics.get(uri(project / "leap_integration.py"), [])
    assert not [d for d in entry if d.code in ("TL101", "TL102", "TL103", "TL104", "TL105", "TL106", "TL303")], entry
    fixed = await _fix(client, u, diag, title, typed)
    assert fixed == good
    replace_all(client, u, 3, fixed)
    await wait_diags(client, u, lambda d: not d)
