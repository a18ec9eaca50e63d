"""The Test Explorer's side of the server: the project's bindings as test items, and a run of the dynamic
checks for just some functions and subsets, with each item's result.

``tensorleap.testItems`` ({uri}) lists the functions a run checks one by one (input and ground-truth
encoders, metadata, visualizers, the integration test) with their kind and place, and the project's
subsets. ``tensorleap.runTests`` ({uri, functions, subsets}) runs the dynamic checks for those only
(``dynamic._run_checks``: progress, cancellation, the findings published with the others), and answers
per (function, subset) whether it passed, with the findings that failed it. Each finding goes to the
function it is about: the function whose body holds its line, else the one its message names; a finding
of none of them (preprocess failed...) fails every item of the run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import attrs
from pygls.uris import from_fs_path

from tensorleap_ls.core.fixdata import RunSample
from tensorleap_ls.core.model import Binding, Finding, Kind
from tensorleap_ls.lsp.convert import to_diagnostic
from tensorleap_ls.lsp.dynamic import UNTRUSTED, _project, _run_checks, _runner, lsp_uri
from tensorleap_ls.lsp.session import Session, off_loop
from tensorleap_ls.runtime import api

# what a run checks function by function, in the Test Explorer's order
KINDS = (Kind.INPUT, Kind.GROUND_TRUTH, Kind.METADATA, Kind.VISUALIZER, Kind.INTEGRATION_TEST)
DEFAULT_SUBSETS = ["training", "validation"]


@attrs.define
class UriArgs:
    uri: str


@attrs.define
class RunArgs:
    uri: str
    functions: Any = None  # [Python function name]; None: all
    subsets: Any = None  # [subset]; None: all


def register(server: Session) -> None:
    @server.command("tensorleap.testItems")
    async def test_items(ls, args: UriArgs) -> dict:
        return await off_loop(lambda: items(ls, args.uri))

    @server.command("tensorleap.runTests")
    async def run_tests(ls, args: RunArgs) -> dict:
        return await run(ls, args)


def testable(pa) -> list[Binding]:
    return [b for b in pa.bindings if b.kind in KINDS and b.function and b.def_span is not None]


def items(ls: Session, uri: str) -> dict:
    pa = _project(ls, uri)
    if pa is None:
        return {"ok": False, "items": [], "subsets": [], "message": "not part of a Tensorleap integration"}
    out = [{"kind": b.kind.value, "function": b.function, "name": b.name or b.function, "uri": lsp_uri(b.def_span.path),
            "line": b.def_span.line} for b in testable(pa)]
    known = ls.subset_names.get(pa.project.root)  # the tree follows typing: its preprocess runs once, not per edit
    return {"ok": True, "root": pa.project.root, "items": out, "subsets": known or subsets_of(ls, pa),
            "trusted": ls.settings.trusted}


def subsets_of(ls: Session, pa) -> list[str]:
    """The project's subsets, from its preprocess in a trusted workspace (remembered for the tree; a run of
    every subset asks again), else the two every project has."""
    if not ls.settings.trusted:
        return list(DEFAULT_SUBSETS)
    python = api.choose(pa.project.root, ls.settings.interpreter)
    if api.interpreter_finding(python, pa.project.root, pa.project.entry) is not None:
        return list(DEFAULT_SUBSETS)
    found = api.subsets(_runner(ls), python, pa.project.root, pa.project.entry, ls.settings.auth_secret)
    if found:
        ls.subset_names[pa.project.root] = [s.name for s in found]
    return [s.name for s in found] or list(DEFAULT_SUBSETS)


@dataclass
class Only:
    """A run of part of the project (``dynamic._run_checks``'s ``only``)."""

    functions: list[str] | None
    subsets: list[str] | None
    bindings: list[Binding]

    def covers(self, f: Finding, pa) -> bool:
        owner = owner_of(f, self.bindings)
        subset = f.data.subset if isinstance(f.data, RunSample) else None
        return (self.functions is None or owner is None or owner.function in self.functions) and \
            (self.subsets is None or subset is None or subset in self.subsets)

    def merge(self, previous: list[Finding], new: list[Finding], pa) -> list[Finding]:
        """What this run re-checked is replaced by what it found; the rest stays."""
        return [f for f in previous if not self.covers(f, pa)] + new


def owner_of(f: Finding, bindings: list[Binding]) -> Binding | None:
    """The function a run-time finding is about: the one whose body holds its line, else the one it names."""
    for b in bindings:
        node = b.def_node
        if node is not None and b.def_span is not None and b.def_span.path == f.span.path:
            first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]) - 1
            if first <= f.span.line <= (node.end_lineno or node.lineno) - 1:
                return b
    for b in bindings:
        names = [n for n in (b.name, b.function) if n]
        if any(re.search(rf"'{re.escape(n)}'|\b{re.escape(n)}\(", f.message) for n in names):
            return b
    return None


async def run(ls: Session, args: RunArgs) -> dict:
    if not ls.settings.trusted:
        return {"ok": False, "ran": False, "message": UNTRUSTED, "reason": {"kind": "untrusted"}, "items": []}
    pa = _project(ls, args.uri)
    if pa is None:
        return {"ok": False, "ran": False, "message": "not part of a Tensorleap integration", "items": []}
    functions = [f for f in args.functions if isinstance(f, str)] if isinstance(args.functions, list) else None
    subsets = [s for s in args.subsets if isinstance(s, str)] if isinstance(args.subsets, list) else None
    bindings = testable(pa)
    result = await _run_checks(ls, args.uri, progress=True, only=Only(functions, subsets, bindings))
    ran: list[Finding] = result.pop("ran_findings", None) or []
    if not result.get("ran", False) or result.get("cancelled"):
        return {**result, "items": []}
    chosen = [b for b in bindings if functions is None or b.function in functions]
    names = subsets if subsets is not None else (await off_loop(lambda: subsets_of(ls, pa)))
    per_item = []
    for b in chosen:
        for subset in names:
            failed = [f for f in ran if _fails(f, b, subset, bindings)]
            per_item.append({"function": b.function, "kind": b.kind.value, "subset": subset, "ok": not failed,
                             "problems": [_problem(ls, f) for f in failed]})
    return {**result, "items": per_item}


def _fails(f: Finding, b: Binding, subset: str, bindings: list[Binding]) -> bool:
    owner = owner_of(f, bindings)
    seen_on = f.data.subset if isinstance(f.data, RunSample) else None
    return (owner is None or owner is b) and (seen_on is None or seen_on == subset)


def _problem(ls: Session, f: Finding) -> dict:
    d = to_diagnostic(f, ls.line_text, ls.encoding)
    sample = f.data.sample if isinstance(f.data, RunSample) else None
    return {"code": f.code, "message": f.message, "uri": from_fs_path(f.span.path) or f.span.path,
            "range": ls.protocol._converter.unstructure(d.range),  # noqa: SLF001 - the wire shape
            "sample": sample, "subset": f.data.subset if isinstance(f.data, RunSample) else None}
