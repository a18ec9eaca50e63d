"""4xx environment: the code against the code-loader installed for the project (``ctx.sdk``).

TL420: a name imported from ``code_loader``, a ``leap_binder`` method, a keyword of an SDK call or an
enum member that the installed release lacks: the import or the call fails (ImportError,
AttributeError, TypeError) exactly there. TL421: requirements.txt / pyproject pin another release
than the installed one. Nothing is reported when no SDK is installed (the bundled table is a
fallback for help texts only, never a source of errors).

Finding.data (core/fixdata.py): TL420 SdkName (the missing name, the first release that has it or None);
TL421 SdkPin (the requirement text, the installed version).
"""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import re
from functools import lru_cache
from typing import Iterable

from tensorleap_ls.core import lazy
from tensorleap_ls.core.fixdata import Install, SdkName, SdkPin
from tensorleap_ls.core.checks.base import CheckContext
from tensorleap_ls.core.model import Finding, Span
from tensorleap_ls.core.facts.modules import has_tree
from tensorleap_ls.core.facts.nodes import kept_on, statement_calls
from tensorleap_ls.core.sdk.env import SdkApi, since_table, version_key
from tensorleap_ls.core.codes import DECLARED_NOT_INSTALLED, SDK_API_MISSING, SDK_PIN_MISMATCH
from tensorleap_ls.core.project.requirements import (
    SDK_DISTRIBUTION, installed, owners_of, parse_pyproject, parse_requirements)

# packaging is imported when a pin is compared that the persistent cache does not know (_pins), difflib when a
# name is missing
specifiers = lazy.Module("packaging.specifiers")
version = lazy.Module("packaging.version")
difflib = lazy.Module("difflib")

# Attributes every Enum class has besides its members.
_ENUM_ATTRS = {"name", "value", "mro", "_member_map_", "_member_names_", "_value2member_map_", "_missing_"}
_BINDER = {("code_loader", "leap_binder"), ("code_loader.inner_leap_binder", "global_leap_binder")}


def check(ctx: CheckContext) -> Iterable[Finding]:
    sdk = ctx.sdk
    if sdk is None:
        return []
    out: list[Finding] = []
    for mod in ctx.modules.values():
        if getattr(mod, "uses_code_loader", True) and has_tree(mod):  # it imports from code_loader
            memo = getattr(mod, "memo", {})
            key = ("sdk_api", sdk.version, sdk.package_dir)  # depends on this module's text and the release
            if key not in memo:
                memo[key] = _ModuleCheck(mod, sdk).run()
            out.extend(memo[key])
    out = list(_other_distributions(ctx, out))
    out.extend(_pins(ctx, sdk))
    return out


def _other_distributions(ctx: CheckContext, findings: list[Finding]) -> Iterable[Finding]:
    """A `code_loader.*` module the SDK lacks may come from another distribution (`code_loader.helpers.*` is
    code-loader-helpers'; the installed RECORDs say which): declared and installed, it is fine; declared but
    not installed here, it is an environment problem (TL422, with the pip line); declared nowhere, TL420 stays
    an error naming the distribution to declare."""
    env = installed(ctx.sites, ctx.store)
    declared: set[str] | None = None
    for f in findings:
        if f.code != SDK_API_MISSING or not f.message.startswith("Module `") or not isinstance(f.data, SdkName):
            yield f
            continue
        owners = [d for d in owners_of(f.data.name, env) if d != SDK_DISTRIBUTION]
        if not owners:
            yield f
            continue
        if declared is None:
            declared = _declared(ctx)
        owner = next((d for d in owners if d in declared), None)
        if owner is None:
            yield dataclasses.replace(f, message=f"Module `{f.data.name}` is not in code-loader {ctx.sdk.version}: it comes "
                                      f"from the `{owners[0]}` distribution, which neither requirements.txt nor "
                                      f"pyproject.toml declares (ModuleNotFoundError on the platform). Add `{owners[0]}` "
                                      "to requirements.txt.")
        elif not env.installed(owner):
            yield Finding(DECLARED_NOT_INSTALLED, f"`{f.data.name}` comes from `{owner}`, which the requirements declare "
                          "but this environment lacks: importing it fails here (not on the platform). Run "
                          f"`pip install {owner}`.", f.span, data=Install(f"pip install {owner}"))


def _declared(ctx: CheckContext) -> set[str]:
    names = parse_requirements(os.path.join(ctx.root, "requirements.txt"), ctx.read_text) or set()
    return names | parse_pyproject(os.path.join(ctx.root, "pyproject.toml"), ctx.read_text)


def _missing(sdk: SdkApi, what: str, key: str, span: Span, effect: str, near: Iterable[str] = ()) -> Finding:
    since = since_table().get(key)
    close: list[str] = []
    if since is None:
        close = difflib.get_close_matches(key.rpartition("(")[2].rstrip(")").rpartition(".")[2], list(near), n=1)
        tail = f"; did you mean `{close[0]}`?" if close else ""
    elif version_key(since) <= version_key(sdk.version):
        tail = f"; it was in code-loader {since} and later releases dropped it"
    else:
        tail = f"; it first appears in code-loader {since} (`pip install 'code-loader>={since}'`)"
    end = "" if tail.endswith("?") else "."
    return Finding(SDK_API_MISSING, f"{what} is not in code-loader {sdk.version}, the version installed for this project "
                   f"({effect}){tail}{end}", span, data=SdkName(key, since, close[0] if close else None))


