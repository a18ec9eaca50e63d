"""The requests the server sends to the child: one dataclass per command, shared by both sides.

Standard library only, Python 3.8+ (the server imports it as
``tensorleap_ls.runtime.child.tensorleap_ls_child.protocol``, the child as
``tensorleap_ls_child.protocol``). On the wire a request is one JSON line: its fields, plus
``cmd`` and ``id``. Responses are JSON objects with ``id``, ``ok`` and, by command: ``setup``
(load), ``subsets`` (preprocess), ``findings`` and run statistics (check), the preview summary
(preview); ``exit`` when user code called ``sys.exit()``; ``message`` when ``ok`` is false;
progress messages carry ``progress``/``total`` and no ``id``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar, Dict, List


@dataclass
class Request:
    CMD: ClassVar[str] = ""
    timeout_s: float = 30.0  # one user call
    preprocess_timeout_s: float = 300.0  # the import of the entry, preprocess

    def to_wire(self, rid: int) -> Dict[str, Any]:
        out = asdict(self)
        out.update(cmd=self.CMD, id=rid)
        return out


@dataclass
class Load(Request):
    CMD: ClassVar[str] = "load"
    root: str = ""
    entry: str = ""


@dataclass
class Preprocess(Request):
    CMD: ClassVar[str] = "preprocess"


@dataclass
class Check(Request):
    CMD: ClassVar[str] = "check"
    samples: int = 5  # per subset; 0 = all
    seed: int = 0
    progress_every: int = 0


@dataclass
class Preview(Request):
    CMD: ClassVar[str] = "preview"
    subset: str = "training"
    sample_id: Any = None
    loaders: List[str] = field(default_factory=list)  # functions that load the model
    functions: Dict[str, list] = field(default_factory=dict)  # function -> [kind, registered name]
    run_test: bool = True


@dataclass
class EncodeLoop(Request):
    """Benchmark baseline: the user's encoders in a plain loop."""

    CMD: ClassVar[str] = "encode_loop"
    subset: str = "training"
    samples: int = 50


@dataclass
class Ping(Request):
    CMD: ClassVar[str] = "ping"


COMMANDS = {c.CMD: c for c in (Load, Preprocess, Check, Preview, EncodeLoop, Ping)}


def from_wire(msg: Dict[str, Any]) -> Request:
    """The request a JSON object stands for (unknown keys ignored); KeyError for an unknown command."""
    cls = COMMANDS[msg.get("cmd", "")]
    known = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in msg.items() if k in known})
