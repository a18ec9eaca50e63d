"""What the server and the child say to each other: one dataclass per request and per reply, shared by
both sides.

Standard library only, Python 3.8+ (the server imports it as
``tensorleap_ls.runtime.child.tensorleap_ls_child.protocol``, the child as
``tensorleap_ls_child.protocol``). The wire is JSON lines: a request is its fields plus ``cmd`` and
``id``; a reply is its fields (those that are not None) plus the request's ``id``; a progress
message has no ``id``. The child builds the reply dataclasses, the server parses every line back into
them (``Reply.from_wire``: unknown keys are ignored and a value of the wrong shape falls back to its
default, since user code can write on the channel too). Values the user's functions produced (a
preview's inputs, metadata, visualizers...) stay plain JSON objects inside the replies: the server
only renders them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Dict, List, Optional, Tuple, Type, TypeVar

R = TypeVar("R", bound="Shape")


class Shape:
    """A dataclass that crosses the wire. ``NESTED``: field -> (dataclass, is it a list of them)."""

    NESTED: ClassVar[Dict[str, Tuple[type, bool]]] = {}

    def to_wire(self) -> Dict[str, Any]:
        return _wire(self)

    @classmethod
    def from_wire(cls: Type[R], msg: Any) -> R:
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        kw = {k: v for k, v in msg.items() if k in known} if isinstance(msg, dict) else {}
        for name, (shape, many) in cls.NESTED.items():
            value = kw.get(name)
            if value is None:
                continue
            if many and isinstance(value, list):
                kw[name] = [shape.from_wire(v) for v in value if isinstance(v, dict)]
            elif not many and isinstance(value, dict):
                kw[name] = shape.from_wire(value)
            else:
                del kw[name]  # the wrong shape: the field's default
        return cls(**kw)


def _wire(value: Any) -> Any:
    """Shapes (in lists too) as JSON objects without their None fields; other values, the user's
    included, as they are (``wire.clean`` makes them sendable)."""
    if isinstance(value, Shape):
        out = {}
        for f in fields(value):
            v = getattr(value, f.name)
            if v is not None:
                out[f.name] = _wire(v)
        return out
    if isinstance(value, list):
        return [_wire(v) for v in value]
    return value


# --- replies -------------------------------------------------------------------------------------------
@dataclass
class Problem(Shape):
    """A finding of the run (``code`` set) or a failure a preview shows, at the user's line."""

    message: str = ""
    code: Optional[str] = None  # TL5xx
    file: Optional[str] = None
    line: Optional[int] = None  # 1-based
    sample: Any = None  # the sample id it was seen on
    subset: Optional[str] = None
    type: Optional[str] = None  # the exception's type ("internal": tensorleap-ls failed)
    name: Optional[str] = None  # the registered name of the function that failed
    sdk: Optional[bool] = None  # a code-loader validation error
    internal: Optional[bool] = None  # tensorleap-ls failed, not the user's code


@dataclass
class Reply(Shape):
    """What every reply may say: ``message`` when ``ok`` is false, ``exit`` when user code called
    ``sys.exit()`` (the child ends), ``internal`` for a failure of tensorleap-ls itself."""

    NESTED: ClassVar[Dict[str, Tuple[type, bool]]] = {"findings": (Problem, True)}
    ok: bool = True
    message: Optional[str] = None
    exit: Optional[bool] = None
    internal: Optional[bool] = None
    findings: List[Problem] = field(default_factory=list)

    def to_wire(self, rid: Any = None) -> Dict[str, Any]:  # type: ignore[override]
        out = _wire(self)
        out["id"] = rid
        return out


@dataclass
class Setup(Shape):
    """What the entry registered (each function with its ``where``: [file, line])."""

    preprocess: Optional[list] = None
    inputs: List[Dict[str, Any]] = field(default_factory=list)
    ground_truths: List[Dict[str, Any]] = field(default_factory=list)
    metadata: List[Dict[str, Any]] = field(default_factory=list)
    visualizers: List[Dict[str, Any]] = field(default_factory=list)
    prediction_types: List[Dict[str, Any]] = field(default_factory=list)  # {"name", "labels"}
    integration_test: Optional[list] = None


