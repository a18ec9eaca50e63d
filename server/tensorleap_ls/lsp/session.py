"""What feature modules may use of the server: the ``Session`` protocol ``TensorleapServer`` implements.

Feature modules (documents, navigation, actions, assist, dynamic, model) are typed against ``Session``
and never import ``lsp.server``: the server imports them (in ``build``), never the other way round, so
each lsp module imports alone. The state itself is declared once, in ``TensorleapServer.__init__``;
a feature module keeps no state of its own (no module globals, no attributes added to the server).

Blocking work (analyses, model files, subprocesses, the child's pipes) goes through ``off_loop``,
so the event loop keeps answering while it runs.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Callable, Protocol, TypeVar

if TYPE_CHECKING:
    from lsprotocol import types as lsp

    from tensorleap_ls.core.engine.analysis import Analyzer, ProjectAnalysis
    from tensorleap_ls.core.model import Finding
    from tensorleap_ls.lsp.settings import Settings
    from tensorleap_ls.runtime.api import Runner

T = TypeVar("T")
Hook = Callable[["Session", str], None]  # (session, uri) after an edit / a save / a change on disk
CodeLensProvider = Callable[["Session", str], "list[lsp.CodeLens]"]  # (session, normalised path)


class Session(Protocol):
    # --- state --------------------------------------------------------------------------------------
    settings: Settings
    open_uris: dict[str, str]  # normalised path -> the URI the client used
    latest: dict[str, ProjectAnalysis]  # "root|entry" -> last published analysis
    extra_findings: dict[str, list[Finding]]  # root -> findings of the last dynamic run
    observations: dict[tuple, Any]  # (root, kind, name) -> shape/dtype the last run saw (hovers)
    seen_values: dict[str, dict[tuple[str, str], Any]]  # root -> (kind, name) -> inlay.Seen (values a run/preview saw)
    subset_names: dict[str, list[str]]  # root -> its subsets, as its preprocess last said (the Test Explorer's tree)
    runner: Runner | None  # warm children of the dynamic runs (None until the first run)
    restarts: dict[str, int]  # root -> how many times a save restarted its child
    anchors: dict[str, list[tuple[Finding, Any]]]  # root -> [(run-time finding, the function text it is about)]
    failures_seen: dict[str, dict[tuple, dict]]  # root -> (subset, repr(sample)) -> a failure a preview or run saw
    model_stamps: dict[str, tuple]  # model path -> ((interpreter, size, mtime), retry-after)
    code_lens_providers: list[CodeLensProvider]
    change_hooks: list[Hook]
    save_hooks: list[Hook]  # also called when a watched file changes on disk
    # --- pygls ----------------------------------------------------------------------------------------
    workspace: Any
    protocol: Any
    client_capabilities: Any
    work_done_progress: Any

    # --- helpers --------------------------------------------------------------------------------------
    @property
    def analyzer(self) -> Analyzer: ...

    def persist(self) -> None: ...

    @property
    def encoding(self) -> str: ...
    def feature(self, feature_name: str, options: Any = None) -> Callable: ...
    def command(self, command_name: str) -> Callable: ...
    def document(self, uri: str) -> Any: ...
    def uri_of(self, path: str) -> str | None: ...
    def line_text(self, path: str, line: int) -> str: ...
    def analyses_for(self, path: str) -> list[ProjectAnalysis]: ...
    def installed_sdk(self, root: str) -> Any: ...
    def schedule(self, uri: str, delay_ms: int | None = None) -> None: ...
    def republish(self, root: str) -> None: ...
    def forget(self, uri: str) -> None: ...
    def log(self, message: str, level: Any = ...) -> None: ...
    def debug(self, message: str) -> None: ...
    def report_server_error(self, error: Exception, source: Any) -> None: ...
    def workspace_apply_edit_async(self, params: Any) -> Any: ...
    def workspace_inlay_hint_refresh(self, params: Any) -> Any: ...


async def off_loop(work: Callable[[], T]) -> T:
    """Runs blocking ``work`` in the server's worker threads: the event loop keeps answering."""
    return await asyncio.get_running_loop().run_in_executor(None, work)


def run_hooks(ls: Session, hooks: list[Hook], uri: str, what: str) -> None:
    """Calls every hook; one that fails is reported and does not stop the others."""
    for hook in hooks:
        try:
            hook(ls, uri)
        except Exception as e:  # noqa: BLE001
            ls.report_server_error(e, what)
