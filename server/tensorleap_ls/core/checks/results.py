"""2xx: what registered functions hand back to the SDK, where the SDK's own validation rejects it.

TL234: a ``Leap*`` visualizer result built with a value its ``__post_init__`` rejects (LeapValidationError,
wherever the visualizer runs): the rules are the classes' own validation, read from code-loader 1.0.214
(``core/sdk/bundled.LEAP_RESULT_RULES``). TL235: a decorated custom loss / metric visibly returning what its
decorator asserts against (a Python or numpy scalar, a TensorFlow / PyTorch tensor).

Only what is visible is reported: literals, names assigned once in the function, and the constructors and
conversions whose result type is plain (``int(...)``, ``np.array([...])``, ``tf.constant(...)``).
"""

from __future__ import annotations

import ast
import bisect
from typing import Iterator

from tensorleap_ls.core.checks.base import CheckContext, ScopedCheck, per_def
from tensorleap_ls.core.checks.returns import _visible_dtype, _visibly_scalar, own_nodes, own_returns, single_assignment
from tensorleap_ls.core.codes import LEAP_RESULT_TYPE, LOSS_METRIC_RETURN
from tensorleap_ls.core.facts.modules import has_tree, per_text
from tensorleap_ls.core.facts.nodes import kept_on, statement_index
from tensorleap_ls.core.fixdata import FunctionKind
from tensorleap_ls.core.model import Finding, Kind, Style
from tensorleap_ls.core.sdk.bundled import LEAP_RESULT_RULES
from tensorleap_ls.core.source.text import Words, dotted

_TENSOR_LIBS = ("tf.", "tensorflow.", "torch.", "keras.", "K.")
_NON_STR_CALLS = {"int", "float", "len", "round", "abs", "sum", "min", "max", "bool"}
_STR_CALLS = {"str", "repr", "format"}


def _binding(ctx: CheckContext, b) -> list[Finding]:
    """A decorated custom loss or metric: what it visibly returns (its own text decides: reused while its
    fingerprint holds)."""
    if b.kind not in (Kind.LOSS, Kind.METRIC) or b.style is not Style.DECORATOR:
        return []
    node = b.def_node
    mod = ctx.module_at(b.def_path)
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and getattr(mod, "source", None) is not None:
        return list(_loss_metric(b, node, mod.source))
    return []


def _project(ctx: CheckContext) -> list[Finding]:
    """The ``Leap*(...)`` results built anywhere in the closure (per module text)."""
    out: list[Finding] = []
    for mod in ctx.modules.values():
        if has_tree(mod):
            out.extend(_leap_results(mod))
    return out


check = ScopedCheck("results", _binding, _project)


# --- Leap* results ---------------------------------------------------------------------------------------------
@per_text("leap_results", needle=Words(LEAP_RESULT_RULES, whole=False), empty=list)
def _leap_results(mod) -> list[Finding]:
    """The ``Leap*(...)`` calls of a module, checked against the classes' validation (depends on the text): those of
    the defs of each top-level statement kept on it (facts/nodes.py: an edit checks the statement it changed), then
    those of the module's own top level."""
    out: list[Finding] = []
    top = False
    for st, calls, defs in statement_index(mod):
        found, at_top = kept_on(st, "_tl_leap_results", mod.path, lambda calls=calls, defs=defs: _in_statement(mod, calls, defs))
        out += found
        top = top or at_top
    return out + (_leap_results_of(mod, mod.tree) if top else [])


def _in_statement(mod, calls: list, defs: list) -> tuple[list[Finding], bool]:
    """(the findings of the defs of one top-level statement, whether the module's top level calls a ``Leap*`` class
    there), given the statement's calls and defs."""
    found: list[Finding] = []
    owners, top = _owners(calls, defs)
    for fn in defs:
        if id(fn) in owners:
            found += per_def("leap_results", mod, fn, lambda fn=fn: _leap_results_of(mod, fn))
    return found, top