@dataclass
class Loaded(Reply):
    NESTED: ClassVar[Dict[str, Tuple[type, bool]]] = {**Reply.NESTED, "setup": (Setup, False), "error": (Problem, False)}
    setup: Setup = field(default_factory=Setup)
    error: Optional[Problem] = None  # why importing the entry failed


@dataclass
class Subset(Shape):
    name: str = ""
    length: int = 0
    first: List[Any] = field(default_factory=list)  # the first sample ids
    last: List[Any] = field(default_factory=list)


@dataclass
class Preprocessed(Reply):
    NESTED: ClassVar[Dict[str, Tuple[type, bool]]] = {**Reply.NESTED, "subsets": (Subset, True)}
    subsets: List[Subset] = field(default_factory=list)
    cached: Optional[bool] = None
    seconds: Optional[float] = None


@dataclass
class Observation(Shape):
    """What a run saw an encoder return (shown in hovers, checked against the model's inputs)."""

    kind: str = ""
    name: str = ""
    seen: str = ""  # "shape (28, 28, 1), dtype float32"
    # over the samples of the run (inlay hints): arrays' shape, dtype and finite value range; metadata's
    # value types by key ("" for a scalar)
    samples: Optional[int] = None
    shape: Optional[List[int]] = None
    dtype: Optional[str] = None
    low: Optional[float] = None
    high: Optional[float] = None
    types: Optional[Dict[str, List[str]]] = None


@dataclass
class Checked(Reply):
    """The dynamic run's findings and statistics (None: the run stopped before it counted)."""

    NESTED: ClassVar[Dict[str, Tuple[type, bool]]] = {**Reply.NESTED, "observed": (Observation, True),
                                                      "failures": (Problem, True)}
    calls: Optional[int] = None
    user_seconds: Optional[float] = None
    total_seconds: Optional[float] = None
    samples: Optional[int] = None
    observed: Optional[List[Observation]] = None
    failures: Optional[List[Problem]] = None  # tensorleap-ls's own checkers that failed (never findings)


@dataclass
class Previewed(Reply):
    """One sample as the platform would show it. The lists hold display values: {"name", "value",
    "render"...} per input, ground truth, metadata, visualizer, prediction, metric."""

    NESTED: ClassVar[Dict[str, Tuple[type, bool]]] = {**Reply.NESTED, "problems": (Problem, True)}
    subset: Optional[str] = None
    sample_id: Any = None
    subsets: Optional[List[str]] = None
    neighbors: Optional[Dict[str, Any]] = None  # {"prev", "next"} sample ids
    inputs: List[Dict[str, Any]] = field(default_factory=list)
    ground_truths: List[Dict[str, Any]] = field(default_factory=list)
    metadata: List[Dict[str, Any]] = field(default_factory=list)
    visualizers: List[Dict[str, Any]] = field(default_factory=list)
    predictions: List[Dict[str, Any]] = field(default_factory=list)
    metrics: List[Dict[str, Any]] = field(default_factory=list)
    problems: List[Problem] = field(default_factory=list)
    skipped: List[Dict[str, Any]] = field(default_factory=list)  # {"name", "why"}
    integration_test: Optional[bool] = None  # it ran clean on this sample
    seconds: Optional[float] = None

    def payload(self) -> Dict[str, Any]:
        """The preview as the panel and summary.json show it (its problems are in ``problems``)."""
        out = _wire(self)
        del out["findings"]
        return out


@dataclass
class EncodeLooped(Reply):
    seconds: Optional[float] = None
    samples: Optional[int] = None


@dataclass
class Progress(Shape):
    """Sent during a check, without an id: it also restarts the server's time limit."""

    progress: int = 0
    total: Optional[int] = None
    phase: Optional[str] = None
    batch: Optional[Dict[str, Any]] = None  # a scan's results since the last message (scan.py says what it holds)


@dataclass
class ScanPlanned(Reply):
    """What a scan covers: the subsets (their ids were streamed before, in ``Progress.batch``), the functions
    it runs ({"key", "kind", "name", "function", "where"}), preprocess's own findings."""

    NESTED: ClassVar[Dict[str, Tuple[type, bool]]] = {**Reply.NESTED, "subsets": (Subset, True)}
    subsets: List[Subset] = field(default_factory=list)
    functions: List[Dict[str, Any]] = field(default_factory=list)
    preprocess: Optional[Dict[str, Any]] = None  # {"function": its name, "where": [file, line]}
    labels: Optional[List[Dict[str, Any]]] = None  # the prediction types: {"name", "labels"} (class names)
    seconds: Optional[float] = None


