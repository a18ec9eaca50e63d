"""Quick fixes keyed by diagnostic code, and the refactorings that go with them.

``fixes_for(finding, analysis)`` returns core ``Fix`` objects: minimal text edits that keep the
rest of the file (comments, formatting) as it is. Each fixer reads the finding's data and
re-derives positions from the parsed module when it needs more.
"""

from __future__ import annotations

import ast
import logging
import os
import re
from typing import Callable

from tensorleap_ls.core import stubs, yaml_edit
from tensorleap_ls.core.model import Binding, Finding, Fix, Kind, Span, Style, TextEdit
from tensorleap_ls.core.sdk import VISUALIZER_CLASSES, registrar_of
from tensorleap_ls.core.codes import (
    CHANNEL_DIM, DATA_NOT_INCLUDED, DEFAULT_CHANNEL_DIM, DEFAULT_DIRECTION, DEFAULT_STATE, DEPRECATED_LENGTH,
    DUPLICATE_NAME, ENCODER_DTYPE, ENCODER_NOT_ARRAY, GT_RETURNS_NONE, METRIC_DIRECTION, MISSING_COMPANION,
    MISSING_GROUND_TRUTH, MISSING_INPUT, MISSING_INTEGRATION_TEST, MISSING_LOSS, MISSING_MODEL, MISSING_PREPROCESS,
    NOT_INCLUDED, NOT_IN_TEST, OLD_METADATA_ORDER, PYTHON_VERSION, SAMPLE_ID_TYPE, STATE_TYPE,
    STRINGIZED_ANNOTATION, TEST_ARITHMETIC, TEST_BAD_INDEX, TEST_BATCH_DIM, TEST_LIBRARY_CALL, UNDEFINED_FUNCTION,
    VISUALIZER_NO_ANNOTATION, VISUALIZER_RETURN_MISMATCH, VISUALIZER_TYPE, YAML_UNKNOWN_KEY,
)

Fixer = Callable[[Finding, object], list[Fix]]
FIXERS: dict[str, Fixer] = {}
log = logging.getLogger(__name__)


def fixer(*codes: str):
    def deco(fn: Fixer) -> Fixer:
        for c in codes:
            FIXERS[c] = fn
        return fn
    return deco


def fixes_for(finding: Finding, analysis) -> list[Fix]:
    fn = FIXERS.get(finding.code)
    if fn is None:
        return []
    try:
        out = fn(finding, analysis)
    except Exception:  # noqa: BLE001 - the user gets no action, the log gets the bug (tests call fixers directly)
        log.exception("fixer for %s failed on %s:%d", finding.code, finding.span.path, finding.span.line + 1)
        return []
    for f in out:
        f.codes = (finding.code,)
    return out


# --- helpers --------------------------------------------------------------------------------
def _module(analysis, path: str):
    return analysis.modules.get(path)


def _lines(analysis, path: str) -> list[str]:
    mod = _module(analysis, path)
    if mod is not None and mod.source is not None:
        return mod.source.lines
    text = analysis.leap_yaml.text if getattr(analysis, "leap_yaml", None) is not None and path == analysis.leap_yaml.path else ""
    return text.replace("\r\n", "\n").split("\n")


def _text(analysis, span: Span) -> str:
    mod = _module(analysis, span.path)
    return mod.source.text_of(span) if mod is not None and mod.source is not None else ""


def _insert(path: str, line: int, col: int, text: str) -> TextEdit:
    return TextEdit(Span(path, line, col, line, col), text)


def _with_imports(analysis, path: str, edits: list[TextEdit], names: set[str], decorators: set[str] = frozenset()) -> list[TextEdit]:
    mod = _module(analysis, path)
    if mod is None:
        return edits
    return stubs.import_edits(path, mod.tree, mod.source.lines, set(names), set(decorators)) + edits


def _binding(analysis, finding: Finding) -> Binding | None:
    fn = finding.data.get("function")
    for b in analysis.bindings:
        if fn is not None and b.function == fn:
            return b
    return None


def _insert_kw(finding: Finding, text: str) -> list[TextEdit]:
    at = finding.data.get("insert_at")
    if not at:
        return []
    return [_insert(finding.span.path, at[0], at[1], text)]


def _comma(analysis, finding: Finding) -> str:
    """What goes before a keyword appended to a call: ", " unless the call is empty or ends with a comma."""
    at = finding.data.get("insert_at")
    lines = _lines(analysis, finding.span.path)
    before = "\n".join(lines[max(0, at[0] - 3):at[0]] + [lines[at[0]][:at[1]]]).rstrip()
    if before.endswith("("):
        return ""
    return " " if before.endswith(",") else ", "


