"""Rendering of analysis results for the command line: linter-style text and stable JSON.

JSON schema (version 1; lines and columns 1-based, paths relative to the project root):
    {"version": 1, "projects": [{"root", "entry", "bindings": [{"kind", "name", "function", "file",
      "line", "def_file", "def_line", "style"}], "diagnostics": [{"file", "line", "column",
      "end_line", "end_column", "severity", "code", "message"}]}]}
"""

from __future__ import annotations

import json
import os
from typing import Iterable

from tensorleap_ls.core.model import Binding, Finding, Severity

_COLORS = {Severity.ERROR: "\033[31m", Severity.WARNING: "\033[33m", Severity.INFORMATION: "\033[36m",
           Severity.HINT: "\033[2m"}
_RESET = "\033[0m"


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.span.path, f.span.line, f.span.col, f.code, f.message))


def finding_json(f: Finding, root: str) -> dict:
    s = f.span
    return {
        "file": os.path.relpath(s.path, root),
        "line": s.line + 1,
        "column": s.col + 1,
        "end_line": s.end_line + 1,
        "end_column": s.end_col + 1,
        "severity": f.effective_severity.label,
        "code": f.code,
        "message": f.message,
    }


def project_json(root: str, entry: str, bindings: list[Binding], findings: list[Finding]) -> dict:
    bjson = [b.to_json(root) for b in bindings]
    bjson.sort(key=lambda b: (b["file"] or "", b["line"], b["kind"], b["name"] or ""))
    return {
        "root": root,
        "entry": os.path.relpath(entry, root),
        "bindings": bjson,
        "diagnostics": [finding_json(f, root) for f in sort_findings(findings)],
    }


def to_json(projects: list[dict]) -> str:
    return json.dumps({"version": 1, "projects": projects}, indent=2, ensure_ascii=False)


def text_line(f: Finding, color: bool, cwd: str | None = None) -> str:
    path = os.path.relpath(f.span.path, cwd or os.getcwd())
    sev = f.effective_severity
    label = sev.label
    if color:
        label = f"{_COLORS[sev]}{label}{_RESET}"
    return f"{path}:{f.span.line + 1}:{f.span.col + 1}: {label} {f.code} {f.message}"


def summary(findings: list[Finding], projects: int) -> str:
    counts = {s: 0 for s in Severity}
    for f in findings:
        counts[f.effective_severity] += 1
    parts = [f"{counts[Severity.ERROR]} error(s)", f"{counts[Severity.WARNING]} warning(s)",
             f"{counts[Severity.INFORMATION]} info", f"{counts[Severity.HINT]} hint(s)"]
    return f"{projects} project(s) checked: " + ", ".join(parts)