@dataclass
class Scanned(Reply):
    """The end of a scan request (the records were streamed in ``Progress.batch``)."""

    samples: Optional[int] = None
    seconds: Optional[float] = None
    lost: Optional[List[Dict[str, Any]]] = None  # Ray: samples lost with their worker (shards.lost_record)
    workers: Optional[int] = None


# --- requests ------------------------------------------------------------------------------------------
@dataclass
class Request:
    CMD: ClassVar[str] = ""
    REPLY: ClassVar[Type[Reply]] = Reply
    timeout_s: float = 30.0  # one user call
    preprocess_timeout_s: float = 300.0  # the import of the entry, preprocess

    def to_wire(self, rid: int) -> Dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out.update(cmd=self.CMD, id=rid)
        return out


@dataclass
class Load(Request):
    CMD: ClassVar[str] = "load"
    REPLY: ClassVar[Type[Reply]] = Loaded
    root: str = ""
    entry: str = ""


@dataclass
class Preprocess(Request):
    CMD: ClassVar[str] = "preprocess"
    REPLY: ClassVar[Type[Reply]] = Preprocessed


@dataclass
class Check(Request):
    CMD: ClassVar[str] = "check"
    REPLY: ClassVar[Type[Reply]] = Checked
    samples: int = 5  # per subset; 0 = all
    seed: int = 0
    progress_every: int = 0
    functions: Optional[List[str]] = None  # only these (Python or registered names); None: all
    subsets: Optional[List[str]] = None  # only these subsets; None: all


@dataclass
class Preview(Request):
    CMD: ClassVar[str] = "preview"
    REPLY: ClassVar[Type[Reply]] = Previewed
    subset: str = "training"
    sample_id: Any = None
    loaders: List[str] = field(default_factory=list)  # functions that load the model
    functions: Dict[str, list] = field(default_factory=dict)  # function -> [kind, registered name]
    run_test: bool = True


@dataclass
class EncodeLoop(Request):
    """Benchmark baseline: the user's encoders in a plain loop."""

    CMD: ClassVar[str] = "encode_loop"
    REPLY: ClassVar[Type[Reply]] = EncodeLooped
    subset: str = "training"
    samples: int = 50
    raw: bool = False  # the user's own functions (what a scan calls), not the SDK's wrappers


@dataclass
class ScanPlan(Request):
    """A scan's first step: preprocess, every subset's sample ids (streamed), the functions."""

    CMD: ClassVar[str] = "scan_plan"
    REPLY: ClassVar[Type[Reply]] = ScanPlanned
    visualizers: bool = False


@dataclass
class ScanShard(Request):
    """Every sample of one shard (``shards.Shard.to_wire``) through its functions; records streamed."""

    CMD: ClassVar[str] = "scan_shard"
    REPLY: ClassVar[Type[Reply]] = Scanned
    shard: List[Any] = field(default_factory=list)


@dataclass
class RayScan(Request):
    """The shards as Ray tasks (this child is the Ray driver): a cluster at ``address``, else a local one."""

    CMD: ClassVar[str] = "ray_scan"
    REPLY: ClassVar[Type[Reply]] = Scanned
    shards: List[Any] = field(default_factory=list)
    functions: Dict[str, Any] = field(default_factory=dict)  # key -> {"where": [file, line]} (lost samples)
    address: Optional[str] = None
    workers: int = 0  # concurrent tasks; 0: the cluster's CPUs
    memory_mb: int = 0  # the address-space limit of a Ray worker (0: none)


COMMANDS = {c.CMD: c for c in (Load, Preprocess, Check, Preview, EncodeLoop, ScanPlan, ScanShard, RayScan)}


def from_wire(msg: Dict[str, Any]) -> Request:
    """The request a JSON object stands for (unknown keys ignored); KeyError for an unknown command."""
    cls = COMMANDS[msg.get("cmd", "")]
    known = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in msg.items() if k in known})