# --- 2xx contract fixes ----------------------------------------------------------------------
@fixer(ENCODER_DTYPE, ENCODER_NOT_ARRAY)
def _astype(f: Finding, pa) -> list[Fix]:
    if f.code == ENCODER_NOT_ARRAY:
        text = _text(pa, f.span)
        if text.startswith("("):
            return []  # a tuple: which element is the output is the author's call
        return [Fix("Wrap in np.asarray(..., dtype=np.float32)", _with_imports(
            pa, f.span.path, [TextEdit(f.span, f"np.asarray({text}, dtype=np.float32)")], {"np"}), preferred=True)]
    text = _text(pa, f.span)
    m = re.search(r"\.astype\(([^()]*)\)$", text)
    if m:  # replace the wrong dtype rather than casting twice
        start = f.span.end_col - len(m.group(0))
        return [Fix("Cast to np.float32", _with_imports(pa, f.span.path, [TextEdit(
            Span(f.span.path, f.span.end_line, start, f.span.end_line, f.span.end_col), ".astype(np.float32)")], {"np"}),
            preferred=True)]
    node = _expr_at(pa, f.span)
    atom = isinstance(node, (ast.Call, ast.Name, ast.Attribute, ast.Subscript))
    edits = [TextEdit(f.span, f"{text}.astype(np.float32)" if atom else f"({text}).astype(np.float32)")]
    return [Fix("Add .astype(np.float32)", _with_imports(pa, f.span.path, edits, {"np"}), preferred=True)]


def _expr_at(pa, span: Span) -> ast.expr | None:
    mod = _module(pa, span.path)
    if mod is None or mod.tree is None:
        return None
    for node in ast.walk(mod.tree):
        if isinstance(node, ast.expr) and getattr(node, "lineno", None) == span.line + 1 and mod.source.span(node) == span:
            return node
    return None


@fixer(STATE_TYPE)
def _state_member(f: Finding, pa) -> list[Fix]:
    members = [f.data["member"]] if f.data.get("member") else ["training", "validation", "test"]
    return [Fix(f"Use DataStateType.{m}", _with_imports(pa, f.span.path, [TextEdit(f.span, f"DataStateType.{m}")],
                                                        {"DataStateType"}), preferred=len(members) == 1)
            for m in members]


@fixer(DEFAULT_STATE)
def _state_set(f: Finding, pa) -> list[Fix]:
    comma = _comma(pa, f)
    out = []
    # a response built in a loop over subsets: its loop variable is the state, not one constant
    for var in _loop_vars_around(pa, f.span):
        if "state" in var.lower():
            out.append(Fix(f"Set state={var}", _insert_kw(f, f"{comma}state={var}"), preferred=True))
    return out + [Fix(f"Set state=DataStateType.{m}", _with_imports(
        pa, f.span.path, _insert_kw(f, f"{comma}state=DataStateType.{m}"), {"DataStateType"})) for m in
        ("training", "validation", "test")]


def _loop_vars_around(pa, span: Span) -> list[str]:
    mod = _module(pa, span.path)
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
    return [Fix("Add sample_id_type=int", _insert_kw(f, ", sample_id_type=int"), preferred=True)]


@fixer(DEPRECATED_LENGTH)
def _length(f: Finding, pa) -> list[Fix]:
    line = _lines(pa, f.span.path)[f.span.line]
    start = line.rfind("length", 0, f.span.col)
    if start < 0:
        return []
    value = _text(pa, f.span)
    edit = TextEdit(Span(f.span.path, f.span.line, start, f.span.end_line, f.span.end_col),
                    f"sample_ids=list(range({value})), sample_id_type=int")
    return [Fix("Use sample_ids= instead of length=", [edit], preferred=True)]


@fixer(DEFAULT_CHANNEL_DIM)
def _channel_dim_default(f: Finding, pa) -> list[Fix]:
    comma = _comma(pa, f)
    return [Fix("Set channel_dim=-1 (channels last)", _insert_kw(f, f"{comma}channel_dim=-1"), preferred=True),
            Fix("Set channel_dim=1 (channels first)", _insert_kw(f, f"{comma}channel_dim=1"))]


@fixer(CHANNEL_DIM)
def _channel_dim_value(f: Finding, pa) -> list[Fix]:
    return [Fix("Use channel_dim=-1 (channels last)", [TextEdit(f.span, "-1")], preferred=True),
            Fix("Use channel_dim=1 (channels first)", [TextEdit(f.span, "1")])]


@fixer(DEFAULT_DIRECTION)
def _direction(f: Finding, pa) -> list[Fix]:
    comma = _comma(pa, f)
    return [Fix(f"Set direction=MetricDirection.{d}", _with_imports(pa, f.span.path, _insert_kw(
        f, f"{comma}direction=MetricDirection.{d}"), {"MetricDirection"}), preferred=d == "Upward")
        for d in ("Upward", "Downward")]


