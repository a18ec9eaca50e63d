"""3xx: the body of ``@tensorleap_integration_test``.

The SDK re-runs the body in mapping mode (``LeapLoader.exec_script``; code-loader 1.0.214
``leapbinder_decorators.py``) with ``sample_id=None`` and an empty ``PreprocessResponse``, and
every decorated call returns a placeholder instead of running user code:

- input / ground-truth encoders: a ``TempMapping`` object without ``__getitem__``;
- metadata, visualizers, metrics, losses: ``None``;
- ``load_model()``: a model placeholder whose ``__call__`` / ``run(None, {...})`` returns an
  outputs placeholder; ``outputs[k]`` accepts an ``int`` or a declared prediction name (anything
  else fails an assertion) and returns a ``TempMapping`` (a second index fails);
  ``model.get_inputs()[i].name`` works.

Plain Python around those placeholders runs as usual: lists, tuples and dicts built in the
body, loops and comprehensions over them, module constants and their subscripts, the SDK's own
helpers (``visualize``: a no-op in mapping mode; core/sdk/bundled.py TEST_BODY_HELPERS). So this check
follows the body's data flow: every expression gets an abstract value (a placeholder, the model,
its outputs, a prediction, the test's data, a container of values, a decorated function, a
factory of decorated functions, a plain value or unknown) and only operations the SDK rejects on
*that* value are errors. An unknown value is never an error, and a branch that never runs (``if
False:``, ``if DEBUG:`` on a module constant) is not checked. On a grouped data set (nested
``sample_ids``) the input/ground-truth placeholders accept ``group[i]``. The same data flow tells
TL310 which decorated functions the test calls (through lists, dicts, loops, helper variables,
factories, ``globals()[...]`` / ``getattr(module, ...)`` by name).

Finding.data (core/fixdata.py): TestStatement (the test's function, the 0-based line of the offending
statement); TL310 NotInTest (the decorated function never called, its kind, the test's function).
"""

from __future__ import annotations

import ast

from tensorleap_ls.core.checks.base import CheckContext
from tensorleap_ls.core.checks.test_body.known import Known
from tensorleap_ls.core.checks.test_body.operations import Body
from tensorleap_ls.core.codes import NOT_IN_TEST
from tensorleap_ls.core.fixdata import NotInTest
from tensorleap_ls.core.model import Binding, Finding, Kind, Severity
from tensorleap_ls.core.source.text import mentions

_CALLED_KINDS = (Kind.INPUT, Kind.GROUND_TRUTH, Kind.METADATA, Kind.VISUALIZER, Kind.METRIC, Kind.LOSS, Kind.LOAD_MODEL)


def check(ctx: CheckContext) -> list[Finding]:
    tests = [b for b in ctx.bindings if b.kind is Kind.INTEGRATION_TEST
             and isinstance(b.def_node, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if not tests:
        return []
    known = Known(ctx)
    out: list[Finding] = []
    called: set[int] = set()
    for t in tests:
        mod = ctx.modules.get(t.def_path or "")
        if mod is None or mod.source is None:
            continue
        body = Body(t, mod, known)
        out.extend(body.run())
        called |= body.called
    stub = next((b for b in ctx.bindings if b.kind is Kind.LOAD_MODEL and id(b.def_node) not in called
                 and _is_stub(b.def_node)), None)
    if stub is not None and stub.def_span is not None:  # one root cause: the model is not there yet
        out.append(Finding(NOT_IN_TEST, f"`{stub.function}` is a stub (TODO: load your model): the integration test runs "
                           "without predictions; the metrics and losses are wired once it calls the model.",
                           stub.def_span, severity=Severity.INFORMATION,
                           data=NotInTest(stub.function, stub.kind.value, tests[0].function)))
    for b in ctx.bindings:
        if stub is not None and (b is stub or b.kind in (Kind.METRIC, Kind.LOSS)):
            continue
        if b.kind in _CALLED_KINDS and b.function and b.def_node is not None and b.def_span is not None \
                and id(b.def_node) not in called and not _factory_called_in(b, tests):
            out.append(Finding(NOT_IN_TEST, f"`{b.function}` ({b.kind.value}) is never called from the integration test: "
                               "it stays unwired on the platform.", b.def_span,
                               data=NotInTest(b.function, b.kind.value, tests[0].function)))
    return out


def _is_stub(node) -> bool:
    """A function whose body (after a docstring) only raises NotImplementedError."""
    body = [s for s in getattr(node, "body", []) if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    return len(body) == 1 and isinstance(body[0], ast.Raise) and mentions(body[0], "NotImplementedError")


def _factory_called_in(b: Binding, tests: list[Binding]) -> bool:
    """A binding registered by a factory (``get_input_func(k)``) is called where the test calls the factory."""
    for site in b.factory_sites:
        for t in tests:
            node = t.def_node
            if site.path == t.def_path and node.lineno <= site.line + 1 <= (node.end_lineno or node.lineno):
                return True
    return False
