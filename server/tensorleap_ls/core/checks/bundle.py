"""4xx: leap.yaml and the upload bundle.

What the platform receives is what leap.yaml's ``include``/``exclude`` select (plus the entry);
a local module the integration imports, or a project file it opens by a literal path, that is
not in the bundle works locally and fails on the platform. Dependencies come only from a root
requirements file.

Finding.data (core/fixdata.py): TL405 BundleGap (the modules left out, the globs that bring them back); TL406 FilePath (the root-relative
path to add to include);
TL408 UnlistedRequirement; TL413 Distribution; TL402 UnknownKey and TL409 YamlValue (from core/project/leap_yaml.py).
"""

from __future__ import annotations

import ast
import os
import sys

from tensorleap_ls.core.fixdata import BundleGap, Distribution, FilePath, UnlistedRequirement
from tensorleap_ls.core.checks.base import CheckContext
from tensorleap_ls.core.source.text import Words, dotted
from tensorleap_ls.core.project.leap_yaml import LeapYaml
from tensorleap_ls.core.model import Finding, Kind, Span
from tensorleap_ls.core.facts.modules import has_tree, per_text
from tensorleap_ls.core.facts.nodes import kept_on, statement_calls
from tensorleap_ls.core.project.closure import eval_path, norm
from tensorleap_ls.core.project.requirements import (
    PLATFORM_PROVIDED,
    REQUIREMENT_FILES,
    SDK_DISTRIBUTION,
    installed,
    owners_of,
    parse_pyproject,
    parse_requirements,
)
from tensorleap_ls.core.codes import (
    DATA_NOT_INCLUDED, NOT_INCLUDED, NO_REQUIREMENTS, UNLISTED_REQUIREMENT, UNPINNED_SDK, YAML_ENTRY_MISSING,
)



def _stdlib_names() -> frozenset:
    names = getattr(sys, "stdlib_module_names", None)  # 3.10+
    if names is None:  # 3.9: what the standard library folders hold
        import pkgutil
        import sysconfig

        std = sysconfig.get_paths()["stdlib"]
        names = {m.name for m in pkgutil.iter_modules([std, os.path.join(std, "lib-dynload")])}
        names |= set(sys.builtin_module_names) | {"msvcrt", "winreg", "winsound", "msilib", "nt", "_winapi"}
    return frozenset(names) | {"__future__"}


_STDLIB = _stdlib_names()
# Calls whose first argument is a file the code reads.
_READERS = {"open", "io.open", "np.load", "numpy.load", "np.loadtxt", "np.genfromtxt", "pd.read_csv", "pandas.read_csv",
            "pd.read_parquet", "pd.read_json", "pd.read_pickle", "pd.read_excel", "json.load", "cv2.imread",
            "Image.open", "PIL.Image.open", "imageio.imread", "torch.load", "joblib.load", "pickle.load", "h5py.File",
            "tf.keras.models.load_model", "keras.models.load_model", "onnxruntime.InferenceSession",
            "ort.InferenceSession", "InferenceSession", "plt.imread"}
_READ_NAMES = Words({r.rsplit(".", 1)[-1] for r in _READERS})
# Model files are pushed separately (`leap push -m`), never in the bundle.
_MODEL_EXT = (".onnx", ".h5", ".keras", ".pb", ".pt", ".pth", ".tflite")


def check(ctx: CheckContext) -> list[Finding]:
    ly = ctx.leap_yaml
    if not isinstance(ly, LeapYaml):
        return []
    out = list(ly.findings)
    out.extend(_entry(ctx, ly))
    if ly.data is None:
        return out
    out.extend(_modules_in_bundle(ctx, ly))
    out.extend(_data_files(ctx, ly))
    out.extend(_requirements(ctx, ly))
    ly.persist()  # the include/exclude answers, for the next run (no wcmatch then)
    return out