@fixer(METRIC_DIRECTION)
def _direction_value(f: Finding, pa) -> list[Fix]:
    return [Fix(f"Use MetricDirection.{d}", _with_imports(pa, f.span.path, [TextEdit(f.span, f"MetricDirection.{d}")],
                                                          {"MetricDirection"})) for d in ("Upward", "Downward")]


@fixer(STRINGIZED_ANNOTATION)
def _future(f: Finding, pa) -> list[Fix]:
    line = f.data.get("future_line")
    if line is None:
        return []
    lines = _lines(pa, f.span.path)
    end = line + 1
    if end < len(lines) and not lines[end].strip() and (line == 0 or not lines[line - 1].strip()):
        end += 1  # do not leave two blank lines where the import was
    return [Fix("Remove `from __future__ import annotations`",
                [TextEdit(Span(f.span.path, line, 0, end, 0), "")], preferred=True)]


@fixer(VISUALIZER_RETURN_MISMATCH, VISUALIZER_NO_ANNOTATION)
def _annotation(f: Finding, pa) -> list[Fix]:
    expected = f.data.get("expected")
    b = _binding(pa, f)
    out = []
    if expected:
        if f.code == VISUALIZER_RETURN_MISMATCH:
            edits = [TextEdit(f.span, expected)]
        else:
            node = b.def_node if b else None
            if node is None:
                return []
            pos = _after_params(pa, b)
            if pos is None:
                return []
            edits = [_insert(b.def_path, pos[0], pos[1], f" -> {expected}")]
        out.append(Fix(f"Annotate the return type as {expected}", _with_imports(
            pa, f.span.path, edits, set(), set()) + _leap_import(pa, f.span.path, expected), preferred=True))
    annotation = f.data.get("annotation")
    if f.code == VISUALIZER_RETURN_MISMATCH and b is not None and annotation in VISUALIZER_CLASSES.values():
        member = next(k for k, v in VISUALIZER_CLASSES.items() if v == annotation)
        vt = b.args.get("visualizer_type")
        if vt is not None:
            out.append(Fix(f"Register it as LeapDataType.{member}", [TextEdit(vt.span, f"LeapDataType.{member}")]))
    return out


def _leap_import(pa, path: str, cls: str) -> list[TextEdit]:
    mod = _module(pa, path)
    if mod is None or cls in mod.defs or any(cls in [n for n, _ in r.names] for r in mod.imports):
        return []
    stubs.IMPORTS.setdefault(cls, f"from code_loader.contract.visualizer_classes import {cls}")
    return stubs.import_edits(path, mod.tree, mod.source.lines, {cls}, set())


def _after_params(pa, b: Binding) -> tuple[int, int] | None:
    """Position just after the ``)`` closing the parameter list of ``b``'s def."""
    mod = _module(pa, b.def_path or "")
    node = b.def_node
    if mod is None or node is None:
        return None
    body_line = node.body[0].lineno - 1
    for line in range(node.lineno - 1, body_line + 1):
        text = mod.source.lines[line]
        idx = text.rfind("):")
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
    return [Fix("Return an empty float32 array (unlabeled sample)", _with_imports(
        pa, f.span.path, [TextEdit(f.span, "return np.array([], dtype=np.float32)")], {"np"}), preferred=True)]


@fixer(VISUALIZER_TYPE)
def _visualizer_type(f: Finding, pa) -> list[Fix]:
    b = _binding(pa, f)
    member = "Image"
    if b is not None and b.def_node is not None and getattr(b.def_node, "returns", None) is not None:
        ann = ast.unparse(b.def_node.returns).rsplit(".", 1)[-1]
        member = next((k for k, v in VISUALIZER_CLASSES.items() if v == ann), member)
    return [Fix(f"Use LeapDataType.{member}", _with_imports(pa, f.span.path, [TextEdit(f.span, f"LeapDataType.{member}")],
                                                            {"LeapDataType"}), preferred=True)]


@fixer(DUPLICATE_NAME)
def _rename(f: Finding, pa) -> list[Fix]:
    name = f.data.get("name")
    kind = f.data.get("kind")
    if not name:
        return []
    taken = {b.name for b in pa.bindings if b.kind.value == kind}
    new = next(f"{name}_{i}" for i in range(2, 1000) if f"{name}_{i}" not in taken)
    old = _text(pa, f.span)
    if not old or old[0] not in "'\"":
        return []
    return [Fix(f"Rename to '{new}'", [TextEdit(f.span, f"{old[0]}{new}{old[0]}")], preferred=True)]


# --- missing components and undefined functions -------------------------------------------------
_MISSING_KIND = {"preprocess": Kind.PREPROCESS, "input": Kind.INPUT, "load_model": Kind.LOAD_MODEL,
                 "prediction": Kind.PREDICTION, "integration_test": Kind.INTEGRATION_TEST, "loss": Kind.LOSS,
                 "ground_truth": Kind.GROUND_TRUTH}
