"""What a scan found, sample by sample, and the statistics of its data set.

``Aggregator`` takes the records of every (sample, function), from the workers or the cache, in any order,
and keeps what the report needs in bounded form: per metadata key its numbers (for a histogram) or its
value counts, None and NaN counts; per encoder its shapes, dtypes and value range; a ground truth's classes;
each sample's time. Checks that compare samples are decided here, over the whole data set: an encoder's
shape (TL506), a metadata key's type (TL508) and a metadata dict's keys (TL509) are wrong on the samples
that differ from the most common one (ties: the one met first in sample order). ``finish`` gives one
failure per (sample, function), in sample order, and the statistics.
"""

from __future__ import annotations

import heapq
import math
import re
from array import array
from collections import Counter
from typing import Any

from tensorleap_ls.core.codes import (
    RUN_DUPLICATE_IDS, RUN_METADATA_KEYS_DRIFT, RUN_METADATA_TYPE_DRIFT, RUN_SHAPE_DRIFT,
)

MAX_DISTINCT = 1000  # distinct string values counted per metadata key (the rest: "other")
SHOWN_VALUES = 30  # bars of a value-count chart
BINS = 30
SLOWEST = 10
FIRST_IDS = 20  # sample ids listed per group of failures
_STRIDE = 1 << 40  # a position: subset number * _STRIDE + index in the subset


class _Meta:
    """One metadata key of one subset."""

    def __init__(self) -> None:
        self.numbers = array("d")
        self.strings: Counter = Counter()
        self.other = 0  # strings beyond MAX_DISTINCT distinct ones
        self.bools: Counter = Counter()
        self.none = 0
        self.nan = 0
        self.count = 0

    def add(self, v: Any) -> None:
        self.count += 1
        if v is None:
            self.none += 1
        elif isinstance(v, bool):
            self.bools[v] += 1
        elif isinstance(v, (int, float)):
            if isinstance(v, float) and not math.isfinite(v):
                self.nan += 1
            else:
                self.numbers.append(float(v))
        elif v in ("NaN", "Infinity", "-Infinity"):  # the wire's spelling of a non-finite float
            self.nan += 1
        elif isinstance(v, str):
            if v in self.strings or len(self.strings) < MAX_DISTINCT:
                self.strings[v] += 1
            else:
                self.other += 1

    def summary(self) -> dict:
        out: dict = {"count": self.count, "none": self.none, "nan": self.nan,
                     "none_share": _share(self.none + self.nan, self.count)}
        kinds = [k for k, n in (("number", len(self.numbers)), ("string", sum(self.strings.values()) + self.other),
                                ("boolean", sum(self.bools.values()))) if n]
        out["type"] = kinds[0] if len(kinds) == 1 else "mixed" if kinds else "none"
        if len(self.numbers):
            out.update(min=min(self.numbers), max=max(self.numbers), mean=math.fsum(self.numbers) / len(self.numbers))
            out["histogram"] = histogram(self.numbers)
        if self.strings or self.bools or self.other:
            values = [(str(k).lower() if isinstance(k, bool) else k, n) for k, n in self.bools.most_common()]
            values += self.strings.most_common(SHOWN_VALUES)
            rest = sum(self.strings.values()) - sum(n for _, n in self.strings.most_common(SHOWN_VALUES)) + self.other
            out["values"] = [{"value": k, "count": n} for k, n in values]
            if rest:
                out["values"].append({"value": "(other values)", "count": rest})
            out["distinct"] = len(self.strings) + len(self.bools) + (1 if self.other else 0)
        return out