def _entry(ctx: CheckContext, ly: LeapYaml) -> list[Finding]:
    if not ly.entry_file:
        return []
    span = ly.value_spans.get("entryFile", ly.anchor("entryFile"))
    target = norm(os.path.join(ctx.root, ly.entry_file))
    if not (target + os.sep).startswith(ctx.root + os.sep) or os.path.isabs(ly.entry_file):
        return [Finding(YAML_ENTRY_MISSING, f"`entryFile: {ly.entry_file}` points outside the project folder.", span)]
    if target == norm(ly.path) or not target.endswith(".py"):
        return [Finding(YAML_ENTRY_MISSING, f"`entryFile: {ly.entry_file}` is not a Python file.", span)]
    if os.path.isdir(target):
        return [Finding(YAML_ENTRY_MISSING, f"`entryFile: {ly.entry_file}` is a folder, not a Python file.", span)]
    if ctx.read_text(target) is None:
        return [Finding(YAML_ENTRY_MISSING, f"`entryFile: {ly.entry_file}` does not exist.", span)]
    return []


def _rel(ctx: CheckContext, path: str) -> str:
    if path.startswith(ctx.root + os.sep):  # (a module of the project: no relpath per module and analysis)
        return path[len(ctx.root) + 1:].replace(os.sep, "/")
    return os.path.relpath(path, ctx.root).replace(os.sep, "/")


def _include_anchor(ly: LeapYaml) -> Span:
    return ly.key_spans.get("include") or ly.key_spans.get("entryFile") or Span.point(ly.path)


def _modules_in_bundle(ctx: CheckContext, ly: LeapYaml) -> list[Finding]:
    """One finding per cause (not matched by `include`, or excluded by `exclude`), on `include`, naming
    every module it leaves out, with each import site as related information: one slip in leap.yaml
    (a glob removed) is one diagnostic, whose fixes bring back the glob or add every file. Only modules
    the platform loads: those importing the entry executes (as for TL408), and those a registered
    function imports in its body."""
    groups: dict[str, list[tuple[str, object]]] = {}
    reached = _reached(ctx)
    for path, mod in ctx.modules.items():
        if path == ctx.entry or not (path + os.sep).startswith(ctx.root + os.sep) or path not in reached:
            continue
        rel = _rel(ctx, path)
        if ly.bundles(rel) or _harmless_init(mod):
            continue
        why = "excluded by `exclude`" if _included(ly, rel) else "not matched by `include`"
        groups.setdefault(why, []).append((rel, mod))
    out = []
    for why, items in groups.items():
        items.sort(key=lambda item: item[0])
        rels = [rel for rel, _ in items]
        if len(rels) == 1:
            msg = f"`{rels[0]}` is imported by the integration but {why}: it will be missing on the platform."
        else:
            shown = ", ".join(f"`{r}`" for r in rels[:4]) + (f" and {len(rels) - 4} more" if len(rels) > 4 else "")
            msg = f"{len(rels)} modules the integration imports are {why}: they will be missing on the platform ({shown})."
        related = [(site, f"`{rel}` is imported here") for rel, mod in items
                   if (site := _import_site(ctx, mod)) is not None]
        globs = _globs(ly, rels) if why == "not matched by `include`" else []
        out.append(Finding(NOT_INCLUDED, msg, _include_anchor(ly), data=BundleGap(rels, globs), related=related))
    return out