_DEFAULT_FN = {Kind.PREPROCESS: ("preprocess", None), Kind.INPUT: ("input_encoder", "image"),
               Kind.GROUND_TRUTH: ("gt_encoder", "classes"), Kind.LOSS: ("custom_loss", "loss"),
               Kind.LOAD_MODEL: ("load_model", None), Kind.PREDICTION: ("load_model", None),
               Kind.INTEGRATION_TEST: ("integration_test", None)}


@fixer(MISSING_PREPROCESS, MISSING_INPUT, MISSING_MODEL, MISSING_INTEGRATION_TEST, MISSING_LOSS, MISSING_GROUND_TRUTH)
def _missing(f: Finding, pa) -> list[Fix]:
    kind = _MISSING_KIND.get(f.data.get("missing", ""))
    if kind is None:
        return []
    style = Style(f.data.get("style", "decorator"))
    path = f.span.path
    mod = _module(pa, path)
    if mod is None:
        return []
    out = _register_existing(pa, kind, style)
    fn, name = _DEFAULT_FN[kind]
    fn = _free_name(mod, fn)
    if kind is Kind.INTEGRATION_TEST:
        st = _wired_test(pa, fn)
    else:
        st = stubs.stub(kind, style, fn, name)
    edits = stubs.import_edits(path, mod.tree, mod.source.lines, set(st.names), set(st.decorators))
    edits.append(stubs.insert_code(path, mod.tree, mod.source.lines, st.code,
                                   line=None if kind is not Kind.INTEGRATION_TEST else _test_line(mod)))
    what = {Kind.LOAD_MODEL: "load_model with prediction types", Kind.PREDICTION: "a prediction type",
            Kind.INTEGRATION_TEST: "an integration test wired to the encoders, the model and the loss"}.get(
        kind, f"a {kind.value.replace('_', ' ')} stub")
    return out + [Fix(f"Create {what}", edits, preferred=not out)]


# A function that looks like the missing part but is not registered: register it (preferred).
_HINTS = {Kind.PREPROCESS: (("preprocess",), 0), Kind.INPUT: (("input", "encode", "image"), 2),
          Kind.GROUND_TRUTH: (("gt", "label", "ground", "target"), 2), Kind.LOSS: (("loss", "entropy"), 1),
          Kind.INTEGRATION_TEST: (("integration_test", "test"), 2)}
_LEGACY_CALL = {Kind.PREPROCESS: "leap_binder.set_preprocess({fn})",
                Kind.INPUT: "leap_binder.set_input({fn}, '{name}', channel_dim=-1)",
                Kind.GROUND_TRUTH: "leap_binder.set_ground_truth({fn}, '{name}')",
                Kind.LOSS: "leap_binder.add_custom_loss({fn}, '{name}')"}
_DECO = {Kind.PREPROCESS: "tensorleap_preprocess()", Kind.INPUT: "tensorleap_input_encoder('{name}', channel_dim=-1)",
         Kind.GROUND_TRUTH: "tensorleap_gt_encoder('{name}')", Kind.LOSS: "tensorleap_custom_loss('{name}')",
         Kind.INTEGRATION_TEST: "tensorleap_integration_test()"}


def _register_existing(pa, kind: Kind, style: Style) -> list[Fix]:
    hint = _HINTS.get(kind)
    if hint is None:
        return []
    words, arity = hint
    registered = {(b.def_path, b.function) for b in pa.bindings}
    out = []
    for mod in pa.modules.values():
        for name, node in mod.defs.items():
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or (mod.path, name) in registered:
                continue
            n_params = len(node.args.posonlyargs + node.args.args)
            if not any(w in name.lower() for w in words) or (n_params != arity if arity != 1 else n_params < 1):
                continue
            reg_name = _DEFAULT_FN[kind][1] or name
            if style is Style.DECORATOR or kind is Kind.INTEGRATION_TEST:
                deco = _DECO[kind].format(name=reg_name)
                line = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
                edits = stubs.import_edits(mod.path, mod.tree, mod.source.lines, set(), {deco.split("(")[0]})
                edits.append(_insert(mod.path, line, 0, " " * node.col_offset + f"@{deco}\n"))
                out.append(Fix(f"Register `{name}` with @{deco}", edits, preferred=True))
            else:
                call = _LEGACY_CALL[kind].format(fn=name, name=reg_name)
                edits = stubs.import_edits(mod.path, mod.tree, mod.source.lines, {"leap_binder"}, set())
                last = len(mod.source.lines) - 1
                tail = mod.source.lines[last]
                edits.append(TextEdit(Span(mod.path, last, len(tail), last, len(tail)), ("\n" if tail else "") + call + "\n"))
                out.append(Fix(f"Register `{name}`: {call}", edits, preferred=True))
            if len(out) >= 3:
                return out
    return out


