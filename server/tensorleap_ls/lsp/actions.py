"""Code actions: quick fixes keyed by diagnostic code, stubs, the skeleton, legacy -> decorators.

Edits reach the file only through the client: as code actions the user picks, or through
``workspace/applyEdit`` for the ``tensorleap.generateSkeleton`` command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs
from lsprotocol import types as lsp
from pygls.uris import to_fs_path

from tensorleap_ls.core import fixes
from tensorleap_ls.core.model import Style
from tensorleap_ls.core.project import norm
from tensorleap_ls.lsp.convert import code_points, to_code_action, to_workspace_edit
from tensorleap_ls.core.codes import MISSING_INPUT, MISSING_MODEL, RUN_INTERPRETER

if TYPE_CHECKING:
    from tensorleap_ls.lsp.session import Session as TensorleapServer

KINDS = [lsp.CodeActionKind.QuickFix, lsp.CodeActionKind.Source, lsp.CodeActionKind.Refactor,
         lsp.CodeActionKind.RefactorRewrite]


@attrs.define
class UriArgs:
    uri: str


def register(server: "TensorleapServer") -> None:
    @server.feature(lsp.TEXT_DOCUMENT_CODE_ACTION, lsp.CodeActionOptions(code_action_kinds=KINDS))
    def code_action(ls, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
        return actions_for(ls, params)

    @server.command("tensorleap.generateSkeleton")
    async def generate_skeleton(ls, args: UriArgs) -> dict:
        path = to_fs_path(args.uri)
        if path is None:
            return {"ok": False, "message": "not a file"}
        doc = ls.workspace.get_text_document(args.uri)
        if not fixes.is_empty(doc.source):
            return {"ok": False, "message": "the file is not empty: the skeleton goes into an empty file"}
        fix = fixes.skeleton(norm(path))
        result = await ls.workspace_apply_edit_async(lsp.ApplyWorkspaceEditParams(
            edit=to_workspace_edit(fix, ls.line_text, ls.encoding), label=fix.title))
        return {"ok": bool(result.applied)}


def actions_for(ls: "TensorleapServer", params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
    path = to_fs_path(params.text_document.uri)
    if path is None:
        return []
    path = norm(path)
    only = set(params.context.only or [])
    out: list[lsp.CodeAction] = []
    doc = ls.workspace.get_text_document(params.text_document.uri)
    if fixes.is_empty(doc.source) and path.endswith(".py"):
        if not only or lsp.CodeActionKind.Source in only:
            out.append(to_code_action(fixes.skeleton(path), [], ls.line_text, ls.encoding))
        return out
    out.extend(_install_actions(params.context.diagnostics))
    analyses = ls.analyses_for(path)
    wanted = {(d.code, d.range.start.line, d.range.start.character) for d in params.context.diagnostics}
    for pa in analyses:
        for f in pa.findings_for(path):
            diag_key = (f.code, f.span.line)
            if not _overlaps(ls, f, params.range) and not any(k[0] == diag_key[0] and k[1] == diag_key[1] for k in wanted):
                continue
            diagnostics = [d for d in params.context.diagnostics if d.code == f.code]
            if f.code in (MISSING_INPUT, MISSING_MODEL):
                fix = _from_model(ls, pa, f)
                if fix is not None:
                    out.append(to_code_action(fix, diagnostics, ls.line_text, ls.encoding))
            for fix in fixes.fixes_for(f, pa):
                if only and not any(fix.kind.startswith(k) for k in only):
                    continue
                out.append(to_code_action(fix, diagnostics, ls.line_text, ls.encoding))
        # an encoder under the cursor -> a visualizer / metadata / metric wired to it
        if not only or any(k.startswith("refactor") for k in only):
            for b in pa.bindings:
                if b.def_span is not None and b.def_span.path == path and b.def_span.line == params.range.start.line:
                    for fix in fixes.companions(b, pa):
                        out.append(to_code_action(fix, [], ls.line_text, ls.encoding))
        # legacy registration under the cursor -> decorator form
        if not only or any(k.startswith("refactor") for k in only):
            for b in pa.bindings:
                if b.style is Style.LEGACY and b.reg_span.path == path and \
                        b.reg_span.line <= params.range.start.line <= b.reg_span.end_line:
                    fix = fixes.convert_binding(b, pa)
                    if fix:
                        out.append(to_code_action(fix, [], ls.line_text, ls.encoding))
                    whole = fixes.convert_file(path, pa)
                    if whole:
                        out.append(to_code_action(whole, [], ls.line_text, ls.encoding))
                    break
    return out


def _install_actions(diagnostics: list[lsp.Diagnostic]) -> list[lsp.CodeAction]:
    """TL534 with an install command: the client opens a terminal holding it (VS Code:
    the extension's ``tensorleap.openInstallTerminal``); nothing runs until the user presses Enter."""
    out = []
    for d in diagnostics:
        line = d.data.get("install") if d.code == RUN_INTERPRETER and isinstance(d.data, dict) else None
        if isinstance(line, str):
            title = "Install code-loader in the project interpreter (opens a terminal)"
            command = lsp.Command(title=title, command="tensorleap.openInstallTerminal", arguments=[line])
            out.append(lsp.CodeAction(title=title, kind=lsp.CodeActionKind.QuickFix, diagnostics=[d], is_preferred=True,
                                      command=command))
    return out


def _from_model(ls, pa, finding):
    """Model-aware stubs when a .onnx/.h5 file is in the project and the interpreter can read it."""
    from tensorleap_ls.runtime import api

    models = api.find_models(pa.project.root)
    if not models:
        return None
    python = api.choose(pa.project.root, ls.settings.interpreter)
    info = api.read_model(python, models[0], pa.project.root)  # through the trust gate
    if not info:
        return None
    style = Style(finding.data.get("style", "decorator"))
    return fixes.model_stubs(pa, style, models[0], info, finding.span.path)


def _overlaps(ls, f, rng: lsp.Range) -> bool:
    start = (rng.start.line, code_points(ls.line_text(f.span.path, rng.start.line), rng.start.character, ls.encoding))
    end = (rng.end.line, code_points(ls.line_text(f.span.path, rng.end.line), rng.end.character, ls.encoding))
    return not ((f.span.end_line, f.span.end_col) < start or (f.span.line, f.span.col) > end)
