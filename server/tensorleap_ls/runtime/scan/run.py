"""A scan from start to end: plan, cache, shards on a backend, failures and statistics.

1. One child runs preprocess and streams every subset's sample ids and the functions (``ScanPlan``).
2. Each function gets its key (keys.py); the cache gives the records it holds for (key, subset, sample id).
3. Samples still missing a record are split into shards (runs of samples that need the same functions) and
   run on the backend (backends.py); each batch of records goes to the aggregator and into the cache.
4. The aggregator gives one failure per (sample, function), in sample order, and the statistics.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Callable

from tensorleap_ls.core.codes import RUN_CRASH, RUN_IMPORT_FAILED
from tensorleap_ls.runtime.child.tensorleap_ls_child import protocol, shards
from tensorleap_ls.runtime.runner import CANCELLED, ChildFault, Limits, Runner
from tensorleap_ls.runtime.scan import backends
from tensorleap_ls.runtime.scan.cache import Cache, sample_key
from tensorleap_ls.runtime.scan.keys import Keys
from tensorleap_ls.runtime.scan.stats import Aggregator

Progress = Callable[[int, int], None]  # (samples done, samples in the scan)


@dataclass
class Options:
    subsets: list[str] | None = None  # None: every subset
    workers: int | None = None  # None: the cores available (local), the cluster's CPUs (ray)
    backend: str = "local"
    ray_address: str | None = None
    visualizers: bool = False
    cache: bool = True  # False: neither read nor write the cache
    cache_mb: int = 512
    limits: Limits = field(default_factory=Limits)


@dataclass
class Result:
    root: str
    entry: str
    python: str
    backend: str
    workers: int
    samples: int = 0
    seconds: float = 0.0
    failures: list[dict] = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    functions: dict = field(default_factory=dict)  # key -> {"kind", "name", "function", "where"}
    cached: int = 0  # records read from the cache
    computed: int = 0  # records computed by this scan
    cancelled: bool = False
    error: str | None = None  # the scan could not run (the reason is also a failure)
    lost: int = 0  # samples lost with their worker (each is a failure)
    report: list[str] = field(default_factory=list)  # the files written (summary.json, report.html)


def cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def scan(root: str, entry: str, python: str, options: Options, project=None, progress: Progress | None = None,
         cancel: threading.Event | None = None, auth_secret: str | None = None) -> Result:
    t0 = time.perf_counter()
    cancel = cancel or threading.Event()
    workers = options.workers or (cores() if options.backend == "local" else 0)
    result = Result(root=root, entry=entry, python=python, backend=options.backend, workers=workers)
    first = Runner(options.limits)
    runners = [first]
    cache = Cache(root, options.cache_mb) if options.cache else None
    try:
        planned = _plan(first, python, root, entry, options, cancel, auth_secret, result)
        if planned is None:
            return _done(result, t0)
        reply, ids = planned
        subsets = [s.name for s in reply.subsets]
        if options.subsets:
            unknown = [s for s in options.subsets if s not in subsets]
            if unknown:
                raise ValueError(f"no subset {', '.join(map(repr, unknown))}: this project has {', '.join(subsets)}")
            subsets = [s for s in subsets if s in options.subsets]
        functions = {f["key"]: f for f in reply.functions}
        result.functions = functions
        agg = Aggregator(subsets, {s: ids.get(s, []) for s in subsets}, functions, reply.preprocess, reply.labels)
        for f in reply.findings:  # preprocess's own (missing subset, mixed id types...)
            agg.general_failure(f.code or RUN_IMPORT_FAILED, f.message, f.subset, f.sample, f.file, f.line)
        agg.duplicates()
        keys = _keys(root, project, functions, reply)
        todo, cached = _needs(agg, cache, keys, subsets, ids, functions, workers or cores())
        result.cached = cached
        total = sum(len(ids.get(s, [])) for s in subsets)
        result.samples = total
        lock = threading.Lock()
        seen = {s: bytearray(len(ids.get(s, []))) for s in subsets}  # samples reported (a lost worker's are again)
        pending_rows: list[tuple[str, str, str, list]] = []
        done = [total - sum(s.stop - s.start for s in todo)]
        if progress:
            progress(done[0], total)

        def on_batch(subset: str, fkeys: list[str], records: list) -> None:
            with lock:
                sids = ids[subset]
                for i, recs in records:
                    sid = sids[i]
                    for key, rec in zip(fkeys, recs):
                        if rec is None:  # not called (a ground truth on unlabeled data, a visualizer with no input)
                            continue
                        agg.add(subset, i, key, rec)
                        result.computed += 1
                        if cache is not None:
                            pending_rows.append((keys[key], subset, sample_key(sid), rec))
                    if not seen[subset][i]:
                        seen[subset][i] = 1
                        done[0] += 1
                if cache is not None and len(pending_rows) >= 5000:
                    cache.write(pending_rows)
                    pending_rows.clear()
            if progress:
                progress(done[0], total)

        if todo:
            if options.backend == "ray":
                if options.ray_address:  # joining a cluster maps its object store: no address-space limit on the
                    first.close()        # driver (the cluster's workers are under Ray's memory monitor)
                    first = runners[0] = Runner(replace(options.limits, memory_mb=0))
                outcome, result.workers = backends.run_ray(first, python, root, entry, todo, functions,
                                                           options.ray_address, workers, on_batch, cancel, auth_secret)
                lost = list(outcome.lost)
            else:
                runners += [Runner(options.limits) for _ in range(max(1, workers) - 1)]
                outcome = backends.run_local(runners, python, root, entry, todo, on_batch, cancel, auth_secret)
                lost = [dict(zip(("subset", "index", "function", "problem"), shards.lost_record(x, functions)))
                        for x in outcome.lost]
                if outcome.error:
                    raise backends.ScanError(outcome.error)
            for x in lost:
                agg.lost(x["subset"], int(x["index"]), x["function"], _located(x["problem"], x, ids))
            result.lost = len(lost)
            result.cancelled = outcome.cancelled
        if cache is not None:
            cache.write(pending_rows)
            cache.used(set(keys.values()))
            cache.trim(keep=set(keys.values()))
        result.failures, result.stats = agg.finish()
        result.stats["user_seconds"] = agg.user_seconds
    except backends.ScanError as e:
        result.error = str(e)
        result.failures.append({"subset": None, "sample_id": None, "function": None, "code": RUN_CRASH,
                                "message": f"the scan stopped: {e}"})
    finally:
        for r in runners:
            r.close()
        if cache is not None:
            cache.close()
    return _done(result, t0)


def _done(result: Result, t0: float) -> Result:
    result.seconds = time.perf_counter() - t0
    return result


def _plan(runner: Runner, python: str, root: str, entry: str, options: Options, cancel: threading.Event,
          auth_secret: str | None, result: Result) -> tuple[protocol.ScanPlanned, dict[str, list]] | None:
    """Preprocess in the first child and every subset's ids; None (with the reason as failures) when it fails."""
    ids: dict[str, list] = {}

    def collect(msg: protocol.Progress) -> None:
        b = msg.batch or {}
        if isinstance(b.get("ids"), list):
            ids.setdefault(str(b.get("subset")), []).extend(b["ids"])

    try:
        reply = runner.call(python, root, entry, protocol.ScanPlan(visualizers=options.visualizers),
                            timeout=runner.limits.preprocess_timeout_s + 5, cancel=cancel, progress=collect,
                            auth_secret=auth_secret, beat_timeout=runner.limits.preprocess_timeout_s + 5)
    except ChildFault as fault:
        if fault.code == CANCELLED:
            result.cancelled = True
            return None
        file, line = fault.where if fault.where else (None, None)
        result.error = fault.message
        result.failures.append({"subset": None, "sample_id": None, "function": None, "code": fault.code,
                                "message": fault.message, "file": file, "line": line})
        return None
    assert isinstance(reply, protocol.ScanPlanned)
    if not reply.ok:
        result.error = reply.message or "preprocess failed"
        for f in reply.findings or [protocol.Problem(code=RUN_IMPORT_FAILED, message=result.error)]:
            result.failures.append({"subset": f.subset, "sample_id": f.sample, "function": None, "code": f.code,
                                    "message": f.message, "file": f.file, "line": f.line})
        return None
    return reply, ids