def _test_line(mod) -> int | None:
    """The integration test goes before __main__ (after everything else)."""
    for stmt in (mod.tree.body if mod.tree else []):
        if isinstance(stmt, ast.If) and "__name__" in ast.dump(stmt.test):
            return stmt.lineno - 1
    return None


def _wired_test(pa, fn: str) -> stubs.Stub:
    by_kind = lambda k: [b.function for b in pa.bindings if b.kind is k and b.function and b.def_node is not None]  # noqa: E731
    loaders = by_kind(Kind.LOAD_MODEL)
    inputs = by_kind(Kind.INPUT)
    names = [b.name or "input" for b in pa.bindings if b.kind is Kind.INPUT and b.function]
    return stubs.integration_test_stub(fn, inputs, by_kind(Kind.GROUND_TRUTH), loaders[0] if loaders else None,
                                       by_kind(Kind.LOSS), names)


def _free_name(mod, base: str) -> str:
    if base not in mod.defs and base not in mod.assigns:
        return base
    return next(f"{base}_{i}" for i in range(2, 1000) if f"{base}_{i}" not in mod.defs)


@fixer(UNDEFINED_FUNCTION)
def _undefined(f: Finding, pa) -> list[Fix]:
    kind = Kind(f.data.get("kind"))
    fn = f.data.get("function")
    if not fn or not fn.isidentifier():
        return []
    b = next((x for x in pa.bindings if x.function == fn and x.kind is kind), None)
    mod = _module(pa, f.span.path)
    if mod is None:
        return []
    reg = registrar_of(b) if b is not None else None
    st = (reg and stubs.registrar_stub(reg.name, fn, b.name)) or stubs.stub(kind, Style.DECORATOR, fn, b.name if b else None)
    code = st.code.split("\n", 1)[1] if st.code.startswith("@") else st.code  # the legacy call registers it
    # defined before the registration that names it
    reg_line = f.span.line
    stmt_line = next((s.lineno - 1 for s in (mod.tree.body if mod.tree else [])
                      if s.lineno - 1 <= reg_line <= (s.end_lineno or s.lineno) - 1), reg_line)
    edits = stubs.import_edits(f.span.path, mod.tree, mod.source.lines, set(st.names) - {"leap_binder"}, set())
    edits.append(TextEdit(Span(f.span.path, stmt_line, 0, stmt_line, 0), code + "\n\n"))
    return [Fix(f"Create function `{fn}`", edits, preferred=True)]


@fixer(NOT_IN_TEST)
def _call_in_test(f: Finding, pa) -> list[Fix]:
    kind = f.data.get("kind")
    if kind not in ("input", "ground_truth", "metadata"):
        return []
    test = next((b for b in pa.bindings if b.kind is Kind.INTEGRATION_TEST and b.def_node is not None), None)
    if test is None:
        return []
    node = test.def_node
    params = [a.arg for a in node.args.args]
    if len(params) < 2:
        return []
    last = node.body[-1]
    line = last.end_lineno or last.lineno
    indent = " " * node.body[0].col_offset
    return [Fix(f"Call `{f.data['function']}` in the integration test",
                [_insert(test.def_path, line, 0, f"{indent}{f.data['function']}({params[0]}, {params[1]})\n")])]


# --- leap.yaml --------------------------------------------------------------------------------
@fixer(NOT_INCLUDED, DATA_NOT_INCLUDED)
def _include(f: Finding, pa) -> list[Fix]:
    rel = f.data.get("path")
    ly = getattr(pa, "leap_yaml", None)
    if not rel or ly is None:
        return []
    edit = yaml_edit.add_to_include(ly, rel)
    return [Fix(f"Add {rel} to include in leap.yaml", [edit], preferred=True)] if edit else []


@fixer(YAML_UNKNOWN_KEY)
def _yaml_key(f: Finding, pa) -> list[Fix]:
    hint = f.data.get("suggestion")
    return [Fix(f"Rename to `{hint}`", [TextEdit(f.span, hint)], preferred=True)] if hint else []


@fixer(PYTHON_VERSION)
def _python_version(f: Finding, pa) -> list[Fix]:
    """The version the user wrote, spelt as the leap CLI wants it (``3.10`` -> ``py310``; YAML reads that
    value as the float 3.1, so the text is taken from the file); else the versions code-loader supports."""
    lines = _lines(pa, f.span.path)
    written = lines[f.span.line][f.span.col:f.span.end_col] if f.span.line < len(lines) else ""
    m = re.search(r"3\.(\d{1,2})\b", written)
    if m and 8 <= int(m.group(1)) <= 12:
        value = f"py3{m.group(1)}"
        return [Fix(f"Use pythonVersion: {value}", [TextEdit(f.span, value)], preferred=True)]
    return [Fix(f"Use pythonVersion: {v}", [TextEdit(f.span, v)]) for v in ("py38", "py39", "py310", "py311", "py312")]


