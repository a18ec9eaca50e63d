"""The abstract values of the test-body data flow (core/checks/test_body).

Each expression of the integration test gets a ``Val``: a union of tags (the test's data, a mapping
placeholder, the model, its outputs, a prediction, a plain value) plus the decorated functions or
factories it may be and, for a container, the union of its elements (and its keys when known).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from tensorleap_ls.core.model import UNKNOWN

# Tags of abstract values. PLACE/MODEL/OUTS/PRED only exist in mapping mode as placeholders.
DATA, PLACE, MODEL, OUTS, PRED, PLAIN = "data", "place", "model", "outs", "pred", "plain"
# An input/ground-truth placeholder of a grouped data set: `group[i]` gives the same placeholder.
GROUP = "group"
_MAPPED = frozenset({PLACE, MODEL, OUTS, PRED})


@dataclass(frozen=True)
class Val:
    """What an expression of the test body may be (a union: several tags = any of them)."""

    tags: frozenset = frozenset()
    funcs: frozenset = frozenset()  # decorated functions (ids of their def nodes) this value may be
    makes: frozenset = frozenset()  # factory: calling it gives these decorated functions
    elems: "Val | None" = None  # a container: the union of its elements
    keyed: tuple = ()  # a container whose keys are known: ((key, Val), ...)
    nomap: bool = False  # certainly not a mapping placeholder (a constant, a container, an array library's result)

    def __or__(self, other: "Val") -> "Val":
        elems = self.elems if other.elems is None else other.elems if self.elems is None else self.elems | other.elems
        return Val(self.tags | other.tags, self.funcs | other.funcs, self.makes | other.makes, elems,
                   self.keyed if self.keyed == other.keyed else (), self.nomap and other.nomap)

    def only(self, tags: frozenset) -> bool:
        """Certainly one of ``tags`` (never for unknown values, containers or functions)."""
        return bool(self.tags) and self.tags <= tags and self.elems is None and not self.funcs and not self.makes

    @property
    def mapped(self) -> bool:
        """May be a mapping placeholder (enough for a warning)."""
        return bool(self.tags & _MAPPED)

    @property
    def certainly_mapped(self) -> bool:
        """Is a mapping placeholder on every path (needed for an error)."""
        return self.only(_MAPPED | {GROUP})

    def item(self, key: Any = UNKNOWN) -> "Val":
        for k, v in self.keyed:
            if k == key and key is not UNKNOWN:
                return v
        return self.elems or Val()


UNKNOWN_VAL = Val()
PLAIN_VAL = Val(frozenset({PLAIN}))
CONST_VAL = Val(frozenset({PLAIN}), nomap=True)  # a literal or a module constant


def container(elems: Iterable[Val], keyed: tuple = ()) -> Val:
    """A list, tuple, set or dict holding ``elems`` (by key when ``keyed`` is known)."""
    out = None
    for e in elems:
        out = e if out is None else out | e
    return Val(frozenset({PLAIN}), elems=out or UNKNOWN_VAL, keyed=keyed, nomap=True)