class _Array:
    """One encoder of one subset."""

    def __init__(self) -> None:
        self.shapes: Counter = Counter()
        self.dtypes: Counter = Counter()
        self.types: Counter = Counter()  # not an array
        self.lo, self.hi = math.inf, -math.inf
        self.classes: Counter = Counter()

    def add(self, stat: Any) -> None:
        if not isinstance(stat, list):  # not an array: its type name
            self.types[str(stat)] += 1
            return
        shape, dtype, lo, hi, cls = (stat + [None] * 5)[:5]
        self.shapes[tuple(shape)] += 1
        self.dtypes[dtype] += 1
        if isinstance(lo, (int, float)) and isinstance(hi, (int, float)):
            self.lo, self.hi = min(self.lo, lo), max(self.hi, hi)
        if cls is not None:
            self.classes[cls] += 1

    def summary(self, labels: list | None) -> dict:
        out: dict = {"shapes": [{"shape": list(k), "count": n} for k, n in self.shapes.most_common()],
                     "dtypes": [{"dtype": k, "count": n} for k, n in self.dtypes.most_common()],
                     "min": self.lo if self.lo != math.inf else None, "max": self.hi if self.hi != -math.inf else None}
        if self.types:
            out["not_arrays"] = [{"type": k, "count": n} for k, n in self.types.most_common()]
        if self.classes:
            def label(c: Any) -> str:
                if labels and isinstance(c, int) and 0 <= c < len(labels):
                    return str(labels[c])
                return str(int(c)) if isinstance(c, float) and c.is_integer() else str(c)

            out["classes"] = [{"class": label(c), "count": n} for c, n in sorted(self.classes.items(), key=lambda x: str(x[0]))]
        return out


