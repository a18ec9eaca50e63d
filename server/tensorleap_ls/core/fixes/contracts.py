"""Fixes for 2xx (core/checks/contracts.py): dtypes, annotations, registration keywords and
``PreprocessResponse`` arguments."""

from __future__ import annotations

import ast
import re

from tensorleap_ls.core.fixes import stubs
from tensorleap_ls.core.codes import (
    CHANNEL_DIM, DEFAULT_CHANNEL_DIM, DEFAULT_DIRECTION, DEFAULT_STATE, DEPRECATED_LENGTH, ENCODER_DTYPE,
    ENCODER_NOT_ARRAY, GT_RETURNS_NONE, METRIC_DIRECTION, OLD_METADATA_ORDER, SAMPLE_ID_TYPE, STATE_TYPE,
    STRINGIZED_ANNOTATION, VISUALIZER_NO_ANNOTATION, VISUALIZER_RETURN_MISMATCH, VISUALIZER_TYPE,
)
from tensorleap_ls.core.fixdata import (
    DefaultChannelDim, DefaultState, Function, InsertAt, InsertKeyword, StateMember, StringizedAnnotation,
    VisualizerAnnotation,
)
from tensorleap_ls.core.fixes import fixer
from tensorleap_ls.core.fixes.edits import (
    binding_of, comma, data_of, expr_at, insert, insert_keyword, lines, module, text, with_imports,
)
from tensorleap_ls.core.model import Binding, Finding, Fix, Span, TextEdit
from tensorleap_ls.core.sdk.bundled import VISUALIZER_CLASSES


@fixer(ENCODER_DTYPE, ENCODER_NOT_ARRAY)
def _astype(f: Finding, pa) -> list[Fix]:
    value = text(pa, f.span)
    if f.code == ENCODER_NOT_ARRAY:
        if value.startswith("("):
            return []  # a tuple: which element is the output is the author's call
        return [Fix("Wrap in np.asarray(..., dtype=np.float32)", with_imports(
            pa, f.span.path, [TextEdit(f.span, f"np.asarray({value}, dtype=np.float32)")], {"np"}), preferred=True)]
    m = re.search(r"\.astype\(([^()]*)\)$", value)
    if m:  # replace the wrong dtype rather than casting twice
        start = f.span.end_col - len(m.group(0))
        return [Fix("Cast to np.float32", with_imports(pa, f.span.path, [TextEdit(
            Span(f.span.path, f.span.end_line, start, f.span.end_line, f.span.end_col), ".astype(np.float32)")], {"np"}),
            preferred=True)]
    atom = isinstance(expr_at(pa, f.span), (ast.Call, ast.Name, ast.Attribute, ast.Subscript))
    edits = [TextEdit(f.span, f"{value}.astype(np.float32)" if atom else f"({value}).astype(np.float32)")]
    return [Fix("Add .astype(np.float32)", with_imports(pa, f.span.path, edits, {"np"}), preferred=True)]


@fixer(STATE_TYPE)
def _state_member(f: Finding, pa) -> list[Fix]:
    d = data_of(f, StateMember)
    members = [d.member] if d and d.member else ["training", "validation", "test"]
    return [Fix(f"Use DataStateType.{m}", with_imports(pa, f.span.path, [TextEdit(f.span, f"DataStateType.{m}")],
                                                       {"DataStateType"}), preferred=len(members) == 1)
            for m in members]


@fixer(DEFAULT_STATE)
def _state_set(f: Finding, pa) -> list[Fix]:
    d = data_of(f, DefaultState)
    at = d.insert_at if d else None
    sep = comma(pa, f, at)
    out = []
    # a response built in a loop over subsets: its loop variable is the state, not one constant
    for var in _loop_vars_around(pa, f.span):
        if "state" in var.lower():
            out.append(Fix(f"Set state={var}", insert_keyword(f, at, f"{sep}state={var}"), preferred=True))
    return out + [Fix(f"Set state=DataStateType.{m}", with_imports(
        pa, f.span.path, insert_keyword(f, at, f"{sep}state=DataStateType.{m}"), {"DataStateType"})) for m in
        ("training", "validation", "test")]


