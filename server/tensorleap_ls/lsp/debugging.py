"""Debugging one sample over LSP: the ``tensorleap.debugSample`` command, the "Debug sample" lens beside
"Preview sample", and "Debug this sample" on every run-time finding that names a sample.

The command starts the child's harness under debugpy (``api.debug_sample``: the trust gate, the project
interpreter) and answers where debugpy listens: any DAP client attaches there (``request: attach``,
``connect: {host, port}``; VS Code's ``tensorleap`` debug type does it for the user). The harness ends with
the debug session, or with the server. Trusted workspaces only, like everything that runs user code.
"""

from __future__ import annotations

import asyncio
from typing import Any, Iterator

import attrs
from lsprotocol import types as lsp

from tensorleap_ls.core.fixdata import RunSample, from_json
from tensorleap_ls.lsp.dynamic import UNTRUSTED, _preview_lenses, _project, lsp_uri
from tensorleap_ls.lsp.session import Session, off_loop
from tensorleap_ls.runtime import api

COMMAND = "tensorleap.debugSample"


@attrs.define
class DebugArgs:
    uri: str
    subset: str = "training"
    sampleId: Any = None  # noqa: N815 - the wire names
    functions: Any = None  # [Python or registered name]; None: every function of the sample
    integrationTest: bool = True  # noqa: N815
    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port


def register(server: Session) -> None:
    @server.command(COMMAND)
    async def debug_sample(ls, args: DebugArgs) -> dict:
        return await start(ls, args)

    server.code_lens_providers.append(_debug_lenses)


async def start(ls: Session, args: DebugArgs) -> dict:
    """Starts the harness; ``{ok, host, port, ...}`` once debugpy listens, else ``{ok: false, message}``."""
    if not ls.settings.trusted:
        return {"ok": False, "message": UNTRUSTED, "reason": {"kind": "untrusted"}}
    pa = _project(ls, args.uri)
    if pa is None:
        return {"ok": False, "message": "this file is not part of a Tensorleap integration (no leap.yaml or entry file)"}
    root, entry = pa.project.root, pa.project.entry
    python = api.choose(root, ls.settings.interpreter)
    loop = asyncio.get_running_loop()

    def said(line: str) -> None:  # the harness's output, in the server's log
        loop.call_soon_threadsafe(ls.log, f"debug {args.subset} sample {args.sampleId!r}: {line}")

    functions = [f for f in args.functions or [] if isinstance(f, str)]
    try:
        run = await off_loop(lambda: api.debug_sample(
            python, root, entry, args.subset, args.sampleId, host=args.host, port=int(args.port or 0),
            functions=functions, integration_test=bool(args.integrationTest), auth_secret=ls.settings.auth_secret,
            on_output=said))
    except (api.DebugFailed, OSError) as e:
        return {"ok": False, "message": f"cannot debug {args.subset} sample {args.sampleId!r}: {e}"}
    ls.log(f"debugging {args.subset} sample {args.sampleId!r} of {entry} with {python}: debugpy listens on "
           f"{run.host}:{run.port}")
    return {"ok": True, "host": run.host, "port": run.port, "python": python, "root": root, "entry": entry,
            "subset": args.subset, "sampleId": args.sampleId, "exclude": run.ours}


def _debug_lenses(ls: Session, path: str) -> list[lsp.CodeLens]:
    """"Debug sample" beside each "Preview sample" (trusted only, like it): the first training sample, just
    that function."""
    functions = {b.def_span.line: b.function for pa in ls.analyses_for(path) for b in pa.bindings
                 if b.def_span is not None and b.def_span.path == path}
    return [lsp.CodeLens(range=lens.range, command=lsp.Command(
        title="⚙ Debug sample", command=COMMAND,
        arguments=[{"uri": lsp_uri(path), "subset": "training", "sampleId": None, "integrationTest": False,
                    "functions": [functions[lens.range.start.line]] if functions.get(lens.range.start.line) else None}]))
        for lens in _preview_lenses(ls, path)]


def debug_actions(ls: Session, request: Any) -> Iterator[lsp.CodeAction]:
    """"Debug this sample" on every diagnostic of a run that names the sample it failed on (trusted only)."""
    if not ls.settings.trusted:
        return
    for d in request.params.context.diagnostics:
        data = from_json(str(d.code), d.data)
        if not isinstance(data, RunSample) or data.sample is None:
            continue
        subset = data.subset or "training"
        title = f"Debug this sample ({subset} sample {data.sample!r})"
        yield lsp.CodeAction(title=title, kind=lsp.CodeActionKind.QuickFix, diagnostics=[d], command=lsp.Command(
            title=title, command=COMMAND,
            arguments=[{"uri": lsp_uri(request.path), "subset": subset, "sampleId": data.sample}]))