def _keys(root: str, project, functions: dict, reply: protocol.ScanPlanned) -> dict[str, str]:
    if project is None:
        from tensorleap_ls.core.engine.analysis import Analyzer

        analyses = Analyzer().analyze_path(root)
        project = analyses[0].project if analyses else None
    k = Keys.of_project(project) if project is not None else Keys(root, {}, {})
    pre = k.key((reply.preprocess or {}).get("where"))
    return {key: k.key(f.get("where"), pre) for key, f in functions.items()}


def _needs(agg: Aggregator, cache: Cache | None, keys: dict[str, str], subsets: list[str], ids: dict[str, list],
           functions: dict, workers: int) -> tuple[list[shards.Shard], int]:
    """Feeds the cached records to ``agg``; the shards of what is left to run; the number of records read.
    Memory stays O(samples): the cache is streamed, and what each function has is one byte per sample."""
    order = list(functions)
    runs: list[tuple[str, int, int, tuple[str, ...]]] = []
    read = 0
    for subset in subsets:
        sids = ids.get(subset, [])
        have = {k: bytearray(len(sids)) for k in order}
        if cache is not None:
            first: dict[str, int] = {}
            repeats: dict[str, list[int]] = {}  # a sample id preprocess gives twice (TL512): both get the record
            for i, sid in enumerate(sids):
                sk = sample_key(sid)
                if sk in first:
                    repeats.setdefault(sk, []).append(i)
                else:
                    first[sk] = i
            by_key = {keys[k]: k for k in order}
            for fn, sample, rec in cache.read(by_key, subset):
                key = by_key[fn]
                i = first.get(sample)
                if i is None:
                    continue
                for j in [i, *repeats.get(sample, ())]:
                    agg.add(subset, j, key, rec)
                    have[key][j] = 1
                    read += 1
        skip = {k for k in order if subset == "unlabeled" and functions[k].get("kind") == "ground_truth"}
        columns = [(k, have[k]) for k in order if k not in skip]
        start, need = 0, None
        for i in range(len(sids)):
            m = tuple(k for k, h in columns if not h[i])
            if m != need:
                if need:
                    runs.append((subset, start, i, need))
                start, need = i, m
        if need:
            runs.append((subset, start, len(sids), need))
    return shards.split(runs, workers), read


def _located(problem: dict, lost: dict, ids: dict[str, list]) -> dict:
    """A lost sample's problem names the sample (the fault's message does not)."""
    sid = ids[lost["subset"]][int(lost["index"])]
    return {**problem, "message": f"{problem.get('message')} while scanning {lost['subset']} sample {sid!r}"}