def _loop_vars_around(pa, span: Span) -> list[str]:
    mod = module(pa, span.path)
    if mod is None or mod.tree is None:
        return []
    names = []
    for node in ast.walk(mod.tree):
        if isinstance(node, (ast.For, ast.comprehension)):
            body = node.body if isinstance(node, ast.For) else []
            inside = any(s.lineno - 1 <= span.line <= (s.end_lineno or s.lineno) - 1 for s in body)
            if inside:
                names += [n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)]
    return names


@fixer(SAMPLE_ID_TYPE)
def _sample_id_type(f: Finding, pa) -> list[Fix]:
    d = data_of(f, InsertAt)
    return [Fix("Add sample_id_type=int", insert_keyword(f, d.insert_at if d else None, ", sample_id_type=int"),
                preferred=True)]


@fixer(DEPRECATED_LENGTH)
def _length(f: Finding, pa) -> list[Fix]:
    """Every `length=` of the project at once (the finding's related places are the others)."""
    edits = []
    for span in [f.span] + [s for s, _ in f.related]:
        edits.extend(_length_edits(pa, span))
    if not edits:
        return []
    title = "Use sample_ids= instead of length=" + (f" ({len(f.related) + 1} places)" if f.related else "")
    return [Fix(title, edits, preferred=True)]


def _length_edits(pa, span: Span) -> list[TextEdit]:
    """``length=n`` -> ``sample_ids=list(range(n)), sample_id_type=int`` in one ``PreprocessResponse(...)``,
    keeping what the call already says (``sample_ids=`` given: only drop ``length``)."""
    mod = module(pa, span.path)
    call = next((n for n in ast.walk(mod.tree) if isinstance(n, ast.Call) and any(
        k.arg == "length" and k.value.lineno - 1 == span.line and k.value.col_offset <= span.col < (k.value.end_col_offset or 0)
        + 1 for k in n.keywords)), None) if mod is not None and mod.tree is not None else None
    line = lines(pa, span.path)[span.line]
    start = line.rfind("length", 0, span.col)
    if start < 0:
        return []
    kws = {k.arg for k in call.keywords} if call is not None else set()
    target = Span(span.path, span.line, start, span.end_line, span.end_col)
    if "sample_ids" in kws:  # both given (they must agree): the ids stay
        rest = lines(pa, span.path)[span.end_line][span.end_col:]
        gap = len(rest) - len(rest.lstrip(" ,")) if rest.lstrip().startswith(",") else 0
        return [TextEdit(Span(span.path, span.line, start, span.end_line, span.end_col + gap), "")]
    new = f"sample_ids=list(range({text(pa, span)}))" + ("" if "sample_id_type" in kws else ", sample_id_type=int")
    return [TextEdit(target, new)]


@fixer(DEFAULT_CHANNEL_DIM)
def _channel_dim_default(f: Finding, pa) -> list[Fix]:
    d = data_of(f, DefaultChannelDim)
    at = d.insert_at if d else None
    sep = comma(pa, f, at)
    return [Fix("Set channel_dim=-1 (channels last)", insert_keyword(f, at, f"{sep}channel_dim=-1"), preferred=True),
            Fix("Set channel_dim=1 (channels first)", insert_keyword(f, at, f"{sep}channel_dim=1"))]


@fixer(CHANNEL_DIM)
def _channel_dim_value(f: Finding, pa) -> list[Fix]:
    return [Fix("Use channel_dim=-1 (channels last)", [TextEdit(f.span, "-1")], preferred=True),
            Fix("Use channel_dim=1 (channels first)", [TextEdit(f.span, "1")])]


@fixer(DEFAULT_DIRECTION)
def _direction(f: Finding, pa) -> list[Fix]:
    d = data_of(f, InsertKeyword)
    at = d.insert_at if d else None
    sep = comma(pa, f, at)
    return [Fix(f"Set direction=MetricDirection.{m}", with_imports(pa, f.span.path, insert_keyword(
        f, at, f"{sep}direction=MetricDirection.{m}"), {"MetricDirection"}), preferred=m == "Upward")
        for m in ("Upward", "Downward")]


@fixer(METRIC_DIRECTION)
def _direction_value(f: Finding, pa) -> list[Fix]:
    return [Fix(f"Use MetricDirection.{m}", with_imports(pa, f.span.path, [TextEdit(f.span, f"MetricDirection.{m}")],
                                                         {"MetricDirection"})) for m in ("Upward", "Downward")]


