"""Code actions: a list of providers (quick fixes of the findings, stubs from the model file, companions of an
encoder, legacy -> decorators, the install command), or the skeleton for an empty file.

Edits reach the file only through the client: as code actions the user picks, or through
``workspace/applyEdit`` for the ``tensorleap.generateSkeleton`` command.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

import attrs
from lsprotocol import types as lsp
from pygls.uris import to_fs_path

from tensorleap_ls.core import fixes
from tensorleap_ls.core.fixdata import Install, MissingPart, from_json
from tensorleap_ls.core.model import Finding, Style
from tensorleap_ls.core.project.closure import norm
from tensorleap_ls.lsp.convert import code_points, to_code_action, to_workspace_edit
from tensorleap_ls.lsp.debugging import debug_actions
from tensorleap_ls.lsp.session import off_loop

if TYPE_CHECKING:
    from tensorleap_ls.lsp.session import Session as TensorleapServer

KINDS = [lsp.CodeActionKind.QuickFix, lsp.CodeActionKind.Source, lsp.CodeActionKind.Refactor,
         lsp.CodeActionKind.RefactorRewrite]


@attrs.define
class UriArgs:
    uri: str


def register(server: "TensorleapServer") -> None:
    @server.feature(lsp.TEXT_DOCUMENT_CODE_ACTION, lsp.CodeActionOptions(code_action_kinds=KINDS))
    async def code_action(ls, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
        # off the event loop: a provider may analyse the project or read the model file in a subprocess
        return await off_loop(lambda: actions_for(ls, params))

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


@dataclass
class ActionRequest:
    """One textDocument/codeAction request, as the providers see it."""

    params: lsp.CodeActionParams
    path: str
    analyses: list = field(default_factory=list)

    @property
    def line(self) -> int:
        return self.params.range.start.line


# (server, request) -> code actions; each provider answers one kind of question.
Provider = Callable[["TensorleapServer", ActionRequest], Iterable[lsp.CodeAction]]


def actions_for(ls: "TensorleapServer", params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
    path = to_fs_path(params.text_document.uri)
    if path is None:
        return []
    path = norm(path)
    only = {_kind(k) for k in params.context.only or []}
    doc = ls.workspace.get_text_document(params.text_document.uri)
    if fixes.is_empty(doc.source) and path.endswith(".py"):
        actions = [to_code_action(fixes.skeleton(path), [], ls.line_text, ls.encoding)]
    else:
        request = ActionRequest(params, path, ls.analyses_for(path))
        actions = [a for provider in PROVIDERS for a in provider(ls, request)]
    # LSP: an action matches `only` when its kind is a requested kind or a sub-kind of one
    return [a for a in actions if not only or any(_kind(a.kind) == k or _kind(a.kind).startswith(f"{k}.") for k in only)]


def _kind(kind) -> str:
    return str(getattr(kind, "value", kind))


def _install(ls, request: ActionRequest) -> Iterator[lsp.CodeAction]:
    """A diagnostic carrying the install command of code-loader (TL534): the client opens a terminal holding
    it (VS Code: the extension's ``tensorleap.openInstallTerminal``); nothing runs until the user presses Enter."""
    for d in request.params.context.diagnostics:
        data = from_json(str(d.code), d.data)
        if isinstance(data, Install):
            title = "Install code-loader in the project interpreter (opens a terminal)"
            command = lsp.Command(title=title, command="tensorleap.openInstallTerminal", arguments=[data.install])
            yield lsp.CodeAction(title=title, kind=lsp.CodeActionKind.QuickFix, diagnostics=[d], is_preferred=True,
                                 command=command)


def _findings_here(ls, request: ActionRequest) -> Iterator[tuple[object, Finding, list[lsp.Diagnostic]]]:
    """The findings of the requested range (or of the diagnostics the client sent), with those diagnostics."""
    sent = request.params.context.diagnostics
    wanted = {(d.code, d.range.start.line) for d in sent}
    for pa in request.analyses:
        for f in pa.findings_for(request.path):
            if _overlaps(ls, f, request.params.range) or (f.code, f.span.line) in wanted:
                yield pa, f, [d for d in sent if d.code == f.code]


def _from_model(ls, request: ActionRequest) -> Iterator[lsp.CodeAction]:
    """Encoders and prediction types from a .onnx/.h5 file of the project, for a missing input or model."""
    for pa, f, diagnostics in _findings_here(ls, request):
        data = f.data
        if isinstance(data, MissingPart) and data.missing in ("input", "load_model", "prediction"):
            fix = _model_stubs(ls, pa, Style(data.style), f.span.path)
            if fix is not None:
                yield to_code_action(fix, diagnostics, ls.line_text, ls.encoding)


def _quick_fixes(ls, request: ActionRequest) -> Iterator[lsp.CodeAction]:
    """What the fixer of each finding's code offers (core/fixes/)."""
    for pa, f, diagnostics in _findings_here(ls, request):
        for fix in fixes.fixes_for(f, pa):
            yield to_code_action(fix, diagnostics, ls.line_text, ls.encoding)


def _companions(ls, request: ActionRequest) -> Iterator[lsp.CodeAction]:
    """An encoder under the cursor -> a visualizer / metadata / metric wired to it."""
    for pa in request.analyses:
        for b in pa.bindings:
            if b.def_span is not None and b.def_span.path == request.path and b.def_span.line == request.line:
                for fix in fixes.companions(b, pa):
                    yield to_code_action(fix, [], ls.line_text, ls.encoding)


def _to_decorators(ls, request: ActionRequest) -> Iterator[lsp.CodeAction]:
    """A legacy registration under the cursor -> its decorator form, and the whole file's."""
    for pa in request.analyses:
        b = next((b for b in pa.bindings if b.style is Style.LEGACY and b.reg_span.path == request.path
                  and b.reg_span.line <= request.line <= b.reg_span.end_line), None)
        if b is None:
            continue
        for fix in (fixes.convert_binding(b, pa), fixes.convert_file(request.path, pa)):
            if fix is not None:
                yield to_code_action(fix, [], ls.line_text, ls.encoding)


PROVIDERS: list[Provider] = [_install, _from_model, _quick_fixes, _companions, _to_decorators, debug_actions]


def _model_stubs(ls, pa, style: Style, path: str):
    """Model-aware stubs when a .onnx/.h5 file is in the project and the interpreter can read it."""
    from tensorleap_ls.runtime import api

    models = api.find_models(pa.project.root)
    if not models:
        return None
    python = api.choose(pa.project.root, ls.settings.interpreter)
    info = api.read_model(python, models[0], pa.project.root, ls.settings.memory_mb)  # through the trust gate
    if not info:
        return None
    return fixes.model_stubs(pa, style, models[0], info, path)


def _overlaps(ls, f, rng: lsp.Range) -> bool:
    start = (rng.start.line, code_points(ls.line_text(f.span.path, rng.start.line), rng.start.character, ls.encoding))
    end = (rng.end.line, code_points(ls.line_text(f.span.path, rng.end.line), rng.end.character, ls.encoding))
    return not ((f.span.end_line, f.span.end_col) < start or (f.span.line, f.span.col) > end)
