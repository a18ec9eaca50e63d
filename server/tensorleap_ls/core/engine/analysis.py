"""Orchestrator of the static analysis: the one API the LSP layer and the CLI use.

    analyzer = Analyzer()                        # holds the caches; one per server / CLI run
    analyzer.set_overlay(path, text)             # an editor buffer shadows the file on disk
    analyzer.set_overlay(path, None)             # buffer closed: read the disk again
    analyzer.invalidate(path)                    # the file changed on disk
    for pa in analyzer.analyze_file(path):       # every project whose closure holds `path`
        pa.project.root, pa.bindings, pa.findings_for(some_path), pa.files
    analyzer.analyze_path(folder_or_file)        # CLI: the project(s) at a folder or of a file

Work is incremental: a module is parsed and scanned once per text (cache keyed by path and
content), the import closure and leap.yaml are cached until a file they depend on changes.
"""

from __future__ import annotations

import collections
import gc
import logging
import os
import threading
from dataclasses import dataclass, field
from typing import Callable

from tensorleap_ls.core.fixdata import FilePath
from tensorleap_ls.core.source import files
from tensorleap_ls.core.project.bindings import extract
from tensorleap_ls.core.checks import run_checks
from tensorleap_ls.core.checks.base import CheckContext
from tensorleap_ls.core.project.evaluate import Resolver
from tensorleap_ls.core.model import Binding, Finding, Span
from tensorleap_ls.core.facts import scopes
from tensorleap_ls.core.facts.compiled import Compiler
from tensorleap_ls.core.engine.deps import Fingerprints, shared_inputs
from tensorleap_ls.core.engine.deps import Memo as DepsMemo
from tensorleap_ls.core.engine.store import Store
from tensorleap_ls.core.facts.modules import (CLOCK, Module, ModuleCache, apply_verdict, digest_of, encode_memo,
                                             parse_module, stored_facts, stored_key)
from tensorleap_ls.core.project.closure import ClosureBuilder, Project, default_entry, find_root, inside, norm
from tensorleap_ls.core.project.closure import stored as stored_closure
from tensorleap_ls.core.sdk.env import Environment
from tensorleap_ls.core.project import external
from tensorleap_ls.core.codes import SYNTAX_ERROR, UNREADABLE_FILE

log = logging.getLogger(__name__)