# --- refactoring: legacy -> decorators -----------------------------------------------------------
_DECORATOR_OF = {"set_preprocess": "tensorleap_preprocess", "set_input": "tensorleap_input_encoder",
                 "set_ground_truth": "tensorleap_gt_encoder", "set_metadata": "tensorleap_metadata",
                 "set_visualizer": "tensorleap_custom_visualizer", "add_custom_loss": "tensorleap_custom_loss",
                 "add_custom_metric": "tensorleap_custom_metric", "set_unlabeled_data_preprocess": "tensorleap_unlabeled_preprocess"}


def to_decorator(b: Binding, pa) -> list[TextEdit] | None:
    """Edits turning one legacy registration into the decorator on its function (same file only)."""
    call = b.reg_node
    if b.style is not Style.LEGACY or not isinstance(call, ast.Call) or b.def_node is None:
        return None
    method = call.func.attr if isinstance(call.func, ast.Attribute) else ""
    deco = _DECORATOR_OF.get(method)
    if deco is None or b.def_path is None:
        return None
    kw = []
    for k, v in b.args.items():
        if k in ("function",):
            continue
        kw.append(v.text if k == "name" else f"{'heatmap_function' if k == 'heatmap_visualizer' else k}={v.text}")
    mod = _module(pa, b.module_path)
    stmt = next((s for s in (mod.tree.body if mod and mod.tree else []) if isinstance(s, ast.Expr) and s.value is call), None)
    if stmt is None:
        return None
    first = stmt.lineno - 1
    last = (stmt.end_lineno or stmt.lineno)
    node = b.def_node
    deco_line = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
    indent = " " * node.col_offset
    edits = [TextEdit(Span(b.module_path, first, 0, last, 0), ""),
             _insert(b.def_path, deco_line, 0, f"{indent}@{deco}({', '.join(kw)})\n")]
    return edits


def convert_file(path: str, pa) -> Fix | None:
    edits: list[TextEdit] = []
    decos = set()
    for b in pa.bindings:
        if b.module_path != path or b.style is not Style.LEGACY:
            continue
        e = to_decorator(b, pa)
        if e:
            edits += e
            decos.add(_DECORATOR_OF[b.reg_node.func.attr])
    if not edits:
        return None
    mod = _module(pa, path)
    imports = stubs.import_edits(path, mod.tree, mod.source.lines, set(), decos)
    return Fix("Convert all leap_binder registrations of this file to decorators", imports + edits,
               kind="refactor.rewrite")


def convert_binding(b: Binding, pa) -> Fix | None:
    edits = to_decorator(b, pa)
    if not edits:
        return None
    mod = _module(pa, b.def_path)
    deco = _DECORATOR_OF[b.reg_node.func.attr]
    imports = stubs.import_edits(b.def_path, mod.tree, mod.source.lines, set(), {deco})
    return Fix(f"Convert to @{deco}", imports + edits, kind="refactor.rewrite")


def skeleton(path: str) -> Fix:
    return Fix("Generate a Tensorleap integration skeleton", [TextEdit(Span(path, 0, 0, 0, 0), stubs.SKELETON)],
               kind="source")


def is_empty(text: str) -> bool:
    return not text.strip() or all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines())