def _reached(ctx: CheckContext) -> set[str]:
    """Modules the platform loads: executed by importing the entry, plus those (and what they import at their
    top) imported inside a registered function's body. load_model's body does not run on the platform."""
    if ctx.executed is None:
        return set(ctx.modules)
    reached = set(ctx.executed)
    bodies = [(b.def_path, b.def_node) for b in ctx.bindings if b.def_node is not None and b.kind is not Kind.LOAD_MODEL
              and isinstance(b.def_node, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if not bodies:
        return reached
    for mod in ctx.modules.values():
        for ref in getattr(mod, "imports", []):
            if ref.at_import or not any(path == mod.path and node.lineno <= ref.node.lineno <= (node.end_lineno or 0)
                                        for path, node in bodies):
                continue
            reached |= _loaded_by(ctx, mod, ref)
    return reached


def _loaded_by(ctx: CheckContext, mod, ref) -> set[str]:
    """Local modules one import statement loads, with what they import at their own top (transitively)."""
    resolved = getattr(ctx.resolver, "resolved", {}) or {}
    todo = [p for (path, index, _attr), p in resolved.items() if path == mod.path and index == ref.index]
    out: set[str] = set()
    while todo:
        p = todo.pop()
        if p in out or p not in ctx.modules:
            continue
        out.add(p)
        top = {r.index for r in getattr(ctx.modules[p], "imports", []) if r.at_import}
        todo.extend(t for (path, index, _attr), t in resolved.items() if path == p and index in top)
    return out


def _globs(ly: LeapYaml, rels: list[str]) -> list[str]:
    """Include patterns that bring back every file of ``rels``: ``folder/**/*.py`` per top folder (a file at
    the root stays itself); [] when they would not (a pattern already there, or ``exclude`` wins)."""
    globs: list[str] = []
    for rel in rels:
        top = rel.split("/", 1)[0] if "/" in rel else None
        g = f"{top}/**/*.py" if top and rel.endswith(".py") else rel
        if g not in globs:
            globs.append(g)
    if any(g in (ly.include or []) for g in globs):
        return []
    with_globs = ly.variant(list(ly.include or []) + globs, ly.exclude, ly.entry_file)
    return globs if all(with_globs.bundles(r) for r in rels) else []


def _harmless_init(mod) -> bool:
    """A package ``__init__.py`` whose absence changes nothing: without it Python imports the folder
    as a namespace package, and ``import pkg.mod`` / ``from pkg import mod`` load the same modules.

    Harmless: the file binds no name and runs no code, i.e. it holds only a docstring, comments,
    ``pass``, ``...`` and an empty ``__all__``. Anything else stays an error: a definition or a
    re-export (``from .enc import encode``; ``from pkg import encode`` then raises ImportError),
    imports run for their side effects (registrations, ``sys.path`` edits), any other statement, even
    ``from __future__ import annotations`` (it binds ``annotations`` in the package). The test
    tests/core/test_real_patterns_testbody.py checks this definition against Python itself. (A
    namespace package has no ``__file__``: an integration reading ``pkg.__file__`` is not guessed at.)
    """
    if not mod.path.endswith("__init__.py") or mod.tree is None or mod.syntax_error is not None:
        return False
    for stmt in mod.tree.body:
        if isinstance(stmt, ast.Pass):
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and (
                stmt.value.value is Ellipsis or isinstance(stmt.value.value, str)):
            continue
        target, value = (stmt.targets[0], stmt.value) if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 else \
            (stmt.target, stmt.value) if isinstance(stmt, ast.AnnAssign) else (None, None)
        if isinstance(target, ast.Name) and target.id == "__all__" and isinstance(value, (ast.List, ast.Tuple)) \
                and not value.elts:
            continue
        return False
    return True


def _included(ly: LeapYaml, rel: str) -> bool:
    return ly.variant(ly.include, None, ly.entry_file).bundles(rel)


def _import_site(ctx: CheckContext, target) -> Span | None:
    """The first import statement in the closure that loads module ``target``."""
    name = target.name
    short = name.rsplit(".", 1)[-1]
    for mod in ctx.modules.values():
        for ref in getattr(mod, "imports", []):
            full = ref.module
            if full == name or (ref.level and full.endswith(short)) or any(
                    f"{full}.{n}" == name or (ref.level and n == short) for n, _ in ref.names):
                return ref.span
    return None


@per_text("names_reader", stored=True)
def _names_reader(mod) -> bool:
    """The text names a file reader (one search per text, kept when the tree is released)."""
    return bool(_READ_NAMES.search(getattr(mod, "text", "")))


def _data_files(ctx: CheckContext, ly: LeapYaml) -> list[Finding]:
    out = []
    seen: set[str] = set()
    for mod in ctx.modules.values():
        if not _names_reader(mod) or not has_tree(mod):
            continue  # no reader named in the text: no walk (and no tree asked for)
        memo = getattr(mod, "memo", {})
        if "reader_calls" not in memo:  # the walk depends on this module's text only: each statement's on its own
            memo["reader_calls"] = [n for st, calls in statement_calls(mod) for n in kept_on(
                st, "_tl_reader_calls", 0, lambda calls=calls: [n for n in calls if n.args and dotted(n.func) in _READERS])]
        for node in memo["reader_calls"]:
            path = eval_path(node.args[0], mod, ctx.root)
            if not path:
                continue
            path = norm(path)
            if not (path + os.sep).startswith(ctx.root + os.sep) or path.endswith(_MODEL_EXT):
                continue
            if not os.path.isfile(path) or path in seen:
                continue
            seen.add(path)
            rel = _rel(ctx, path)
            if not ly.bundles(rel):
                out.append(Finding(DATA_NOT_INCLUDED, f"`{rel}` is read by the integration but is not in the bundle "
                                   "(leap.yaml include/exclude).", mod.source.span(node.args[0]), data=FilePath(rel)))
    return out


def _requirements(ctx: CheckContext, ly: LeapYaml) -> list[Finding]:
    found = [f for f in REQUIREMENT_FILES if ctx.read_text(os.path.join(ctx.root, f)) is not None]
    if not found:
        return [Finding(NO_REQUIREMENTS, "No requirements.txt at the project root: the platform cannot install the "
                        "integration's dependencies.", Span.point(ly.path))]
    req_path = os.path.join(ctx.root, "requirements.txt")
    declared = parse_requirements(req_path, ctx.read_text)
    if declared is None:
        return []  # pyproject.toml-only projects: the platform's resolver decides
    # The rule: when requirements.txt exists, it is what the platform installs. rules.md: "pyproject.toml is
    # ignored by the platform build" (pain point 9) and "ship dependencies as requirements.txt, not
    # pyproject.toml" (rule 12). So a package listed only in pyproject.toml stays a TL408, whose message
    # says so. The SDK and its own requirements are provided by the platform (PLATFORM_PROVIDED).
    poetry = parse_pyproject(os.path.join(ctx.root, "pyproject.toml"), ctx.read_text)
    out = []
    reported: set[str] = set()
    # Which distribution provides an import, and what the declared ones pull in, come from the environment's
    # installed metadata (RECORD / top_level.txt, Requires-Dist). Without an environment, or when a declared
    # distribution is not installed there (its requirements are unknown), TL408 stays silent rather than guess.
    env = installed(ctx.sites, ctx.store)
    pulled = env.pulled_in(declared | PLATFORM_PROVIDED) if ctx.sites else None
    for top, spans in ctx.external_imports.items():  # executed at import, first import first
        if top in _STDLIB or not top or top.startswith("_") or not spans:
            continue
        if os.path.exists(os.path.join(ctx.root, top)) or os.path.exists(os.path.join(ctx.root, top + ".py")):
            continue  # a local folder we could not resolve as a module: not a third-party package
        dists = owners_of(top, env)
        if any(d in declared or d in PLATFORM_PROVIDED for d in dists) or dists[0] in reported:
            continue
        if pulled is None or any(d in pulled for d in dists):
            continue
        reported.add(dists[0])
        listed = next((d for d in dists if d in poetry), None)
        if listed:
            msg = (f"`{top}` is imported when the entry is imported; `{listed}` is listed in pyproject.toml but not in "
                   "requirements.txt, the file the platform installs: add it there.")
        else:
            msg = f"`{top}` is imported when the entry is imported but requirements.txt does not list `{dists[0]}`."
        out.append(Finding(UNLISTED_REQUIREMENT, msg, spans[0],
                           data=UnlistedRequirement(top, listed or dists[0], bool(listed))))
    if "code_loader" in ctx.external_imports and SDK_DISTRIBUTION not in declared:  # nothing else brings it
        out.append(Finding(UNPINNED_SDK, "requirements.txt does not pin `code-loader`: the platform provides its own version. "
                           "Pin the one you test with (e.g. `code-loader==1.0.214`) to get the same behaviour.",
                           Span.point(req_path), data=Distribution(SDK_DISTRIBUTION)))
    return out