def _leap_results_of(mod, fn) -> list[Finding]:
    """The Leap* calls of one function's own code (or the module's top level)."""
    out: list[Finding] = []
    for call in own_nodes(fn, ast.Call):
        cls = dotted(call.func).rsplit(".", 1)[-1]
        rules = LEAP_RESULT_RULES.get(cls)
        if rules is None:
            continue
        fields = [f for f, _ in rules]
        args = dict(zip(fields, call.args))
        args.update({k.arg: k.value for k in call.keywords if k.arg})
        for field, rule in rules:
            if rule is None or field not in args:
                continue
            why = _violates(rule, args[field], fn)
            if why:
                out.append(Finding(LEAP_RESULT_TYPE, f"`{cls}({field}=...)`: {why}; the SDK's own validation raises "
                                   f"LeapValidationError when the visualizer runs (it expects {_expects(rule)}).",
                                   mod.source.span(args[field]), data=FunctionKind(getattr(fn, "name", None), cls)))
    return out


def _owners(calls: list, defs: list) -> tuple[set[int], bool]:
    """(ids of the functions whose own code calls a ``Leap*`` class, whether the module's top level does), for the
    calls and defs of one top-level statement: the calls come from the module's one walk (``calls_of``), and only
    the bodies that hold one are walked again."""
    wanted = [c for c in calls if dotted(c.func).rsplit(".", 1)[-1] in LEAP_RESULT_RULES]
    if not wanted:
        return set(), False
    by_start = sorted(defs, key=lambda fn: (fn.body[0].lineno, fn.body[0].col_offset))
    starts = [(fn.body[0].lineno, fn.body[0].col_offset) for fn in by_start]
    owners: set[int] = set()
    for call in wanted:
        at = (call.lineno, call.col_offset)
        # the innermost def whose body holds the call (decorators and defaults are the outer scope's): the latest
        # body start before it that has not ended
        inner = next((fn for fn in reversed(by_start[:bisect.bisect_right(starts, at)])
                      if at <= (fn.end_lineno, fn.end_col_offset)), None)
        owners.add(id(inner) if inner is not None else 0)
    return owners, 0 in owners


def _expects(rule: str) -> str:
    kind, _, detail = rule.rstrip("?").partition(":")
    if kind == "array":
        return f"an np.ndarray of {' or '.join(detail.split('|'))}"
    return {"list[str]": "a list of str", "list[float]": "a list of Python floats", "tuple": "a tuple",
            "bool": "a bool"}.get(kind, kind)


def _violates(rule: str, node: ast.expr, fn) -> str | None:
    optional = rule.endswith("?")
    kind, _, detail = rule.rstrip("?").partition(":")
    if optional and isinstance(node, ast.Constant) and node.value is None:
        return None
    value = _local(node, fn)
    if kind == "array":
        if isinstance(value, (ast.List, ast.Tuple, ast.ListComp)):
            return "a list, not an np.ndarray"
        if isinstance(value, ast.Constant):
            return f"a {type(value.value).__name__}, not an np.ndarray"
        dtype = _visible_dtype(node, fn) if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) else None
        if dtype is not None and detail:
            base = dtype.split(".")[-1].strip("'\"")
            if base not in detail.split("|") and base in _KNOWN_DTYPES:
                return f"an array of dtype {base}"
        return None
    if kind in ("list[str]", "list[float]"):
        if isinstance(value, ast.Tuple) or (isinstance(value, ast.Call) and dotted(value.func) == "tuple"):
            return "a tuple (the SDK asserts the type `list`)"
        if isinstance(value, ast.Call) and dotted(value.func).startswith(("np.", "numpy.")):
            return "an np.ndarray (the SDK asserts the type `list`)"
        elems = value.elts if isinstance(value, ast.List) else [value.elt] if isinstance(value, ast.ListComp) else []
        for e in elems:
            bad = _non_str(e, fn) if kind == "list[str]" else _non_float(e, fn)
            if bad:
                return f"an element is {bad}, not a `{'str' if kind == 'list[str]' else 'float'}`"
        return None
    if kind == "tuple" and isinstance(value, ast.List):
        return "a list (the SDK asserts the type `tuple`)"
    if kind == "bool" and isinstance(value, ast.Constant) and not isinstance(value.value, bool):
        return f"a {type(value.value).__name__}"
    return None