# --- from an encoder: add a visualizer / metadata / metric for this input -------------------------
def companions(b: Binding, pa) -> list[Fix]:
    """Stubs wired to the input or ground truth ``b`` (arguments named after its registered name)."""
    if b.kind not in (Kind.INPUT, Kind.GROUND_TRUTH) or not b.name or not b.name.isidentifier() or b.def_path is None:
        return []
    mod = _module(pa, b.def_path)
    if mod is None or mod.tree is None:
        return []
    style = b.style
    out = []
    arg = b.name
    specs = [
        ("visualizer", Kind.VISUALIZER, f"{arg}_visualizer",
         f"def {{fn}}({arg}: np.ndarray) -> LeapImage:\n"
         f"    # {arg} arrives with a batch axis of size 1; return uint8 0-255 pixels (TODO: adapt to the data)\n"
         f"    return LeapImage((({arg}[0] - {arg}[0].min()) / (np.ptp({arg}[0]) + 1e-9) * 255).astype(np.uint8))\n",
         "@tensorleap_custom_visualizer('{name}', LeapDataType.Image)",
         "leap_binder.set_visualizer({fn}, '{name}', LeapDataType.Image)",
         {"np", "LeapImage", "LeapDataType"}, "tensorleap_custom_visualizer"),
        ("metadata", Kind.METADATA, f"{arg}_mean",
         "def {fn}(sample_id, preprocess: PreprocessResponse) -> float:\n"
         f"    # TODO: a property of the sample's {arg}\n"
         f"    return float({b.function}(sample_id, preprocess).mean())\n",
         "@tensorleap_metadata('{name}')", "leap_binder.set_metadata({fn}, '{name}')",
         {"PreprocessResponse"}, "tensorleap_metadata"),
        ("metric", Kind.METRIC, f"{arg}_metric",
         f"def {{fn}}({arg}: np.ndarray, prediction: np.ndarray) -> np.ndarray:\n"
         f"    # batched [B, ...] arrays; one value per sample (TODO: a real metric)\n"
         f"    return np.abs({arg} - prediction).reshape({arg}.shape[0], -1).mean(-1).astype(np.float32)\n",
         "@tensorleap_custom_metric('{name}', direction=MetricDirection.Downward)",
         "leap_binder.add_custom_metric({fn}, '{name}', direction=MetricDirection.Downward)",
         {"np", "MetricDirection"}, "tensorleap_custom_metric"),
    ]
    for what, kind, fn, body, deco, call, names, deco_name in specs:
        taken = {x.name for x in pa.bindings if x.kind is kind} | set(mod.defs) | set(mod.assigns)
        fn = next(c for c in [fn] + [f"{fn}_{i}" for i in range(2, 1000)] if c not in taken)
        code = body.format(fn=fn)
        if style is Style.DECORATOR:
            code = deco.format(name=fn) + "\n" + code
            imports = stubs.import_edits(b.def_path, mod.tree, mod.source.lines, names, {deco_name})
        else:
            code = code + "\n\n" + call.format(fn=fn, name=fn) + "\n"
            imports = stubs.import_edits(b.def_path, mod.tree, mod.source.lines, names | {"leap_binder"}, set())
        end = (b.def_node.end_lineno or b.def_node.lineno)
        edit = TextEdit(Span(b.def_path, end, 0, end, 0), "\n\n" + code)
        out.append(Fix(f"Add a {what} for `{arg}`", imports + [edit], kind="refactor"))
    return out


# --- stubs from the model file ----------------------------------------------------------------------
def model_stubs(pa, style: Style, model_path: str, info: dict, path: str) -> Fix | None:
    """One input encoder per model input (name, shape, dtype from the model) and a load_model with one
    prediction type per output; the model file's facts come from runtime/model_info.py."""
    mod = _module(pa, path)
    if mod is None or not info.get("inputs"):
        return None
    taken = {b.name for b in pa.bindings if b.kind is Kind.INPUT} | set(mod.defs)
    parts, decos, names = [], set(), {"np", "PreprocessResponse"}
    for inp in info["inputs"]:
        name = str(inp["name"])
        if name in taken:
            continue
        shape = [d for d in inp.get("shape") or []][1:]  # drop the batch axis
        shape_text = "(" + ", ".join(str(d) if isinstance(d, int) and d > 0 else "1" for d in shape) + ("," if len(shape) == 1 else "") + ")"
        fn = _free_name(mod, "encode_" + re.sub(r"\W", "_", name))
        channel = "1" if len(shape) == 3 and isinstance(shape[0], int) and shape[0] in (1, 3) and shape[-1] not in (1, 3) else "-1"
        body = (f"def {fn}(sample_id, preprocess: PreprocessResponse) -> np.ndarray:\n"
                f"    # TODO: model input '{name}': shape {shape_text} without the batch axis, model dtype {inp.get('dtype')}\n"
                f"    return np.zeros({shape_text}, dtype=np.float32)\n")
        if style is Style.DECORATOR:
            parts.append(f"@tensorleap_input_encoder({name!r}, channel_dim={channel})\n{body}")
            decos.add("tensorleap_input_encoder")
        else:
            parts.append(f"{body}\n\nleap_binder.set_input({fn}, {name!r}, channel_dim={channel})\n")
            names.add("leap_binder")
    if not any(b.kind in (Kind.LOAD_MODEL, Kind.PREDICTION) for b in pa.bindings):
        handlers = []
        for out in info.get("outputs", []):
            n = (out.get("shape") or [None])[-1]
            labels = f"[str(i) for i in range({n})]" if isinstance(n, int) and n > 0 else "[]"
            handlers.append((str(out["name"]), labels))
        rel = os.path.relpath(model_path, os.path.dirname(mod.path))
        if style is Style.DECORATOR:
            hs = ", ".join(f"PredictionTypeHandler({n!r}, {lab}, channel_dim=-1)" for n, lab in handlers)
            parts.append(f"@tensorleap_load_model([{hs}])\ndef load_model():\n"
                         f"    import onnxruntime  # TODO: keras.models.load_model for .h5 files\n"
                         f"    return onnxruntime.InferenceSession(os.path.join(os.path.dirname(os.path.abspath(__file__)), {rel!r}))\n")
            decos.add("tensorleap_load_model")
            names |= {"PredictionTypeHandler", "os"}
        else:
            parts += [f"leap_binder.add_prediction({n!r}, {lab}, channel_dim=-1)\n" for n, lab in handlers]
            names.add("leap_binder")
    if not parts:
        return None
    stubs.IMPORTS.setdefault("os", "import os")
    edits = stubs.import_edits(path, mod.tree, mod.source.lines, names, decos)
    edits.append(stubs.insert_code(path, mod.tree, mod.source.lines, "\n\n".join(p.rstrip("\n") + "\n" for p in parts)))
    return Fix(f"Create encoders and prediction types from {os.path.basename(model_path)}", edits, preferred=True)