@fixer(STRINGIZED_ANNOTATION)
def _future(f: Finding, pa) -> list[Fix]:
    d = data_of(f, StringizedAnnotation)
    line = d.future_line if d else None
    if line is None:
        return []
    ls = lines(pa, f.span.path)
    end = line + 1
    if end < len(ls) and not ls[end].strip() and (line == 0 or not ls[line - 1].strip()):
        end += 1  # do not leave two blank lines where the import was
    return [Fix("Remove `from __future__ import annotations`",
                [TextEdit(Span(f.span.path, line, 0, end, 0), "")], preferred=True)]


@fixer(VISUALIZER_RETURN_MISMATCH, VISUALIZER_NO_ANNOTATION)
def _annotation(f: Finding, pa) -> list[Fix]:
    d = data_of(f, VisualizerAnnotation)
    if d is None:
        return []
    b = binding_of(pa, d.function)
    out = []
    if d.expected:
        if f.code == VISUALIZER_RETURN_MISMATCH:
            edits = [TextEdit(f.span, d.expected)]
        else:
            pos = _after_params(pa, b) if b is not None and b.def_node is not None else None
            if pos is None:
                return []
            edits = [insert(b.def_path, pos[0], pos[1], f" -> {d.expected}")]
        out.append(Fix(f"Annotate the return type as {d.expected}",
                       edits + _leap_import(pa, f.span.path, d.expected), preferred=True))
    if f.code == VISUALIZER_RETURN_MISMATCH and b is not None and d.annotation in VISUALIZER_CLASSES.values():
        member = next(k for k, v in VISUALIZER_CLASSES.items() if v == d.annotation)
        vt = b.args.get("visualizer_type")
        if vt is not None:
            out.append(Fix(f"Register it as LeapDataType.{member}", [TextEdit(vt.span, f"LeapDataType.{member}")]))
    return out


def _leap_import(pa, path: str, cls: str) -> list[TextEdit]:
    mod = module(pa, path)
    if mod is None or cls in mod.defs or any(cls in [n for n, _ in r.names] for r in mod.imports):
        return []
    stubs.IMPORTS.setdefault(cls, f"from code_loader.contract.visualizer_classes import {cls}")
    return stubs.import_edits(path, mod.tree, mod.source.lines, {cls}, set())


def _after_params(pa, b: Binding) -> tuple[int, int] | None:
    """Position just after the ``)`` closing the parameter list of ``b``'s def."""
    mod = module(pa, b.def_path or "")
    node = b.def_node
    if mod is None or node is None:
        return None
    body_line = node.body[0].lineno - 1
    for line in range(node.lineno - 1, body_line + 1):
        idx = mod.source.lines[line].rfind("):")
        if idx >= 0:
            return line, idx + 1
    return None


@fixer(OLD_METADATA_ORDER)
def _metadata_order(f: Finding, pa) -> list[Fix]:
    b = next((x for x in pa.bindings if x.reg_span == f.span), None)
    if b is None or "name" not in b.args or "metadata_type" not in b.args:
        return []
    second, third = b.args["name"], b.args["metadata_type"]
    return [Fix("Use the (function, name, metadata_type) order",
                [TextEdit(second.span, third.text), TextEdit(third.span, second.text)], preferred=True)]


@fixer(GT_RETURNS_NONE)
def _gt_none(f: Finding, pa) -> list[Fix]:
    return [Fix("Return an empty float32 array (unlabeled sample)", with_imports(
        pa, f.span.path, [TextEdit(f.span, "return np.array([], dtype=np.float32)")], {"np"}), preferred=True)]


@fixer(VISUALIZER_TYPE)
def _visualizer_type(f: Finding, pa) -> list[Fix]:
    d = data_of(f, Function)
    b = binding_of(pa, d.function if d else None)
    member = "Image"
    if b is not None and b.def_node is not None and getattr(b.def_node, "returns", None) is not None:
        ann = ast.unparse(b.def_node.returns).rsplit(".", 1)[-1]
        member = next((k for k, v in VISUALIZER_CLASSES.items() if v == ann), member)
    return [Fix(f"Use LeapDataType.{member}", with_imports(pa, f.span.path, [TextEdit(f.span, f"LeapDataType.{member}")],
                                                           {"LeapDataType"}), preferred=True)]