@dataclass
class ProjectAnalysis:
    project: Project
    bindings: list[Binding]
    findings: list[Finding]
    leap_yaml: object | None = None
    # find_function(module path, name) -> (module, def node): a name as a closure module sees it, followed
    # into local modules, installed packages and code-loader itself (go-to-definition uses it).
    find_function: Callable[[str, str], tuple | None] = lambda path, name: None
    _by_path: dict[str, list[Finding]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.findings.sort(key=lambda f: (f.span.path, f.span.line, f.span.col, f.code))
        for f in self.findings:
            self._by_path.setdefault(f.span.path, []).append(f)

    @property
    def modules(self) -> dict[str, Module]:
        return self.project.modules

    @property
    def files(self) -> list[str]:
        files = list(self.project.modules)
        if self.project.leap_yaml_path:
            files.append(self.project.leap_yaml_path)
        return files

    def findings_for(self, path: str) -> list[Finding]:
        return self._by_path.get(norm(path), [])


class OracleMismatch(AssertionError):
    """The incremental analysis differs from the full one (oracle mode only)."""


def _summary(pa: ProjectAnalysis) -> collections.Counter:
    """What an analysis says, comparable across analyzers: its modules, bindings and findings."""
    findings = ((f.code, f.message, f.span, f.effective_severity, repr(f.data), tuple(f.related)) for f in pa.findings)
    bindings = (tuple(sorted((k, repr(v)) for k, v in b.to_json().items())) + (b.reg_span, b.def_span)
                for b in pa.bindings)
    return collections.Counter([("module", p) for p in pa.modules] + [("finding", f) for f in findings]
                               + [("binding", b) for b in bindings])


class Analyzer:
    def __init__(self, read_file: Callable[[str], str | None] | None = None,
                 env_for: Callable[[str], Environment] | None = None,
                 spawn: Callable[[list[str]], object] | None = None, oracle: bool | None = None,
                 persistent: bool = False, freeze: bool = False, incremental: bool = True):
        # env_for(root): the project's environment (its site-packages and installed code-loader, read from
        # disk by core.sdk_env); the CLI and the server decide which interpreter, the analysis only reads.
        self.env_for = env_for or (lambda root: Environment())
        # spawn(cmd): starts the compile worker through the trust gate (runtime/api.popen); None compiles
        # in process (library callers)
        self.compiler = Compiler(spawn)
        self._undecodable: set[str] = set()
        self._refused: dict[str, str] = {}  # path -> why it was not read (FIFO, device, too large)
        self._skipped: set[str] | None = None  # refused files the analysis in progress asked for
        self._read_disk_given = read_file
        self._read_disk = read_file or self._read_disk_utf8
        # Test mode: every analysis is compared with a full one (_check_oracle)
        self.oracle = os.environ.get("TL_ENGINE_ORACLE") == "1" if oracle is None else oracle
        self._overlays: dict[str, str] = {}
        # persistent: per-text facts and compile() verdicts on disk (engine/store.py), for the CLI and the server
        self._modules = ModuleCache(Store.default() if persistent else None)
        self._disk_cache: dict[str, str | None] = {}
        self._lock = threading.RLock()
        self._last: dict[str, ProjectAnalysis] = {}  # root+entry -> last analysis
        self._yaml_cache: dict[str, tuple[str, object]] = {}
        self._closures: dict[tuple, Project] = {}  # (root, entry, leap.yaml) -> the last closure (reused while valid)
        # (root, entry) -> the findings of bindings by (check, fingerprint), as the last analysis left them
        self._binding_findings: dict[tuple, dict] = {}
        # (root, entry) -> files other than modules the analyses read since the binding findings were
        # computed (configs, leap.yaml, requirements...) -> their digest then
        self._files_read: dict[tuple, dict[str, str]] = {}
        self._reading: set[str] | None = None  # files read by the analysis in progress
        self._deps_memo: dict[tuple, DepsMemo] = {}  # (root, entry, leap.yaml) -> what its fingerprints keep
        self.tree_room = 24  # trees kept beyond those of open files and of modules holding bindings
        # What the engine recomputed and reused (the tests and the benchmark read it)
        self.stats: collections.Counter = collections.Counter()
        # model file path -> facts read in the project interpreter (set by the LSP layer / CLI)
        self.model_facts: dict[str, dict] = {}
        # freeze (the server): what an analysis leaves alive goes to the collector's permanent generation, so its
        # full passes, triggered as long-lived objects grow, do not walk every tree (0.5-0.8 s on a 100-module
        # project, every few edits); the analyses leave no cyclic garbage, and collect() reclaims the rest when idle
        self.freeze = freeze
        # incremental=False (the CLI: one analysis per project, none after an edit): the bindings' fingerprints,
        # which only let a later analysis reuse their findings, are not computed (~10% of a warm `check`)
        self.incremental = incremental

    @property
    def store(self) -> Store | None:
        """The persistent cache (None for library callers, or when it is off)."""
        return self._modules.store

    def close(self) -> None:
        """Stops the compile worker (it also stops when this process ends); writes the persistent cache's new
        entries and keeps it bounded."""
        self.compiler.close()
        if self._modules.store is not None:
            self._modules.store.flush()
            self._modules.store.close()  # bounded again if this run wrote

    def persist(self) -> int:
        """Writes what the analyses put in the persistent cache (the server: after publishing, so that a first
        open answers before it writes); returns how many entries."""
        store = self._modules.store
        return store.flush() if store is not None else 0

    # --- inputs ---------------------------------------------------------------------------
    def set_overlay(self, path: str, text: str | None) -> None:
        # No lock: the event loop calls this on every keystroke and must not wait for an analysis
        # running in a worker thread (dict updates are atomic; the analysis reads a consistent view).
        path = norm(path)
        if text is None:
            self._overlays.pop(path, None)
            self._disk_cache.pop(path, None)
        else:
            self._overlays[path] = text

    def invalidate(self, path: str) -> None:
        path = norm(path)
        with self._lock:
            self._disk_cache.pop(path, None)
            self._modules.drop(path)

    def read_text(self, path: str) -> str | None:
        path = norm(path)
        # Fast path without the lock (dict reads are atomic): the event loop converting a range must
        # not wait for an analysis running in a worker thread.
        reading = self._reading
        if reading is not None:
            reading.add(path)
        text = self._overlays.get(path)
        if text is None:
            text = self._disk_cache.get(path)
        if text is not None:
            return text
        with self._lock:
            if path in self._overlays:
                return self._overlays[path]
            if path not in self._disk_cache:
                self._disk_cache[path] = self._read_disk(path)
            text = self._disk_cache[path]
            if text is None and path in self._refused and self._skipped is not None:
                self._skipped.add(path)
            return text

    def _read_disk_utf8(self, path: str) -> str | None:
        # Only regular files, never blocking, at most files.DEFAULT_MAX_BYTES: a FIFO, /dev/stdin or
        # /dev/zero in a cloned project must not hang or exhaust the server (see core/source/files.py).
        self._refused.pop(path, None)
        try:
            data = files.read_bytes(path)
        except files.Refused as e:
            self._refused[path] = e.reason
            return None
        except (OSError, ValueError):
            return None
        try:
            self._undecodable.discard(path)
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            # Undecodable bytes become U+FFFD so the rest still parses; TL191 names the file.
            self._undecodable.add(path)
            return data.decode("utf-8", errors="replace")

    def _isfile(self, path: str) -> bool:
        return path in self._overlays or files.is_regular(path)

    # --- queries --------------------------------------------------------------------------
    def analyze_file(self, path: str) -> list[ProjectAnalysis]:
        """Every project whose closure holds ``path`` (or its leap.yaml)."""
        path = norm(path)
        with self._lock:
            out = []
            for root, entry, yaml_path in self._projects_for(path):
                pa = self._analyze(root, entry, yaml_path)
                if path in pa.project.modules or path == yaml_path:
                    out.append(pa)
            if out:
                return out
            # Not in any closure: a file that uses code_loader is its own entry (not an installed package's:
            # go-to-definition into code-loader opens it to read, not to check).
            if path.endswith(".py") and not files.installed(path):
                text = self.read_text(path)
                if text is not None and "code_loader" in text:
                    return [self._analyze(os.path.dirname(path), path, None)]
            return []

    def analyze_path(self, path: str) -> list[ProjectAnalysis]:
        """CLI: a folder is the project rooted there (or its default entry); a file is checked in
        its project, or on its own."""
        path = norm(path)
        with self._lock:
            if os.path.isdir(path):
                yaml_path = os.path.join(path, "leap.yaml")
                if os.path.isfile(yaml_path):
                    entry = self._entry_for(path, yaml_path)
                    return [self._analyze(path, entry, yaml_path)]
                entry = default_entry(path)
                if entry is None:
                    return []
                return [self._analyze(path, entry, None)]
            return self.analyze_file(path)

    def last_analyses(self) -> list[ProjectAnalysis]:
        return list(self._last.values())

    # --- internals ------------------------------------------------------------------------
    def _projects_for(self, path: str) -> list[tuple[str, str, str | None]]:
        root = find_root(path)
        if root is not None:
            yaml_path = os.path.join(root, "leap.yaml")
            return [(root, self._entry_for(root, yaml_path), yaml_path)]
        # No leap.yaml: the default entry of this folder or a parent folder.
        d = os.path.dirname(path)
        for _ in range(8):
            entry = default_entry(d)
            if entry is not None:
                return [(d, entry, None)]
            parent = os.path.dirname(d)
            if parent == d:
                break
            d = parent
        return []

    def _leap_yaml(self, yaml_path: str):
        from tensorleap_ls.core.project.leap_yaml import parse_leap_yaml

        text = self.read_text(yaml_path)
        if text is None:
            return None
        cached = self._yaml_cache.get(yaml_path)
        if cached is not None and cached[0] == text:
            return cached[1]
        parsed = parse_leap_yaml(yaml_path, text, self._modules.store)
        self._yaml_cache[yaml_path] = (text, parsed)
        return parsed

    def _entry_for(self, root: str, yaml_path: str) -> str:
        ly = self._leap_yaml(yaml_path)
        entry_file = getattr(ly, "entry_file", None) if ly is not None else None
        if isinstance(entry_file, str) and entry_file.strip():
            candidate = norm(os.path.join(root, entry_file))
            if inside(candidate, root) and candidate.endswith(".py") and self._isfile(candidate):
                return candidate
        return default_entry(root) or norm(os.path.join(root, "leap_integration.py"))

    def _load(self, path: str, name: str) -> Module | None:
        text = self.read_text(path)
        if text is None:
            return None
        mod = self._modules.get(path, name, text)
        if "compiled" not in mod.memo and mod.parsed:
            stored = mod.stored
            if stored is not None and "verdict" in stored and not self.oracle:
                verdict = stored["verdict"]
                self.compiler.remember(mod.digest, tuple(verdict) if isinstance(verdict, list) else None)
            else:  # compiles on the other core meanwhile
                # a buffer open in the editor is edited: compiled a top-level statement at a time (facts/compiled.py)
                self.compiler.submit(mod.digest, path, text, mod.tree if mod.loaded else None,
                                     units=path in self._overlays)
        if not mod.parsed:
            good = self._modules.last_good(path)
            if good is None and path in self._overlays:
                # a buffer that never parsed (opened mid-edit): the saved file is the last good text
                disk = self._read_disk(path)
                if disk is not None and disk != text:
                    candidate = parse_module(path, name, disk)
                    good = candidate if candidate.parsed else None
            if good is not None:
                # Keep the last good facts of the module; its syntax error is reported separately.
                stale = Module(path=good.path, name=good.name, text=good.text, digest=good.digest,
                               source=good.source, tree=good.tree, syntax_error=mod.syntax_error,
                               imports=good.imports, defs=good.defs, assigns=good.assigns,
                               sys_path_calls=good.sys_path_calls, uses_code_loader=good.uses_code_loader,
                               has_future_annotations=good.has_future_annotations, stale=True)
                return stale
        return mod

    def _analyze(self, root: str, entry: str, yaml_path: str | None) -> ProjectAnalysis:
        # No cyclic garbage collection while analysing: each collection walks every tree kept so far, which made
        # parsing a 50,000-line project 3.5x slower (2.2 s instead of 0.6 s); what cycles an analysis leaves are
        # collected after it (as mypy does in its build).
        enabled = gc.isenabled()
        gc.disable()
        try:
            return self._analyze_gc_off(root, entry, yaml_path)
        finally:
            if self.freeze:
                gc.freeze()
            if enabled:
                gc.enable()

    def collect(self) -> int:
        """A full cyclic collection, the frozen objects included (``freeze``): the server calls it when idle."""
        gc.unfreeze()
        return gc.collect()

    def _analyze_gc_off(self, root: str, entry: str, yaml_path: str | None) -> ProjectAnalysis:
        CLOCK[0] += 1  # the trees used from now on are this analysis' (ModuleCache.trim)
        outer, self._skipped = self._skipped, set()
        reading, self._reading = self._reading, set()
        try:
            parts = self._analyze_inner(root, entry, yaml_path)
            read = self._files_read.setdefault((root, entry), {})
            for p in self._reading - set(parts["project"].modules):
                read.setdefault(p, digest_of(self.read_text(p) or ""))
        finally:
            skipped, self._skipped = self._skipped, outer
            self._reading = reading
        parts["findings"].extend(self._skipped_findings(skipped, root, entry, yaml_path))
        pa = ProjectAnalysis(**parts)
        self._last[f"{root}|{entry}"] = pa
        # Memory: the trees of open files and of modules holding bindings stay, and the most recently used
        # others up to a bound; the rest are parsed again if ever needed (and most never are: what a module
        # alone says is kept per text, and a text that cannot hold a fact is not parsed to learn so).
        keep = set(self._overlays)
        for last in self._last.values():
            keep.update(p for b in last.bindings for p in (b.module_path, b.def_path) if p)
        self.stats["trees_released"] += self._modules.trim(keep, self.tree_room)
        if self.oracle:
            self._check_oracle(pa, root, entry, yaml_path)
        return pa

    def _fingerprints(self, project: Project, resolver: Resolver, env: Environment, yaml_path: str | None,
                      outside: dict) -> Fingerprints:
        """What the bindings' checks read (core/engine/deps.py): code, and what every binding shares (leap.yaml,
        the environment, the model's facts, the YAML configs)."""
        shared = shared_inputs(self.read_text(yaml_path) if yaml_path else None, env.sdk, self.model_facts,
                               resolver.configs.values()) + [[str(s) for s in env.sites]]
        memo = self._deps_memo.setdefault((project.root, project.entry, yaml_path), DepsMemo())
        return Fingerprints(project.modules, resolver, shared, outside, memo)

    def _store_facts(self, store: Store, project: Project) -> None:
        """Writes the persistent entry of each module whose stored facts grew in this analysis (a new text, or
        a per-text fact first asked for now): the next run reads them instead of parsing."""
        for mod in project.modules.values():
            if mod.stored is None or mod.stale:
                continue
            old = mod.stored.get("memo") or {}
            # "digest" is in every entry that was written (Store.put adds it, Store.get returns it)
            if "digest" in mod.stored and not any(stored_key(k) for k in mod.memo.keys() - old.keys()):
                continue  # nothing new (a warm run: the stored facts are not encoded again)
            memo = encode_memo(mod.memo)
            if memo.keys() - old.keys() or "digest" not in mod.stored:
                mod.stored = {**mod.stored, "memo": {**old, **memo}, "digest": mod.digest}
                store.put(mod.digest, mod.stored)

    def _reused_findings(self, key: tuple) -> dict | None:
        """The binding findings the last analyses left, unless a file they read besides the modules (a config,
        requirements.txt...) changed since: then none (recorded inputs, checked before reuse)."""
        read = self._files_read.get(key, {})
        if any(digest_of(self.read_text(p) or "") != d for p, d in read.items()):
            self._files_read.pop(key, None)
            return None
        return self._binding_findings.get(key)

    # --- the correctness oracle -------------------------------------------------------------
    def _check_oracle(self, pa: ProjectAnalysis, root: str, entry: str, yaml_path: str | None) -> None:
        """Test mode (``oracle=True``, TL_ENGINE_ORACLE=1): the same project analysed from scratch by a
        fresh Analyzer (same buffers, same environment, nothing cached) must give the same bindings and
        findings as the incremental analysis; else OracleMismatch."""
        fresh = Analyzer(read_file=self._read_disk_given, env_for=self.env_for, oracle=False)
        fresh._overlays = dict(self._overlays)
        fresh.model_facts = self.model_facts
        # history the inputs do not say: the last text of a broken module that parsed (parsed again here)
        for path, good in self._modules.last_good_of_broken().items():
            fresh._modules.seed_last_good(parse_module(path, good.name, good.text))
        with scopes.whole_file():  # pyflakes on whole files, not per remembered function
            full = fresh._analyze(root, entry, yaml_path)
        want, got = _summary(full), _summary(pa)
        if want != got:
            raise OracleMismatch(f"incremental analysis of {entry} differs from the full one:\n"
                                 f"  only incremental: {sorted(got - want, key=repr)[:5]}\n  only full: {sorted(want - got, key=repr)[:5]}")

    def _skipped_findings(self, skipped: set[str], root: str, entry: str, yaml_path: str | None) -> list[Finding]:
        """One TL191 per special or oversized file the analysis wanted to read, shown on the entry
        (or leap.yaml when the entry itself was skipped): the file itself may be a FIFO no editor shows."""
        where = entry if entry not in skipped else (yaml_path or entry)
        return [Finding(UNREADABLE_FILE, f"{os.path.relpath(p, root)} was skipped: {self._refused.get(p, 'unreadable')}.",
                        Span.point(where), data=FilePath(p))
                for p in sorted(skipped - {entry})]  # the entry has its own TL191

    def _analyze_inner(self, root: str, entry: str, yaml_path: str | None) -> dict:
        builder = ClosureBuilder(self._load, self._isfile, self._overlays.__contains__)
        key = (root, entry, yaml_path)
        old = self._closures.get(key)
        project = builder.reuse(old) if old is not None else None
        store = self._modules.store
        closure_key = f"closure|{root}|{entry}|{yaml_path}"
        if project is None and store is not None:  # a new run: the closure the last one left, if still valid
            project = builder.restore(store.get(closure_key), root, entry, yaml_path)
            self.stats["closures_restored"] += project is not None
        self.stats["closures_reused" if project is not None else "closures_built"] += 1
        if project is None:
            project = builder.build(root, entry, yaml_path)
            if store is not None and old is None:  # the first of this run (not one per keystroke typing an import)
                store.put(closure_key, stored_closure(project))
        self._closures[key] = project
        for mod in project.modules.values():
            if "compiled" not in mod.memo and mod.parsed and not mod.stale:
                verdict = self.compiler.verdict(mod.digest)
                clean = mod.syntax_error is None  # its parse said nothing (the stored facts are a parse's)
                apply_verdict(mod, verdict)
                mod.memo["compiled"] = True
                if store is not None and clean and mod.stored is None and mod.digest not in self.compiler.stopped:
                    mod.stored = {"module": stored_facts(mod), "verdict": verdict, "memo": {}}  # written below
            if mod.path in self._overlays and mod.loaded and not mod.stale:
                self.compiler.learn(mod.digest, mod.text, mod.tree)  # once per text: its next edit compiles less
        resolver = Resolver(project.modules, project.resolved, self.read_text, root)
        resolver.configs.store = store  # (a config's parse is kept by its text: project/config_files.py)
        findings: list[Finding] = []
        bindings: list[Binding] = []
        try:
            bindings = extract(project.modules, resolver)
        except Exception:  # noqa: BLE001 - a bug in extraction must not take the server down
            log.exception("binding extraction failed for %s", entry)
        env = self.env_for(root)
        index = external.ExternalIndex(project.search_path + list(env.sites))
        bindings, outside = external.attach_definitions(project, index, bindings)
        leap_yaml = self._leap_yaml(yaml_path) if yaml_path else None
        ctx = CheckContext(
            root=root, entry=entry, bindings=bindings, modules=dict(project.modules), leap_yaml=leap_yaml,
            read_text=self.read_text,
            external_imports={k: [ref.span for _, ref in v] for k, v in project.external.items()},
            resolver=resolver,
            sdk=env.sdk, outside_modules=outside, sites=env.sites, executed=frozenset(project.executed),
            find_function=lambda path, name: external.resolve_function(project, index, path, name),
            model_facts=self.model_facts, store=store,
        )
        if entry not in project.modules:
            if yaml_path is None or self.read_text(entry) is None:
                why = f": {self._refused[entry]}" if entry in self._refused else ""
                findings.append(Finding(UNREADABLE_FILE, f"The entry file {os.path.relpath(entry, root)} cannot be read{why}.",
                                        Span.point(yaml_path or entry)))
        for mod in project.modules.values():
            if mod.syntax_error is not None:
                findings.append(mod.syntax_error)
            if mod.path in self._undecodable and mod.path not in self._overlays:
                findings.append(Finding(UNREADABLE_FILE, "The file is not valid UTF-8: Python (and the platform) will refuse it.",
                                        Span.point(mod.path)))
            nul = mod.text.find("\x00") if mod.text else -1
            if nul >= 0:
                line = mod.text.count("\n", 0, nul)
                col = nul - (mod.text.rfind("\n", 0, nul) + 1)
                findings.append(Finding(UNREADABLE_FILE, "The file holds a NUL byte: Python (and the platform) refuse to import "
                                        "it (\"source code string cannot contain null bytes\"). Remove it.",
                                        Span(mod.path, line, col, line, col + 1)))
        keep: dict = {}
        prints = self._fingerprints(project, resolver, env, yaml_path, outside) if self.incremental else None
        checked = run_checks(ctx, self._reused_findings((root, entry)), keep, prints.of if prints else None, self.stats)
        self.stats["fingerprint_lookups"] += prints.looked_up if prints else 0
        self._binding_findings[(root, entry)] = keep
        if store is not None:
            self._store_facts(store, project)
        findings.extend(external.reanchor(checked, bindings, outside, root))
        # Findings in a file that does not parse would point into stale text: keep only its syntax error.
        broken = {m.path for m in project.modules.values() if m.stale}
        if broken:
            findings = [f for f in findings if f.span.path not in broken or f.code == SYNTAX_ERROR]
        return dict(project=project, bindings=bindings, findings=findings, leap_yaml=leap_yaml,
                    find_function=ctx.find_function)