# --- integration test: move logic out of the body ----------------------------------------------------
@fixer(TEST_ARITHMETIC, TEST_LIBRARY_CALL, TEST_BAD_INDEX)
def _move_out_of_test(f: Finding, pa) -> list[Fix]:
    """``metric(gt, prediction.argmax(-1))`` -> ``metric(gt, prediction)``, and the decorated function
    starts with ``prediction = prediction.argmax(-1)``: the logic runs where the SDK allows it."""
    test = next((b for b in pa.bindings if b.kind is Kind.INTEGRATION_TEST and b.def_node is not None
                 and b.def_path == f.span.path), None)
    mod = _module(pa, f.span.path)
    if test is None or mod is None:
        return []
    target = _expr_at(pa, f.span)
    if target is None:
        return []
    for call in (n for n in ast.walk(test.def_node) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)):
        if target not in call.args:
            continue
        callee = next((b for b in pa.bindings if b.function == call.func.id and b.def_node is not None
                       and b.kind is not Kind.INTEGRATION_TEST), None)
        names = {n.id for n in ast.walk(target) if isinstance(n, ast.Name)} - {"np", "numpy", "torch", "tf"}
        if callee is None or len(names) != 1:
            return []
        (var,) = names
        index = call.args.index(target)
        params = [a.arg for a in callee.def_node.args.posonlyargs + callee.def_node.args.args]
        if index >= len(params):
            return []
        param = params[index]
        moved = _rename_var(mod.source.segment(target), var, param)
        first = callee.def_node.body[0]
        indent = " " * first.col_offset
        cmod = _module(pa, callee.def_path)
        needs_np = "np." in moved and cmod is not None and "np" not in {a for r in cmod.imports for a in
                                                                      [n[1] for n in r.names] + [r.bound]}
        edits = [TextEdit(f.span, var),
                 _insert(callee.def_path, first.lineno - 1, 0,
                         f"{indent}{param} = {moved}  # moved from the integration test\n")]
        if needs_np:
            edits = stubs.import_edits(callee.def_path, cmod.tree, cmod.source.lines, {"np"}, set()) + edits
        return [Fix(f"Move `{mod.source.segment(target)}` into `{callee.function}`", edits, preferred=True)]
    return []


@fixer(TEST_BATCH_DIM)
def _drop_batch_dim(f: Finding, pa) -> list[Fix]:
    """``enc(idx, p)[None]`` / ``np.expand_dims(x, 0)`` -> the unbatched value: decorated calls already
    return batched arrays, so the hand-made axis is simply removed."""
    target = _expr_at(pa, f.span)
    inner = None
    if isinstance(target, ast.Subscript):
        inner = target.value
    elif isinstance(target, ast.Call) and target.args:
        inner = target.args[0]
    if inner is None:
        return _move_out_of_test(f, pa)
    text = pa.modules[f.span.path].source.segment(inner)
    return [Fix(f"Remove the manual batch dimension (`{text}`)", [TextEdit(f.span, text)], preferred=True)]


def _rename_var(expr: str, old: str, new: str) -> str:
    return re.sub(rf"\b{re.escape(old)}\b", new, expr)


@fixer(MISSING_COMPANION)
def _missing_companion(f: Finding, pa) -> list[Fix]:
    """Creates the companion the SDK asks for, from the registrar table's stub, in the file of the finding."""
    missing, name = f.data.get("missing"), f.data.get("name")
    mod = _module(pa, f.span.path)
    if not missing or not name or mod is None:
        return []
    base = re.sub(r"\W", "_", f"{missing.removeprefix('tensorleap_')}_{name}")
    st = stubs.registrar_stub(missing, _free_name(mod, base), name, f.data.get("shape"))
    if st is None:
        return []
    edits = stubs.import_edits(f.span.path, mod.tree, mod.source.lines, set(st.names), set(st.decorators))
    edits.append(stubs.insert_code(f.span.path, mod.tree, mod.source.lines, st.code))
    return [Fix(f"Create `@{missing}({name!r})`", edits, preferred=True)]