class Aggregator:
    def __init__(self, subsets: list[str], ids: dict[str, list], functions: dict[str, dict], preprocess: dict | None,
                 labels: list[dict] | None = None):
        self.subsets, self.ids, self.functions = subsets, ids, functions
        self.preprocess = (preprocess or {}).get("function") or "preprocess"
        self.preprocess_where = (preprocess or {}).get("where") or [None, None]
        self.labels = [p.get("labels") or [] for p in labels or []]  # the prediction types' class names
        self.number = {s: i for i, s in enumerate(subsets)}
        self.problems: dict[tuple[int, str], list] = {}  # (position, function key) -> [problem]
        self.general: list[dict] = []  # failures of no sample (preprocess...)
        self.meta: dict[tuple[str, str], _Meta] = {}
        self.arrays: dict[tuple[str, str], _Array] = {}
        self.times = {s: array("d", bytes(8 * len(ids.get(s, [])))) for s in subsets}  # zeros
        self.user_seconds = 0.0
        # drift: function key (or "name.key") -> value -> positions
        self._shape_at: dict[str, dict] = {}
        self._type_at: dict[str, dict] = {}
        self._keys_at: dict[str, dict] = {}
        self.records = 0
        self.internal: list[str] = []

    # --- input ----------------------------------------------------------------------------------
    def add(self, subset: str, index: int, key: str, rec: list) -> None:
        """One function's record on one sample (the child's scan.py says what it holds)."""
        pos = self.number[subset] * _STRIDE + index
        self.records += 1
        t = rec[0]
        if isinstance(t, (int, float)):
            self.times[subset][index] += t
            self.user_seconds += t
        if len(rec) > 2 and rec[2]:
            for p in rec[2]:
                p = _problem(p)
                if p.get("code"):
                    self.problems.setdefault((pos, key), []).append(p)
                elif len(self.internal) < 20:  # tensorleap-ls's own checker failed: said so, not a failure
                    self.internal.append(p.get("message"))
        stat = rec[1] if len(rec) > 1 else None
        fn = self.functions.get(key) or {}
        kind = fn.get("kind")
        if kind == "metadata":
            name = fn.get("name", key)
            if isinstance(stat, dict):
                _at(self._keys_at, key, tuple(sorted(stat)), pos)
                for k, x in stat.items():
                    self._meta(subset, f"{name}_{k}", x, f"{key}.{k}", pos)
            else:
                self._meta(subset, name, stat, key, pos)
        elif kind in ("input", "ground_truth") and stat is not None:
            arr = self.arrays.get((subset, key))
            if arr is None:
                arr = self.arrays[(subset, key)] = _Array()
            arr.add(stat)
            if isinstance(stat, list):
                _at(self._shape_at, key, tuple(stat[0]), pos)

    def _meta(self, subset: str, name: str, v: Any, drift_key: str, pos: int) -> None:
        m = self.meta.get((subset, name))
        if m is None:
            m = self.meta[(subset, name)] = _Meta()
        m.add(v)
        t = _type_of(v)
        if t is not None:
            _at(self._type_at, drift_key, t, pos)

    def lost(self, subset: str, index: int, key: str, problem: dict) -> None:
        pos = self.number[subset] * _STRIDE + index
        self.problems.setdefault((pos, key), []).append(problem)

    def general_failure(self, code: str, message: str, subset: str | None = None, sample: Any = None,
                        file: str | None = None, line: int | None = None) -> None:
        self.general.append({"subset": subset, "sample_id": sample, "function": self.preprocess, "code": code,
                             "message": message, "file": file, "line": line})

    # --- output ---------------------------------------------------------------------------------
    def _drift(self) -> None:
        for table, code, what in ((self._shape_at, RUN_SHAPE_DRIFT, "shape"), (self._type_at, RUN_METADATA_TYPE_DRIFT, "type"),
                                  (self._keys_at, RUN_METADATA_KEYS_DRIFT, "keys")):
            for dkey, by_value in table.items():
                if len(by_value) < 2:
                    continue
                counts = {v: len(p) for v, p in by_value.items()}
                common = max(by_value, key=lambda v: (counts[v], -min(by_value[v])))
                key, _, sub = dkey.partition(".")
                fn = self.functions.get(key) or {}
                label = f"{fn.get('kind', '').replace('_', ' ')} '{fn.get('name', key)}'" + (f" key '{sub}'" if sub else "")
                for value, positions in by_value.items():
                    if value == common:
                        continue
                    for pos in positions:
                        subset, index = self.subsets[pos // _STRIDE], pos % _STRIDE
                        msg = (f"{label} {what} is {_show(value, what)} on {subset} sample {self.ids[subset][index]!r} "
                               f"but {_show(common, what)} on {counts[common]:,} other sample(s)")
                        if code == RUN_METADATA_TYPE_DRIFT:
                            msg += "; the platform coerces it silently"
                        where = fn.get("where") or [None, None]
                        self.problems.setdefault((pos, key), []).append(
                            {"code": code, "message": msg + ".", "file": where[0], "line": where[1]})

    def duplicates(self) -> None:
        """TL512 on every repeat of a sample id (preprocess gave the id more than once)."""
        for subset in self.subsets:
            first: dict = {}
            for i, sid in enumerate(self.ids[subset]):
                k = _hashable(sid)
                if k in first:
                    self.problems.setdefault((self.number[subset] * _STRIDE + i, "preprocess"), []).append(
                        {"code": RUN_DUPLICATE_IDS, "message": f"sample id {sid!r} of the {subset} subset is also sample "
                                                               f"number {first[k]} of it: preprocess gives it twice",
                         "file": self.preprocess_where[0], "line": self.preprocess_where[1]})
                else:
                    first[k] = i

    def finish(self) -> tuple[list[dict], dict]:
        self._drift()
        failures = list(self.general)
        for (pos, key) in sorted(self.problems, key=lambda pk: (pk[0], self._order(pk[1]))):
            probs = self.problems[(pos, key)]
            subset, index = self.subsets[pos // _STRIDE], pos % _STRIDE
            fn = self.functions.get(key) or {}
            head = probs[0]
            message = head.get("message") or ""
            if len(probs) > 1:
                message += " Also: " + " ".join(f"{p.get('code')} {p.get('message')}" for p in probs[1:])
            failures.append({"subset": subset, "sample_id": self.ids[subset][index],
                             "function": fn.get("function") or (self.preprocess if key == "preprocess" else key),
                             "code": head.get("code"), "message": message, "file": head.get("file"),
                             "line": head.get("line"), "key": key, "index": index,
                             "codes": [p.get("code") for p in probs]})
        return failures, self._stats(failures)

    def _names(self, arr: _Array) -> list | None:
        """The class names of a one-hot ground truth: those of the one prediction type with as many labels."""
        sizes = {shape[0] for shape in arr.shapes if len(shape) == 1}
        fits = [names for names in self.labels if sizes == {len(names)}]
        return fits[0] if len(fits) == 1 else None

    def _order(self, key: str) -> int:
        keys = list(self.functions)
        return -1 if key == "preprocess" else keys.index(key) if key in keys else len(keys)

    def _stats(self, failures: list[dict]) -> dict:
        out: dict = {"subsets": []}
        for subset in self.subsets:
            ids = self.ids[subset]
            times = self.times[subset]
            top = heapq.nlargest(SLOWEST, range(len(times)), key=lambda i: times[i]) if len(times) else []
            entry: dict = {
                "name": subset, "samples": len(ids),
                "seconds": math.fsum(times),
                "slowest": [{"sample_id": ids[i], "seconds": float(times[i])} for i in top if times[i] > 0],
                "metadata": [{"name": n, **m.summary()} for (s, n), m in self.meta.items() if s == subset],
                "inputs": [], "ground_truths": [],
                "failures": _groups([f for f in failures if f.get("subset") == subset], self.ids),
            }
            for (s, key), arr in self.arrays.items():
                if s != subset:
                    continue
                fn = self.functions.get(key) or {}
                section = "inputs" if fn.get("kind") == "input" else "ground_truths"
                entry[section].append({"name": fn.get("name", key), "function": fn.get("function"),
                                       **arr.summary(self._names(arr))})
            entry["failed_samples"] = len({f["index"] for f in failures if f.get("subset") == subset and "index" in f})
            out["subsets"].append(entry)
        general = [f for f in failures if f.get("subset") is None]
        if general:
            out["general"] = general
        if self.internal:
            out["internal"] = self.internal
        return out


def histogram(values: array) -> list[dict]:
    """Equal-width bins over [min, max] (at most BINS, at most one per distinct value): the server has no numpy
    (the editor runs it with the pure-Python libraries the extension bundles)."""
    lo, hi = min(values), max(values)
    distinct: set = set()
    for v in values:
        distinct.add(v)
        if len(distinct) > BINS:
            break
    bins = max(1, min(BINS, len(distinct)))
    if hi == lo:
        return [{"from": lo - 0.5, "to": hi + 0.5, "count": len(values)}]
    width = (hi - lo) / bins
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - lo) / width))] += 1
    return [{"from": lo + i * width, "to": hi if i == bins - 1 else lo + (i + 1) * width, "count": c}
            for i, c in enumerate(counts)]


