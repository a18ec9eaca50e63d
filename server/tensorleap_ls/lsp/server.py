"""The language server: a thin layer over the analysis core.

It keeps editor buffers as overlays of the core ``Analyzer``, re-analyses the projects an
edit affects as soon as the previous analysis ends (coalescing: the newest texts of every edited
document at once, in a worker thread, so requests stay responsive), and publishes diagnostics for
the files of the affected closures and leap.yaml whose diagnostics changed, guarded by document
versions so a stale result is never published. Everything the server holds is declared
in ``TensorleapServer.__init__``; feature modules see it through ``lsp/session.py``'s ``Session``
and register their handlers in ``build``: ``documents`` (open/change/save/close), ``navigation``
(definition, document symbols), ``actions`` (code actions), ``assist`` (completion, hover,
signature help...), ``dynamic`` (run checks, previews), ``scan`` (the data-set scan),
``model`` (the model file's facts).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import sys
import threading
import time
from dataclasses import replace
from urllib.parse import unquote
from typing import TYPE_CHECKING, Any, Callable

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException, JsonRpcInternalError
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from tensorleap_ls import __version__
from tensorleap_ls.core.model import Finding
from tensorleap_ls.core.project.closure import norm
from tensorleap_ls.core.checks.root_cause import drop_confirmed
from tensorleap_ls.lsp import documents, model, protocol
from tensorleap_ls.lsp.convert import to_diagnostic
from tensorleap_ls.lsp.session import CodeLensProvider, Hook, off_loop
from tensorleap_ls.lsp.settings import LOG_LEVELS, Settings
from tensorleap_ls.runtime import api

if TYPE_CHECKING:
    from tensorleap_ls.core.engine.analysis import Analyzer, ProjectAnalysis

log = logging.getLogger("tensorleap_ls")

# The analyses freeze what they leave alive (Analyzer.freeze); a full collection runs once typing has paused
# COLLECT_IDLE_S seconds after at least COLLECT_EVERY analyses.
# (TL_COLLECT_EVERY / TL_COLLECT_IDLE_S: the tests shorten them)
COLLECT_EVERY = int(os.environ.get("TL_COLLECT_EVERY") or 50)
COLLECT_IDLE_S = float(os.environ.get("TL_COLLECT_IDLE_S") or 5.0)


class TensorleapServer(LanguageServer):
    def __init__(self, trusted: bool = False) -> None:
        super().__init__("tensorleap-ls", __version__, text_document_sync_kind=lsp.TextDocumentSyncKind.Incremental,
                         max_workers=2, protocol_cls=protocol.Protocol)
        # --- the session: everything the server holds (lsp/session.py says what each is) ---------
        self.settings = Settings(trusted=trusted)
        self.open_uris: dict[str, str] = {}
        self.latest: dict[str, ProjectAnalysis] = {}
        self.extra_findings: dict[str, list[Finding]] = {}
        self.observations: dict[tuple, Any] = {}
        self.seen_values: dict[str, dict[tuple[str, str], Any]] = {}
        self.subset_names: dict[str, list[str]] = {}
        self.runner: api.Runner | None = None
        self.restarts: dict[str, int] = {}
        self.anchors: dict[str, list[tuple[Finding, Any]]] = {}
        self.failures_seen: dict[str, dict[tuple, dict]] = {}
        self.model_stamps: dict[str, tuple] = {}
        self.code_lens_providers: list[CodeLensProvider] = []
        self.change_hooks: list[Hook] = []
        self.save_hooks: list[Hook] = []
        # --- private to the server ----------------------------------------------------------------
        self._analyzer: Analyzer | None = None
        self._cli_trusted = trusted
        self._published: dict[str, set[str]] = {}  # project key -> paths published last time
        self._tasks: dict[str, asyncio.Task] = {}  # uri -> its delayed mark (only when debounceMs > 0)
        self._dirty: dict[str, None] = {}  # uris waiting for the analysis loop, in order
        self._since_collect = 0  # analyses since the last idle garbage collection (Analyzer.freeze)
        self._last_mark = 0.0  # when a document was last marked for analysis (time.monotonic)
        self._runner: asyncio.Task | None = None  # the analysis loop (_drain), while it runs
        self._sent: dict[str, tuple] = {}  # uri -> (version, diagnostics) last published
        self._analysis_lock = threading.Lock()
        self._disk_lines: dict[str, tuple[str, list[str]]] = {}  # path -> (text, its lines): split once
        self._doc_memo: dict[str, tuple[str, Any]] = {}  # path -> (pygls key, open document)

    # --- the safety net: every handler registered through these ---------------------------
    def feature(self, feature_name: str, options: Any = None) -> Callable:
        register = super().feature(feature_name, options)
        return lambda f: register(_safety_net(self, f, feature_name))

    def command(self, command_name: str) -> Callable:
        register = super().command(command_name)
        return lambda f: register(_safety_net(self, f, command_name))

    # --- helpers used by every feature ----------------------------------------------------
    @property
    def analyzer(self) -> "Analyzer":
        # imported on first use: YAML and glob libraries stay off the start-up path
        if self._analyzer is None:
            from tensorleap_ls.core.engine.analysis import Analyzer

            self._analyzer = Analyzer(env_for=self.environment, spawn=api.popen, persistent=True, freeze=True)
        return self._analyzer

    def persist(self) -> None:
        """Writes the persistent cache's pending entries (at shutdown: those of analyses since the last publish)."""
        if self._analyzer is not None:
            self._analyzer.persist()

    def environment(self, root: str):
        """The project interpreter's packages and code-loader, read from disk; in an untrusted workspace only
        the server's own environment is read (the workspace's venv and settings are not trusted)."""
        from tensorleap_ls.core.sdk import env as sdk_env

        return sdk_env.environment(api.choose(root, self.settings.interpreter) if self.settings.trusted else None,
                                   self.analyzer.store)

    def installed_sdk(self, root: str):
        return self.environment(root).sdk

    def document(self, uri: str):
        """The open document for ``uri`` (pygls keys them by the unquoted URI), or None."""
        return self.workspace.text_documents.get(unquote(uri))

    def uri_of(self, path: str) -> str | None:
        """The client's own URI for an open document (its spelling may differ from ours), else ours."""
        return self.open_uris.get(path) or from_fs_path(path)

    @property
    def encoding(self) -> str:
        enc = self.workspace.position_encoding if self.protocol._workspace is not None else None  # noqa: SLF001
        return str(enc.value if hasattr(enc, "value") else enc or "utf-16")

    def line_text(self, path: str, line: int) -> str:
        """Text of a 0-based line of ``path`` (the open buffer, else the file): called for every
        range converted, so each text is split once and the document lookup is memoised."""
        lines = self._lines_of(path)
        return lines[line].rstrip("\r\n") if 0 <= line < len(lines) else ""

    def _lines_of(self, path: str) -> tuple[str, ...] | list[str]:
        if self.protocol._workspace is not None:  # noqa: SLF001
            docs = self.workspace.text_documents
            memo = self._doc_memo.get(path)
            if memo is not None and docs.get(memo[0]) is memo[1]:
                return memo[1].lines
            uri = self.uri_of(path)
            key = unquote(uri) if uri else None
            doc = docs.get(key) if key else None
            if doc is not None:
                self._doc_memo[path] = (key, doc)
                return doc.lines
        text = self.analyzer.read_text(path)
        if text is None:
            return ()
        cached = self._disk_lines.get(path)
        if cached is None or cached[0] is not text:
            cached = (text, text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
            self._disk_lines[path] = cached
        return cached[1]

    def analyses_for(self, path: str) -> list[ProjectAnalysis]:
        path = norm(path)
        # list(): called from worker threads while the event loop publishes new analyses
        found = [pa for pa in list(self.latest.values()) if path in pa.project.modules or path == pa.project.leap_yaml_path]
        if found:
            return found
        with self._analysis_lock:
            return self.analyzer.analyze_file(path)

    def republish(self, root: str) -> None:
        for key, pa in list(self.latest.items()):
            if pa.project.root == root:
                self._publish(key, pa)

    def log(self, message: str, level: lsp.MessageType = lsp.MessageType.Info) -> None:
        # MessageType Error=1, Warning=2, Info=3, Log=4 follow LOG_LEVELS: drop what is above the setting
        if level.value > LOG_LEVELS.index(self.settings.log_level) + 1:
            return
        try:
            self.window_log_message(lsp.LogMessageParams(type=level, message=message))
        except Exception:  # noqa: BLE001 - logging must never fail a handler
            pass

    def debug(self, message: str) -> None:
        self.log(message, lsp.MessageType.Log)

    def use_settings(self, settings: Settings, problems: list[str]) -> None:
        self.settings = settings
        logging.getLogger("tensorleap_ls").setLevel(logging.DEBUG if settings.log_level == "debug" else logging.WARNING)
        for p in problems:
            self.log(p, lsp.MessageType.Warning)
        self.debug(f"settings: {settings}")

    def report_server_error(self, error: Exception, source: Any) -> None:
        # Errors are logged, never shown as a crash: the server keeps working.
        if getattr(error, "_tl_reported", False):
            return
        where = getattr(source, "__name__", source)
        log.error("internal error in %s", where, exc_info=error)
        self.log(f"tensorleap-ls internal error in {where} ({type(error).__name__}: {str(error)[:300]}); "
                 "the server keeps running", lsp.MessageType.Error)

    # --- scheduling -----------------------------------------------------------------------
    # Coalescing, not debouncing: an edit marks its document dirty; one analysis loop takes every dirty
    # document, analyses the newest texts at once (one analysis per project), publishes, and starts
    # again at once if edits arrived meanwhile. Nothing waits for a timer (debounceMs 0 by default), and
    # however fast the typing, analyses never pile up: at most one runs, one more is pending.
    def schedule(self, uri: str, delay_ms: int | None = None) -> None:
        """Marks ``uri`` for analysis: now, or after ``delay_ms`` (``debounceMs`` by default) when
        that is not 0."""
        prev = self._tasks.pop(uri, None)
        if prev is not None:
            prev.cancel()
        delay = self.settings.debounce_ms if delay_ms is None else delay_ms
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if delay > 0:
            self._tasks[uri] = loop.create_task(self._later(uri, delay / 1000.0))
        else:
            self._mark(uri, loop)

    async def _later(self, uri: str, delay: float) -> None:
        try:
            await asyncio.sleep(delay)
        except asyncio.CancelledError:
            return
        if self._tasks.get(uri) is asyncio.current_task():
            self._tasks.pop(uri, None)
        self._mark(uri, asyncio.get_running_loop())

    def _mark(self, uri: str, loop: asyncio.AbstractEventLoop) -> None:
        self._dirty[uri] = None
        self._last_mark = time.monotonic()
        if self._runner is None or self._runner.done():
            self._runner = loop.create_task(self._drain())

    async def _drain(self) -> None:
        """The analysis loop: while documents are dirty, analyse them all (newest texts) and publish."""
        while self._dirty:
            uris = list(self._dirty)
            self._dirty.clear()
            # the version of every open document now (pygls keys them by the unquoted URI): the texts the
            # analysis reads (their overlays)
            versions = {u: d.version for u, d in list(self.workspace.text_documents.items())}
            paths = [p for p in (to_fs_path(u) for u in uris) if p is not None]
            try:
                t0 = time.perf_counter()
                results = await off_loop(lambda: self._analyze_all(paths))
                self.debug(f"analysed {len(paths)} document(s): {len(results)} project(s), "
                           f"{sum(len(pa.findings) for _, pa in results)} finding(s) in "
                           f"{(time.perf_counter() - t0) * 1000:.0f} ms")
                for key, pa in results:
                    # converting thousands of findings is work that scales: off the event loop
                    batch = await off_loop(lambda: self._diagnostics(pa))
                    if any(self._stale(u, versions.get(unquote(u))) for u in uris if norm(to_fs_path(u) or "") in batch):
                        continue  # a newer text of an edited document is already dirty: its analysis publishes
                    self.latest[key] = pa
                    self._publish(key, pa, batch, set(uris), versions)
                    model.refresh(self, pa)  # TL6xx: reads the model's facts off the loop (trusted only)
                # the persistent cache's new entries, once the diagnostics are out (a first open answers sooner)
                await off_loop(self.analyzer.persist)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001
                self.report_server_error(e, "analysis")
            self._since_collect += 1
        if self._since_collect >= COLLECT_EVERY:
            asyncio.get_running_loop().call_later(COLLECT_IDLE_S, self._collect_if_idle)

    def _collect_if_idle(self) -> None:
        """The full garbage collection the frozen analyses put off, once typing has paused (it holds the loop for
        about half a second on a 100-module project: never while an edit waits)."""
        if self._since_collect < COLLECT_EVERY or self._analyzer is None:
            return  # (another pause collected already)
        if self._dirty or (self._runner is not None and not self._runner.done()) \
                or time.monotonic() - self._last_mark < COLLECT_IDLE_S:
            return  # typing again: the next pause
        self._since_collect = 0
        t0 = time.perf_counter()
        found = self._analyzer.collect()
        self.debug(f"idle garbage collection: {found} object(s) in {(time.perf_counter() - t0) * 1000:.0f} ms")

    def _stale(self, uri: str, version: int | None) -> bool:
        doc = self.document(uri)
        return doc is not None and doc.version != version

    def _analyze_all(self, paths: list[str]) -> list[tuple[str, ProjectAnalysis]]:
        """One analysis per project the paths belong to (several edited files of one project: one)."""
        out: dict[str, ProjectAnalysis] = {}
        with self._analysis_lock:
            for path in paths:
                path = norm(path)
                if any(path in pa.project.modules or path == pa.project.leap_yaml_path for pa in out.values()):
                    continue
                for pa in self.analyzer.analyze_file(path):
                    if self._in_workspace(pa.project.root):
                        out[f"{pa.project.root}|{pa.project.entry}"] = pa
        return list(out.items())

    def _analyze(self, path: str) -> list[tuple[str, ProjectAnalysis]]:
        return self._analyze_all([path])

    def _in_workspace(self, root: str) -> bool:
        """A project the user opened: rooted in a workspace folder (any, when the client names none). A file
        outside them (go to definition into another project) is read, never checked."""
        try:
            uris = [f.uri for f in self.workspace.folders.values()] or [self.workspace.root_uri]
        except RuntimeError:  # not initialised yet
            return True
        folders = [norm(p) for p in (to_fs_path(u) for u in uris if u) if p]
        return not folders or any(root == f or root.startswith(f.rstrip("/\\") + os.sep) for f in folders)

    def _diagnostics(self, pa: ProjectAnalysis) -> dict[str, list[dict]]:
        """path -> LSP diagnostics (as JSON-ready dicts: serialising thousands is work too) of every
        file the analysis (and the last dynamic run) covers."""
        files = set(pa.files)
        extra: dict[str, list[Finding]] = {}
        for f in self.extra_findings.get(pa.project.root, []):
            extra.setdefault(f.span.path, []).append(f)
            files.add(f.span.path)
        enc = self.encoding
        unstructure = self.protocol._converter.unstructure  # noqa: SLF001
        out = {}
        for path in sorted(files):
            diags = []
            # a static finding the last run confirmed is shown once, as the run's (one root cause)
            findings = drop_confirmed(pa.findings_for(path), extra.get(path, []), self.analyzer.read_text)
            for f in findings + extra.get(path, []):
                try:
                    diags.append(unstructure(to_diagnostic(f, self.line_text, enc)))
                except Exception:  # noqa: BLE001 - one odd finding must not hide the others
                    log.exception("cannot convert %s", f)
            out[path] = diags
        return out

    def _publish(self, key: str, pa: ProjectAnalysis, batch: dict[str, list[dict]] | None = None,
                 edited: set[str] = frozenset(), versions: dict[str, Any] | None = None) -> None:
        """Publishes the analysis' diagnostics. A file whose diagnostics did not change since they were last
        sent is skipped (a 100-module closure is not re-sent on every keystroke), except the edited
        documents: their publish, with their version, tells the client this version is analysed. An open
        document edited since the analysis read it (``versions``) is skipped: its own analysis publishes."""
        batch = self._diagnostics(pa) if batch is None else batch
        files = set(batch)
        for path, diags in batch.items():
            uri = self.uri_of(path)
            if uri is None:
                continue
            doc = self.document(uri)
            version = doc.version if doc is not None else None
            if doc is not None and versions is not None and versions.get(unquote(uri), version) != version:
                continue
            self._send(uri, diags, version, force=uri in edited)
        # files of the previous closure that are no longer in it get an empty list
        for path in self._published.get(key, set()) - files:
            uri = from_fs_path(path)
            if uri is not None and not self._owned_elsewhere(key, path):
                self._send(uri, [], None)
        self._published[key] = files

    def _send(self, uri: str, diags: list[dict], version: int | None, force: bool = True) -> None:
        sent = (version, json.dumps(diags, sort_keys=True))
        if not force and self._sent.get(uri) == sent:
            return
        self._sent[uri] = sent
        params: dict[str, Any] = {"uri": uri, "diagnostics": diags}
        if version is not None:
            params["version"] = version
        self.protocol.notify_json(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS, params)

    def _owned_elsewhere(self, key: str, path: str) -> bool:
        return any(path in files for k, files in self._published.items() if k != key)

    def forget(self, uri: str) -> None:
        """Document closed: drop its overlay, re-analyse from disk, clear what it alone showed."""
        path = to_fs_path(uri)
        if path is None:
            return
        path = norm(path)
        self.open_uris.pop(path, None)
        self.analyzer.set_overlay(path, None)
        task = self._tasks.pop(uri, None)
        if task is not None:
            task.cancel()
        self._dirty.pop(uri, None)
        open_paths = {norm(p) for p in (to_fs_path(u) for u in self.workspace.text_documents) if p}
        for key, pa in list(self.latest.items()):
            if path not in pa.files:
                continue
            if not (set(pa.files) & open_paths):
                # no file of this project is open any more: clear all it published
                for p in self._published.pop(key, set()):
                    u = from_fs_path(p)
                    if u is not None and not self._owned_elsewhere(key, p):
                        self._send(u, [], None)
                self.latest.pop(key, None)
        if not any(path in files for files in self._published.values()):
            self._send(uri, [], None)


def _safety_net(server: TensorleapServer, f: Callable, name: str) -> Callable:
    """An internal error in a handler becomes a clear message and a log entry (with the
    traceback), never a traceback sent to the client; a request gets InternalError."""
    types = lsp.METHOD_TO_TYPES.get(name)
    notification = types is not None and types[1] is None and name != lsp.SHUTDOWN

    def failed(e: Exception):
        server.report_server_error(e, name)
        if notification:
            return None
        err = JsonRpcInternalError(message=f"tensorleap-ls could not answer {name} ({type(e).__name__}: "
                                           f"{str(e)[:200]}); details in the server log")
        err._tl_reported = True  # type: ignore[attr-defined]
        raise err from None

    if asyncio.iscoroutinefunction(f):
        @functools.wraps(f)
        async def safe_async(*args, **kwargs):
            try:
                return await f(*args, **kwargs)
            except (JsonRpcException, asyncio.CancelledError):
                raise
            except Exception as e:  # noqa: BLE001
                return failed(e)

        return safe_async

    @functools.wraps(f)
    def safe(*args, **kwargs):
        try:
            return f(*args, **kwargs)
        except JsonRpcException:
            raise
        except Exception as e:  # noqa: BLE001
            return failed(e)

    return safe


def _workspace_folders(params: lsp.InitializeParams) -> list[str]:
    uris = [f.uri for f in params.workspace_folders or []] + ([params.root_uri] if params.root_uri else [])
    paths = [p for p in (to_fs_path(u) for u in uris) if p]
    return paths + ([params.root_path] if params.root_path else [])


def build(trusted: bool = False) -> TensorleapServer:
    documents.install()
    protocol.install()
    api.set_policy(trusted)  # the trust gate of every process start
    server = TensorleapServer(trusted=trusted)

    @server.feature(lsp.INITIALIZE)
    def initialize(ls: TensorleapServer, params: lsp.InitializeParams) -> None:
        settings, problems = ls.settings.merged(params.initialization_options)
        if ls._cli_trusted:  # noqa: SLF001 - the command line can only add trust
            settings = replace(settings, trusted=True)
        ls.use_settings(settings, problems)
        api.set_policy(settings.trusted, _workspace_folders(params))

    @server.feature(lsp.INITIALIZED)
    def initialized(ls: TensorleapServer, params: lsp.InitializedParams) -> None:
        ls.log(f"tensorleap-ls {__version__} ready (python {sys.version.split()[0]}, "
               f"trusted={ls.settings.trusted}, debounce={ls.settings.debounce_ms} ms)")
        caps = ls.client_capabilities
        watch = caps.workspace and caps.workspace.did_change_watched_files
        if watch and watch.dynamic_registration:
            asyncio.get_running_loop().create_task(_register_watchers(ls))

    @server.feature(lsp.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def changed_config(ls: TensorleapServer, params: lsp.DidChangeConfigurationParams) -> None:
        trusted = ls.settings.trusted
        settings, problems = ls.settings.merged(params.settings)
        # trust comes from the client at start-up (initializationOptions / --trusted), not from settings
        ls.use_settings(replace(settings, trusted=trusted), problems)

    @server.feature(lsp.TEXT_DOCUMENT_CODE_LENS)
    async def code_lens(ls: TensorleapServer, params: lsp.CodeLensParams) -> list[lsp.CodeLens]:
        path = to_fs_path(params.text_document.uri)
        if path is None:
            return []

        out: list[lsp.CodeLens] = []
        errors: list[Exception] = []

        def lenses() -> None:  # off the event loop: a provider may wait for an analysis
            for provider in ls.code_lens_providers:
                try:
                    out.extend(provider(ls, norm(path)))
                except Exception as e:  # noqa: BLE001
                    errors.append(e)
        await off_loop(lenses)
        for e in errors:  # reported from the event loop, which owns the connection
            ls.report_server_error(e, "code lens")
        return out

    from tensorleap_ls.lsp import actions, assist, debugging, dynamic, inlay, navigation, scan, testing

    for module in (documents, navigation, actions, assist, dynamic, inlay, debugging, testing, scan):
        module.register(server)
    return server


async def _register_watchers(ls: TensorleapServer) -> None:
    try:
        await ls.client_register_capability_async(lsp.RegistrationParams(registrations=[lsp.Registration(
            id="tensorleap-watch", method=lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES,
            register_options=lsp.DidChangeWatchedFilesRegistrationOptions(watchers=[
                lsp.FileSystemWatcher(glob_pattern=g) for g in
                ("**/*.py", "**/leap.yaml", "**/*.yaml", "**/*.yml", "**/requirements.txt")]),
        )]))
    except Exception as e:  # noqa: BLE001 - watching is an optimisation
        ls.log(f"file watching unavailable: {e}", lsp.MessageType.Warning)


def start(tcp: str | None = None, trusted: bool = False) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    server = build(trusted=trusted)
    if tcp:
        host, _, port = tcp.rpartition(":")
        server.start_tcp(host or "127.0.0.1", int(port))
    else:
        server.start_io()
    return 0