_KNOWN_DTYPES = {"float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                 "uint64", "bool", "bool_"}


def _local(node: ast.expr, fn) -> ast.expr:
    if isinstance(node, ast.Name) and isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
        assigned = single_assignment(fn, node.id)
        if assigned is not None:
            return assigned
    return node


def _non_str(e: ast.expr, fn, depth: int = 0) -> str | None:
    """What a list element visibly is when that is not a str (an int, a float, a number), else None."""
    if depth > 4:
        return None
    e = _local(e, fn) if depth < 3 else e
    if isinstance(e, ast.Constant):
        return None if isinstance(e.value, str) else f"a {type(e.value).__name__} ({e.value!r})"
    if isinstance(e, ast.Call):
        f = dotted(e.func)
        if f in _NON_STR_CALLS:
            return f"a number (`{f}(...)`)"
        if f.startswith(("np.", "numpy.")) and not f.endswith(("str_", "array2string")):
            return "a numpy value"
        return None
    if isinstance(e, ast.BinOp) and not isinstance(e.op, ast.Mod):
        left, right = _non_str(e.left, fn, depth + 1), _non_str(e.right, fn, depth + 1)
        return "a number" if left and right else None
    return None


def _non_float(e: ast.expr, fn) -> str | None:
    e = _local(e, fn)
    if isinstance(e, ast.Constant) and not isinstance(e.value, float):
        return f"a {type(e.value).__name__} ({e.value!r})"
    if isinstance(e, ast.Call) and dotted(e.func).startswith(("np.", "numpy.")):
        return "a numpy value"
    return None


# --- decorated custom losses and metrics ------------------------------------------------------------------------
def _loss_metric(b, node, src) -> Iterator[Finding]:
    what = "custom loss" if b.kind is Kind.LOSS else "metric"
    for ret in own_returns(node):
        value = ret.value
        bad = _not_ndarray(value, node)
        if bad is None:
            continue
        expects = ("a 1-D np.ndarray with one value per sample" if b.kind is Kind.LOSS else
                   "a 1-D np.ndarray (or a list of numbers, a list of ConfusionMatrixElement lists, or a dict of those)")
        yield Finding(LOSS_METRIC_RETURN, f"`{node.name}` ({what}) returns {bad}; the decorator asserts {expects} and "
                      "raises when it is called. Return e.g. `np.asarray(value, dtype=np.float32).reshape(-1)`.",
                      src.span(value if value is not None else ret), data=FunctionKind(node.name, b.kind.value))


def _not_ndarray(value: ast.expr | None, fn) -> str | None:
    """What a returned value visibly is when the SDK rejects it for a loss / metric: None, a scalar (Python
    or numpy), a framework tensor. None when it may be an ndarray (or a list, for a metric)."""
    if value is None or (isinstance(value, ast.Constant) and value.value is None):
        return "None"
    node = _local(value, fn)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return f"a Python number (`{node.value!r}`)"
    if isinstance(node, ast.Call):
        f = dotted(node.func)
        if isinstance(node.func, ast.Attribute) and node.func.attr == "numpy":
            return None  # tensor.numpy(): an ndarray
        if f.startswith(_TENSOR_LIBS):
            return f"a framework tensor (`{f}(...)`)"
        if f in ("float", "int"):
            return f"a Python number (`{f}(...)`)"
    if _visibly_scalar(node, fn) and not isinstance(node, (ast.Dict, ast.Compare, ast.BoolOp, ast.JoinedStr)) \
            and not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
        return "a scalar (a numpy reduction without `axis`)"
    return None