def _at(table: dict, key: str, value: Any, pos: int) -> None:
    by_value = table.get(key)
    if by_value is None:
        by_value = table[key] = {}
    positions = by_value.get(value)
    if positions is None:
        positions = by_value[value] = array("q")
    positions.append(pos)


def _type_of(v: Any) -> str | None:
    if v is None or v in ("NaN", "Infinity", "-Infinity"):
        return None  # None and NaN are counted, not a type (TL536, TL505)
    return "bool" if isinstance(v, bool) else "number" if isinstance(v, (int, float)) else "str" if isinstance(v, str) \
        else type(v).__name__


def _show(value: Any, what: str) -> str:
    if what == "shape":
        return str(tuple(value))
    if what == "keys":
        return str(list(value))
    return str(value)


def _hashable(v: Any) -> Any:
    return (type(v).__name__, v) if isinstance(v, (int, float, str, bool)) or v is None else repr(v)


def _problem(p: Any) -> dict:
    if isinstance(p, dict):
        return p
    code, message, file, line = (list(p) + [None] * 4)[:4]
    return {"code": code, "message": message, "file": file, "line": line}


def _share(n: int, total: int) -> float:
    return round(n / total, 6) if total else 0.0


_DIGITS = re.compile(r"\d+")


def group_key(f: dict) -> str:
    """The message without what names the sample: failures that differ only by it are one group."""
    msg = f.get("message") or ""
    sid = f.get("sample_id")
    if f.get("subset") is not None:
        msg = msg.replace(f"{f['subset']} sample {sid!r}", "<sample>")
    return _DIGITS.sub("#", msg.replace(repr(sid), "<id>"))


def _groups(failures: list[dict], ids: dict) -> list[dict]:
    groups: dict[tuple, dict] = {}
    for f in failures:
        g = groups.get((f.get("function"), f.get("code"), group_key(f)))
        if g is None:
            g = groups[(f.get("function"), f.get("code"), group_key(f))] = {
                "function": f.get("function"), "code": f.get("code"), "message": f.get("message"),
                "file": f.get("file"), "line": f.get("line"), "count": 0, "samples": []}
        g["count"] += 1
        if len(g["samples"]) < FIRST_IDS:
            g["samples"].append(f.get("sample_id"))
    return sorted(groups.values(), key=lambda g: -g["count"])