class _ModuleCheck:
    def __init__(self, mod, sdk: SdkApi):
        self.mod, self.sdk = mod, sdk
        self.names: dict[str, tuple[str, str]] = {}  # local name -> (SDK module, name there)
        self.out: list[Finding] = []

    def run(self) -> list[Finding]:
        # No walk of its own: the module's import list and its shared list of calls (a walk of a
        # 3,000-line module costs more than the rest of this check). Enum members are checked where
        # integrations write them: as arguments of calls (registrations, PreprocessResponse(...)).
        for ref in self.mod.imports:
            node = ref.node
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "code_loader":
                self._import_from(node)
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.split(".")[0] == "code_loader" and self.sdk.module(a.name) is None:
                        self.out.append(_missing(self.sdk, f"Module `{a.name}`", a.name, self._span(node),
                                                 "ModuleNotFoundError at import"))
        if not self.names:
            return self.out
        # A statement's calls are checked against the SDK names the module imports: kept on the statement by them
        # (facts/nodes.py), an edit checks the calls of the statement it changed
        key = (self.mod.path, self.sdk.version, self.sdk.package_dir, tuple(sorted(self.names.items())))
        for st, calls in statement_calls(self.mod):
            self.out.extend(kept_on(st, "_tl_sdk_api", key, lambda calls=calls: self._calls(calls)))
        return self.out

    def _calls(self, calls: list) -> list[Finding]:
        out, self.out = self.out, []
        try:
            for call in calls:
                self._call(call)
                for arg in [*call.args, *(k.value for k in call.keywords)]:
                    for value in (arg.values if isinstance(arg, ast.Dict) else [arg]):
                        if isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name):
                            self._enum_member(value)
            return self.out
        finally:
            self.out = out

    def _span(self, node: ast.AST) -> Span:
        return self.mod.source.span(node)

    def _import_from(self, node: ast.ImportFrom) -> None:
        api = self.sdk.module(node.module)
        if api is None:
            self.out.append(_missing(self.sdk, f"Module `{node.module}`", node.module, self._span(node),
                                     "ModuleNotFoundError at import"))
            return
        for a in node.names:
            if a.name == "*":
                continue
            if a.name not in api.names:
                self.out.append(_missing(self.sdk, f"`{a.name}`", a.name, self._span(a) if hasattr(a, "lineno")
                                         else self._span(node), f"ImportError: cannot import it from {node.module}",
                                         api.names))
            else:
                self.names[a.asname or a.name] = (node.module, a.name)

    def _callee(self, func: ast.expr):
        """(label, history key, Func or None, exists) of an SDK callable, or None for other calls."""
        if isinstance(func, ast.Name) and func.id in self.names:
            module, name = self.names[func.id]
            f = (self.sdk.module(module).funcs.get(name) if self.sdk.module(module) else None) or self.sdk.function(name)
            return (f"`{name}`", name, f, True) if f is not None else None
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and self.names.get(func.value.id) in _BINDER:
            methods = self.sdk.binder_methods()
            if not methods:
                return None
            f = methods.get(func.attr)
            return (f"`leap_binder.{func.attr}`", f"LeapBinder.{func.attr}", f, f is not None)
        return None

    def _call(self, node: ast.Call) -> None:
        found = self._callee(node.func)
        if found is None:
            return
        label, key, f, exists = found
        if not exists:
            self.out.append(_missing(self.sdk, label, key, self._span(node.func), "AttributeError when it runs",
                                     [m for m in self.sdk.binder_methods() if not m.startswith("_")]))
            return
        if f is None or f.varkw:
            return
        for kw in node.keywords:
            if kw.arg is not None and kw.arg not in f.params:
                self.out.append(_missing(self.sdk, f"Keyword `{kw.arg}` of {label}", f"{key}({kw.arg})",
                                         self._span(kw.value), "TypeError: unexpected keyword argument", f.params))

    def _enum_member(self, node: ast.Attribute) -> None:
        target = self.names.get(node.value.id)
        if target is None or node.attr.startswith("__") or node.attr in _ENUM_ATTRS:
            return
        members = self.sdk.enum(target[1])
        if members is not None and node.attr not in members:
            self.out.append(_missing(self.sdk, f"`{target[1]}.{node.attr}`", f"{target[1]}.{node.attr}",
                                     self._span(node), "AttributeError when it runs", members))


# --- TL421: the pin against the installed release ----------------------------------------------------
_REQ = re.compile(r"^\s*code[-_.]loader\s*(?P<spec>[^#;]*)", re.IGNORECASE)
_POETRY = re.compile(r"""^\s*["']?code[-_.]loader["']?\s*=\s*(?:\{[^}]*version\s*=\s*)?["'](?P<spec>[^"']+)["']""",
                     re.IGNORECASE)


