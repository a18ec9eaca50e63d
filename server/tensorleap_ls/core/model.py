"""Data classes shared by every part of the analysis core.

Positions are 0-based lines and 0-based columns counted in Unicode code points
(Python ``str`` indices). The LSP layer converts columns to UTF-16; the CLI
prints them 1-based. ``ast`` gives UTF-8 byte offsets: convert them with
``core.source.SourceFile`` before building a ``Span``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from typing import Any

from tensorleap_ls.core.fixdata import FixData


class Severity(IntEnum):
    """Same numbers as LSP's DiagnosticSeverity."""

    ERROR = 1
    WARNING = 2
    INFORMATION = 3
    HINT = 4

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Span:
    path: str  # absolute, normalised filesystem path
    line: int
    col: int
    end_line: int
    end_col: int

    @staticmethod
    def point(path: str, line: int = 0, col: int = 0) -> "Span":
        return Span(path, line, col, line, col)


@dataclass
class Finding:
    """One diagnostic. ``severity`` None means the registry's default for ``code``."""

    code: str
    message: str
    span: Span
    severity: Severity | None = None
    # Facts a quick fix can use, of the class core/codes.py registers for ``code`` (core/fixdata.py).
    data: FixData | None = None
    related: list[tuple[Span, str]] = field(default_factory=list)

    @property
    def effective_severity(self) -> Severity:
        if self.severity is not None:
            return self.severity
        from tensorleap_ls.core.codes import CODES

        return CODES[self.code].severity


class Kind(str, Enum):
    PREPROCESS = "preprocess"
    UNLABELED_PREPROCESS = "unlabeled_preprocess"
    INPUT = "input"
    GROUND_TRUTH = "ground_truth"
    METADATA = "metadata"
    PREDICTION = "prediction"
    VISUALIZER = "visualizer"
    METRIC = "metric"
    LOSS = "loss"
    CUSTOM_LAYER = "custom_layer"
    LOAD_MODEL = "load_model"
    INTEGRATION_TEST = "integration_test"
    # Less common registrars the SDK has.
    INSTANCE_METRIC = "instance_metric"
    CUSTOM_LATENT_SPACE = "custom_latent_space"
    INSTANCE_MASKS = "instance_masks"
    INSTANCE_LENGTH = "instance_length"
    FALSE_POSITIVE = "false_positive"
    SIMULATION = "simulation"
    AUTOREGRESSIVE = "autoregressive"


class Style(str, Enum):
    LEGACY = "legacy"
    DECORATOR = "decorator"


class _Unknown:
    """Marker for a value that cannot be known statically."""

    _instance: "_Unknown | None" = None

    def __new__(cls) -> "_Unknown":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        return False


UNKNOWN: Any = _Unknown()


@dataclass
class ArgValue:
    """An argument of a registration as written in the source."""

    text: str  # source text of the expression
    span: Span
    # Statically evaluated value: str/int/float/bool/None/list/dict, a ``SymbolRef``,
    # or UNKNOWN. Enum members evaluate to SymbolRef("LeapDataType.Image") etc.
    value: Any = UNKNOWN
    node: ast.expr | None = None


@dataclass(frozen=True)
class SymbolRef:
    """A dotted name the evaluator resolved to an SDK symbol, e.g. ``LeapDataType.Image``."""

    qualname: str

    @property
    def attr(self) -> str:
        return self.qualname.rsplit(".", 1)[-1]


@dataclass
class Binding:
    kind: Kind
    name: str | None  # registered name; None when it cannot be known statically
    style: Style
    function: str | None  # Python name of the registered function or class, as defined
    reg_span: Span  # the registration: the set_*/add_* call, or the decorator expression
    def_span: Span | None = None  # the name of the def/class statement
    name_span: Span | None = None  # the expression giving the registered name, if any
    args: dict[str, ArgValue] = field(default_factory=dict)  # keyword/positional args by SDK parameter name
    def_node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | None = None
    reg_node: ast.Call | ast.expr | None = None
    module_path: str = ""  # file holding the registration
    def_path: str | None = None  # file holding the definition
    # For a registration run by a factory function: the calls of the factory that register it.
    factory_sites: list[Span] = field(default_factory=list)

    def to_json(self, root: str | None = None) -> dict[str, Any]:
        from os.path import relpath

        def rel(p: str | None) -> str | None:
            if p is None or root is None:
                return p
            return relpath(p, root)

        return {
            "kind": self.kind.value,
            "name": self.name,
            "function": self.function,
            "file": rel(self.reg_span.path),
            "line": self.reg_span.line + 1,
            "def_file": rel(self.def_span.path) if self.def_span else None,
            "def_line": self.def_span.line + 1 if self.def_span else None,
            "style": self.style.value,
        }


@dataclass
class TextEdit:
    """A replacement of ``span`` (same file) by ``new_text``; the core's unit of change."""

    span: Span
    new_text: str


@dataclass
class Fix:
    """A code action computed by the core; the LSP layer turns it into a CodeAction."""

    title: str
    edits: list[TextEdit]
    kind: str = "quickfix"  # "quickfix" | "source" | "refactor.rewrite"
    codes: tuple[str, ...] = ()  # diagnostic codes it fixes
    preferred: bool = False
