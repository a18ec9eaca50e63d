"""Minimal text edits of leap.yaml: the rest of the file (comments, order, unknown keys) stays.

(The leap CLI rewrites the whole file and drops all of that; this only inserts one line.)
"""

from __future__ import annotations

from tensorleap_ls.core.project.leap_yaml import LeapYaml
from tensorleap_ls.core.model import Span, TextEdit


def add_to_include(ly: LeapYaml, rel: str) -> TextEdit | None:
    lines = ly.text.replace("\r\n", "\n").split("\n")
    item = _quote(rel)
    if ly.include_items:
        # block or flow list: insert after the last item, in the same style
        last_text, last = ly.include_items[-1]
        line = lines[last.line]
        if line.lstrip().startswith("-"):
            indent = line[: len(line) - len(line.lstrip())]
            return TextEdit(Span(ly.path, last.line + 1, 0, last.line + 1, 0), f"{indent}- {item}\n")
        return TextEdit(Span(ly.path, last.end_line, last.end_col, last.end_line, last.end_col), f", {item}")
    key = ly.key_spans.get("include")
    if key is not None:
        value = ly.value_spans.get("include")
        if value is not None and lines[value.line][value.col:value.col + 1] == "[":  # include: []
            return TextEdit(Span(ly.path, value.line, value.col + 1, value.line, value.col + 1), item)
        return TextEdit(Span(ly.path, key.line + 1, 0, key.line + 1, 0), f"  - {item}\n")
    # no include key: everything is bundled already; nothing to add
    return None


def add_all_to_include(ly: LeapYaml, rels: list[str]) -> TextEdit | None:
    """One edit adding every path of ``rels`` to include (each insertion point is the same: they chain)."""
    edits = [add_to_include(ly, rel) for rel in rels]
    if not edits or any(e is None for e in edits):
        return None
    first = edits[0]
    flow_empty = first.new_text == _quote(rels[0])  # `include: []`: items separated by commas
    text = ", ".join(e.new_text for e in edits) if flow_empty else "".join(e.new_text for e in edits)
    return TextEdit(first.span, text)


def _quote(rel: str) -> str:
    return f"'{rel}'" if any(c in rel for c in "*{}[]:#,&!|>'\"%@`") else rel