def resolved_sdk(root: str, read_text) -> tuple[str, str] | None:
    """(the code-loader release the platform installs, the requirement as written or "" when none): the
    requirements file it installs (requirements.txt, else the pyproject); an exact pin gives that release, a
    range (`^1.0.41`, `>=1.0.150`) or no pin the newest published release it allows (scripts/sdk_history.py's
    list). None when the requirement cannot be read."""
    releases = _releases()
    if not releases:
        return None
    for _path, _i, line, spec in _sdk_requirements(root, read_text):
        if spec is None:
            return None
        newest = _newest(str(spec))
        return (newest, line.strip()) if newest is not None else None
    return _newest(""), ""


@lru_cache(maxsize=64)
def _newest(spec: str) -> str | None:
    """The newest published release a specifier allows (once per specifier: ~200 releases matched)."""
    specifier = specifiers.SpecifierSet(spec)
    allowed = [r for r in _releases() if specifier.contains(r, prereleases=True)]
    return str(max(allowed, key=version.Version)) if allowed else None


def _sdk_requirements(root: str, read_text):
    """(path, line index, line, SpecifierSet or None when unreadable) of each code-loader requirement of the
    file the platform installs: requirements.txt when there is one, else the pyproject (resolved against its
    base image); a pyproject beside a requirements.txt is not used for the build (see checks/bundle.py)."""
    has_requirements = bool(read_text(os.path.join(root, "requirements.txt")))
    for fname, pattern, convert in (("requirements.txt", _REQ, str.strip), ("pyproject.toml", _POETRY, _poetry_spec)):
        path = os.path.join(root, fname)
        text = read_text(path) if fname == "requirements.txt" or not has_requirements else None
        for i, line in enumerate((text or "").splitlines()):
            m = pattern.match(line)
            if not m:
                continue
            try:
                yield path, i, line, specifiers.SpecifierSet(convert(m.group("spec")))
            except (specifiers.InvalidSpecifier, version.InvalidVersion, ValueError):
                yield path, i, line, None


@lru_cache(maxsize=1)  # the package's sdk/since.json: read once per process (its callers only read it)
def _releases() -> list[str]:
    path = os.path.join(os.path.dirname(os.path.dirname(__file__)), "sdk", "since.json")
    try:
        with open(path, encoding="utf-8") as fh:
            return list(json.load(fh)["releases"])
    except (OSError, ValueError, KeyError):
        return []


def _pin_mismatches(root: str, read_text, sdk_version: str, store) -> list[tuple[str, int, str]]:
    """(path, line index, line) of each code-loader requirement the installed release does not satisfy. With a
    persistent cache (engine/store.py) the answer is kept by the texts it reads, the release and packaging's."""
    key = None
    if store is not None:
        from tensorleap_ls.core.engine.store import MISSING, library_stamp

        req = read_text(os.path.join(root, "requirements.txt"))
        pyproject = read_text(os.path.join(root, "pyproject.toml")) if not req else None
        key = json.dumps([library_stamp("packaging"), root, sdk_version, req, pyproject])
        stored = store.fact("sdk_pins", key)
        if stored is not MISSING and isinstance(stored, list):
            try:
                return [(str(p), int(i), str(line)) for p, i, line in stored]
            except (TypeError, ValueError):
                pass
    try:
        installed = version.Version(sdk_version)
    except version.InvalidVersion:
        out = []
    else:
        out = [(path, i, line) for path, i, line, spec in _sdk_requirements(root, read_text)
               if spec is not None and str(spec) and not spec.contains(installed, prereleases=True)]
    if key is not None:
        store.put_fact("sdk_pins", key, [list(t) for t in out])
    return out


def _poetry_spec(spec: str) -> str:
    """Poetry's ``^1.0.145`` / ``~1.0.145`` / ``1.0.145`` / ``*`` as a PEP 440 specifier."""
    spec = spec.strip()
    if spec in ("", "*"):
        return ""
    if spec[0] in "^~" and spec[1:2] != "=":
        v = version.Version(spec[1:])
        upper = f"{v.major + 1}.0.0" if spec[0] == "^" and v.major else (
            f"{v.major}.{v.minor + 1}.0" if spec[0] == "~" or v.minor else f"0.0.{v.micro + 1}")
        return f">={v},<{upper}"
    return spec if spec[0] in "<>=!~" else f"=={spec}"


def _pins(ctx: CheckContext, sdk: SdkApi) -> Iterable[Finding]:
    for path, i, line in _pin_mismatches(ctx.root, ctx.read_text, sdk.version, ctx.store):
        fname = os.path.basename(path)
        pin = line.strip()
        yield Finding(SDK_PIN_MISMATCH, f"{fname} asks for `{pin}` but this environment has code-loader {sdk.version}: "
                      f"the platform installs what {fname} asks for, while the local checks ran with "
                      f"{sdk.version}. Install the pinned version locally or update the pin.",
                      Span(path, i, 0, i, len(line)), data=SdkPin(pin, sdk.version))
