"""Work inside one edited file proportional to the edit (issue 20): the undefined-name check (pyflakes) runs per
top-level function and remembers each by its text, and the Leap* result check walks only the bodies that call a
Leap class. Each must say exactly what the whole-file computation says: compared here with it on tricky shapes
(star imports, `global`, module-level `del`, annotations alone, nested defs, lambdas, class bodies, decorators)."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

from tensorleap_ls.core.checks import results
from tensorleap_ls.core.checks.returns import own_nodes
from tensorleap_ls.core.facts import scopes
from tensorleap_ls.core.facts.modules import parse_module
from tensorleap_ls.core.facts.nodes import statement_index
from tensorleap_ls.core.source.text import dotted

TRICKY = textwrap.dedent('''
    from __future__ import annotations
    import os
    from helpers import *
    ANNOTATED: int
    GONE = 1
    del GONE

    def uses_module_names(x):
        return os.path.join(x, CONST) + undefined_one

    def uses_deleted():
        return GONE + ANNOTATED

    def declares_global():
        global LATE
        LATE = 1

    def reads_global():
        return LATE + maybe_from_star

    @decorator_missing(default_missing)
    def decorated(a=default_arg_missing, *args, b: AnnMissing = 2, **kw) -> RetMissing:
        def inner(y):
            return y + a + outer_missing
        cb = lambda z: z + lambda_missing
        class Local:
            attr = class_body_missing
            def method(self):
                return self.attr + method_missing
        return inner, cb, Local

    class Top:
        value = top_class_missing
        def m(self):
            return value_in_method_missing

    if os.environ.get("X"):
        def conditional():
            return cond_missing

    CONST = 3
''')


def _names(found) -> list:
    return sorted((u.name, u.node.lineno, u.node.col_offset, u.star) for u in found)


def _whole(mod, keep) -> list:
    """What pyflakes says on the whole pruned module (the computation before per-function reuse, and the engine
    oracle's)."""
    with scopes.whole_file():
        return _names(scopes._unbound(mod, keep))


def test_per_function_unbound_names_equal_the_whole_file_s() -> None:
    mod = parse_module("/p/m.py", "m", TRICKY)
    defs = [n for n in ast.walk(mod.tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    for keep in (frozenset((d.lineno, d.col_offset) for d in defs), frozenset([(defs[0].lineno, defs[0].col_offset)]),
                 frozenset()):
        want = _whole(mod, keep)
        assert _names(scopes._unbound(mod, keep)) == want
        assert _names(scopes._unbound(mod, keep)) == want  # the second time from the remembered functions
    everything = _names(scopes._unbound(mod, frozenset((d.lineno, d.col_offset) for d in defs)))
    said = {n for n, *_ in everything}
    assert {"undefined_one", "outer_missing", "lambda_missing", "method_missing", "decorator_missing"} <= said
    assert "GONE" in said  # deleted at module level: unbound in the function too
    assert "LATE" not in said and "CONST" not in said


def test_an_edit_moves_a_remembered_function_s_findings_with_it() -> None:
    first = parse_module("/p/m.py", "m", TRICKY)
    keep_of = lambda mod: frozenset((d.lineno, d.col_offset) for d in ast.walk(mod.tree)  # noqa: E731
                                    if isinstance(d, (ast.FunctionDef, ast.AsyncFunctionDef)))
    scopes._unbound(first, keep_of(first))
    edited = parse_module("/p/m.py", "m", "import sys\n\n\n" + TRICKY.replace("return self.attr", "return sys.attr"))
    got = scopes._unbound(edited, keep_of(edited))
    assert _names(got) == _whole(edited, keep_of(edited))
    by_name = {u.name: u.node for u in got}
    assert edited.source.lines[by_name["undefined_one"].lineno - 1].strip().endswith("undefined_one")


def test_leap_result_calls_are_found_in_the_same_bodies_as_by_walking_every_def() -> None:
    text = textwrap.dedent('''
        top = LeapImage(image=[1, 2])
        @decorate(LeapText(data="x"))
        def viz(image, other=LeapGraph(graph=[1])):
            def inner():
                return LeapHorizontalBar(body=[1], labels=(1,))
            f = lambda: LeapImage(image=[3])
            class K:
                v = LeapImage(image=[4])
            return LeapImage(image=(1, 2))
        class Outer:
            def method(self):
                return LeapText(data=[1])
    ''')
    mod = parse_module("/p/v.py", "v", text)
    every = [n for n in ast.walk(mod.tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))] + [mod.tree]

    def pairs(fns):
        return [(id(fn), id(c)) for fn in fns for c in own_nodes(fn, ast.Call)
                if dotted(c.func).rsplit(".", 1)[-1] in results.LEAP_RESULT_RULES]

    owners, top = [], False
    for _, calls, defs in statement_index(mod):  # each top-level statement's own (kept on it)
        ids, at_top = results._owners(calls, defs)
        owners += [fn for fn in defs if id(fn) in ids]
        top = top or at_top
    assert pairs(owners + ([mod.tree] if top else [])) == pairs(every)
    assert len(pairs(every)) >= 4


def test_analyses_leave_no_cyclic_garbage(tmp_path) -> None:
    """The server freezes what an analysis leaves alive (Analyzer.freeze: no full collection walks every tree on
    the editing path); that is safe only while an analysis leaves no cycles behind: pyflakes' checkers are taken
    apart after use, and an import refers to its module weakly."""
    import gc
    import shutil
    from pathlib import Path

    from tensorleap_ls.core.engine.analysis import Analyzer

    root = tmp_path / "proj"
    shutil.copytree(Path(__file__).resolve().parents[1] / "reliability" / "fixtures" / "mnist_decorator", root)
    entry = root / "leap_integration.py"
    text = entry.read_text(encoding="utf-8")
    analyzer = Analyzer()
    analyzer.analyze_file(str(entry))
    gc.collect()
    gc.disable()
    try:
        for i in range(10):
            analyzer.set_overlay(str(entry), text + f"\nVALUE_{i} = undefined_{i}\n")
            analyzer.analyze_file(str(entry))
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        left = [o for o in gc.garbage]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
        analyzer.close()
    assert len(left) < 50, sorted({type(o).__name__ for o in left})


def test_the_fast_walk_yields_what_ast_walk_yields_in_its_order() -> None:
    from tensorleap_ls.core.facts.modules import walk

    tree = ast.parse(TRICKY + "match x:\n    case [a, *b] if a: pass\nf'{x!r:>{w}}'\n")
    assert list(map(id, walk(tree))) == list(map(id, ast.walk(tree)))


# module-level code checked statement by statement (no lambda, no postponed annotations: nothing deferred)
STATEMENTS = textwrap.dedent('''
    """Docstring."""
    import os
    __all__ = ["encoder"]
    __all__ += ["later_name"]
    before_star = used_before_star
    from helpers import *
    after_star = used_after_star
    ANNOTATED: int
    try:
        import yaml
    except ImportError:
        yaml = None
    GONE = 1
    del GONE

    @register(LATER_DECORATOR)
    def encoder(idx: int = DEFAULT) -> Missing:
        global LATE
        LATE = os.path.join(GONE, ANNOTATED, yaml)
        return idx + undefined_in_body

    class Shapes(Base):
        size = os.sep + ANNOTATED
        def method(self):
            return self.size

    LATER_DECORATOR = object()
    for i in range(3):
        loop_value = i
    print(loop_value, LATE, undefined_at_the_end)
''')


def test_module_level_statements_one_at_a_time_equal_the_whole_file_s() -> None:
    mod = parse_module("/p/s.py", "s", STATEMENTS)
    defs = [n for n in ast.walk(mod.tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    assert scopes._no_deferred(mod, frozenset())  # the statement-by-statement path is the one tested
    for keep in (frozenset((d.lineno, d.col_offset) for d in defs), frozenset()):
        want = _whole(mod, keep)
        assert _names(scopes._unbound(mod, keep)) == want
        assert _names(scopes._unbound(mod, keep)) == want  # remembered statements
    said = {n for n, *_ in _names(scopes._unbound(mod, frozenset((d.lineno, d.col_offset) for d in defs)))}
    assert {"used_before_star", "LATER_DECORATOR", "GONE", "undefined_at_the_end"} <= said
    # one module-level statement edited: the others come from memory, the answer is the whole file's
    edited = parse_module("/p/s.py", "s", STATEMENTS.replace("size = os.sep", "size = os.pathsep + new_missing"))
    keep = frozenset((d.lineno, d.col_offset) for d in ast.walk(edited.tree) if isinstance(d, ast.FunctionDef))
    assert _names(scopes._unbound(edited, keep)) == _whole(edited, keep)
    assert "new_missing" in {u.name for u in scopes._unbound(edited, keep)}


def test_a_name_a_function_declares_global_is_bound_for_every_body() -> None:
    """``global TABLE`` in an init function binds TABLE in the module once it has run, which may be before any other
    function runs: not an undefined name in the functions defined above it (pyflakes alone says it is)."""
    text = textwrap.dedent('''
        def lookup(key):
            return TABLE[key] + really_missing

        def init():
            global TABLE
            TABLE = {}
    ''')
    mod = parse_module("/p/g.py", "g", text)
    keep = frozenset((d.lineno, d.col_offset) for d in mod.tree.body)
    for found in (_whole(mod, keep), _names(scopes._unbound(mod, keep))):
        assert [n for n, *_ in found] == ["really_missing"]


def test_what_runs_in_a_def_is_kept_while_the_def_and_the_constants_its_guards_read_are_unchanged() -> None:
    """scopes.runs of an unchanged def (its nodes shared by the file's next tree, source/parse.py) is not walked
    again after an edit elsewhere; a change of a module constant one of its guards reads makes it walked again,
    and a change of the def itself too."""
    text = "DEBUG = False\n\n" + "".join(
        f"def f{i}(x):\n    if DEBUG:\n        print(x)\n    return helper_{i}(x) + {i}\n\n\n" for i in range(120))
    text += "def plain(x):\n    return other(x)\n"
    first = parse_module("/p/m.py", "m", text)

    def runs_of(mod, name):
        return scopes.runs(mod, mod.defs[name])

    guarded, plain = runs_of(first, "f7"), runs_of(first, "plain")
    elsewhere = parse_module("/p/m.py", "m", text.replace("helper_3(x)", "helper_3(x, 1)"), previous=first)
    assert elsewhere.defs["f7"] is first.defs["f7"]  # shared statement
    assert runs_of(elsewhere, "f7") is guarded and runs_of(elsewhere, "plain") is plain
    flag = parse_module("/p/m.py", "m", text.replace("DEBUG = False", "DEBUG = True"), previous=first)
    assert runs_of(flag, "f7") is not guarded and runs_of(flag, "plain") is plain
    fresh = parse_module("/p/m.py", "m", flag.text)

    def certainties(r):
        return sorted(r.names.values())

    # `print(x)` runs for sure now: what the walk says changed, and is what a fresh module says
    assert certainties(runs_of(flag, "f7")) == certainties(runs_of(fresh, "f7")) != certainties(guarded)
    edited = parse_module("/p/m.py", "m", text.replace("return other(x)", "return other(x, 2)"), previous=first)
    assert runs_of(edited, "plain") is not plain


def _runs_summary(r) -> tuple:
    return (sorted(r.names.values()), [(i.lineno, c) for i, c in r.imports],
            [(n.lineno, n.col_offset, c) for n, c in r.calls], sorted(r.loaded), len(r.guarded))


def test_what_runs_at_import_is_each_statement_s_part_and_says_what_a_fresh_walk_says() -> None:
    text = textwrap.dedent('''
        import os
        from helpers import CONFIG
        DEBUG = False
        if DEBUG:
            from debug_tools import trace
        @register(CONFIG["a"])
        def encoder(idx, subset=default_subset):
            return os.path.join(idx)
        if __name__ == "__main__":
            encoder(0)
        PLACEHOLDER = 0
        for k in KEYS:
            register_more(k)
        ''') + "".join(f"\n@tensorleap_metadata('m{i}')\ndef m{i}(idx, p):\n    return {i}\n" for i in range(120))
    edits = [("return 7", "return 8"), ("DEBUG = False", "DEBUG = True"), ("'m3'", "'m3x'"),
             ("PLACEHOLDER = 0", "raise SystemExit"), ("import os\n", "import io\n")]
    prev = parse_module("/p/m.py", "m", text)
    _ = scopes.runs(prev)
    for old, new in edits:
        assert old in prev.text
        cur = parse_module("/p/m.py", "m", prev.text.replace(old, new, 1), previous=prev)
        fresh = parse_module("/p/m.py", "m", cur.text)
        assert cur.defs["m90"] is prev.defs["m90"]  # the statements the edit left alone are shared
        assert _runs_summary(scopes.runs(cur)) == _runs_summary(scopes.runs(fresh)), (old, new)
        prev = cur

def test_an_edit_inside_a_function_body_runs_no_module_level_pass(monkeypatch) -> None:
    """A top-level def's body is left out of the module-level pass: the run holding it is remembered by the def's
    decorators and signature, and its results relative to each statement (lines inserted above move them)."""
    mod = parse_module("/p/s.py", "s", STATEMENTS)
    keep = lambda m: frozenset((d.lineno, d.col_offset) for d in m.tree.body if isinstance(d, ast.FunctionDef))  # noqa: E731
    scopes._unbound(mod, keep(mod))
    runs = []
    real = scopes._prefix
    monkeypatch.setattr(scopes, "_prefix", lambda *a: runs.append(a) or real(*a))  # one per pyflakes pass
    name = next(d for d in mod.tree.body if isinstance(d, ast.FunctionDef) and d.body[0].lineno > d.lineno)
    body = name.body[0].lineno - 1
    lines = STATEMENTS.split("\n")
    edited = parse_module("/p/s.py", "s", "\n".join(lines[:body] + ["    added = 1", "    added += 2"] + lines[body:]))
    assert scopes._no_deferred(edited, frozenset())
    got = scopes._unbound(edited, keep(edited))
    assert len(runs) == 1, "only the edited function is checked again"
    assert _names(got) == _whole(edited, keep(edited))
    assert "undefined_at_the_end" in {u.name for u in got}  # moved by the inserted lines, found at its place


def test_the_imports_and_path_edits_of_a_module_are_those_of_a_walk_of_every_statement() -> None:
    """facts/modules._all_statements does not walk a class or def whose text cannot hold an import or a sys.path
    call: what it finds must be what walking every statement finds, in the same order."""
    from tensorleap_ls.core.facts.modules import _statements

    text = textwrap.dedent('''
        import os
        class Loader:
            """no import here"""
            def load(self):
                from helpers import read  # a lazy import
                return read()
            def other(self):
                return os.sep
        def plain(x):
            return x + 1
        def path_edit():
            sys.path.insert(0, "lib")
        @decorator
        def guarded():
            try:
                import cv2
            except ImportError:
                cv2 = None
        if TYPE_CHECKING:
            import typing_extensions
        def mentions_words_only():
            """the words import, sys and path in a docstring"""
            return 1
    ''')
    mod = parse_module("/p/m.py", "m", text)
    def wanted(found):  # the imports and the sys.path calls (what _collect reads of them)
        return [(type(n).__name__, n.lineno, a, o) for n, a, o in found
                if not isinstance(n, ast.Expr) or "sys.path" in ast.unparse(n)]

    assert wanted(modules_statements(mod)) == wanted(_statements(mod.tree.body))
    assert [(r.module or r.bound, r.at_import, r.optional) for r in mod.imports] == [
        ("os", True, False), ("helpers", False, False), ("cv2", False, True), ("typing_extensions", False, False)]
    assert len(mod.sys_path_calls) == 1


def modules_statements(mod):
    from tensorleap_ls.core.facts.modules import _all_statements

    for st in mod.tree.body:  # what _collect walked: drop the kept lists to compute them again
        st.__dict__.pop("_tl_statements", None)
    return _all_statements(mod.tree.body, mod.source.lines)


_MODULE_LEVEL = textwrap.dedent('''
    import os
    from helpers import *
    LIMIT: int = 3
    COUNT = 0
    COUNT += increment
    del os_alias
    [row for row in rows]
    (walrus := compute())
    lambda: late_name
    global declared

    @decorate(flag)
    def f(a=default_value, *, b: Annotated = other_default) -> ReturnType:
        return body_only

    class Model(Base, metaclass=Meta):
        default_size = 6
        scale = default_size * factor
        size_alias = LIMIT

        @staticmethod
        def method(x=method_default):
            return method_body

    match command:
        case Point(x=px):
            handled = px
''')


def test_the_names_module_level_code_mentions_cover_what_runs_reads() -> None:
    """checks/imports._reads_unbound skips the walk of what runs when the names module-level code mentions are all
    bound or builtins: those must cover what the walk finds loaded (class attributes stored, def bodies left out),
    here on every shape above and on a sample of the standard library and of the tests' own fixtures."""
    import glob
    import sysconfig

    from tensorleap_ls.core.checks import imports

    mod = parse_module("/p/m.py", "m", _MODULE_LEVEL)
    named = imports._named_at_module_level(mod)
    assert scopes.runs(mod).loaded <= named
    assert {"increment", "os_alias", "rows", "late_name", "declared", "flag", "default_value", "Annotated",
            "other_default", "ReturnType", "Base", "Meta", "factor", "method_default", "command", "Point"} <= named
    assert not {"body_only", "method_body", "default_size_unused"} & named
    paths = sorted(glob.glob(sysconfig.get_paths()["stdlib"] + "/*.py"))[::3]
    paths += sorted(glob.glob(str(Path(__file__).resolve().parents[1] / "**" / "fixtures" / "**" / "*.py"), recursive=True))
    checked = 0
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        mod = parse_module(path, "m", text)
        if mod.tree is None:
            continue
        assert scopes.runs(mod).loaded <= imports._named_at_module_level(mod), path
        checked += 1
    assert checked > 100
