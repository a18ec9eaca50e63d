"""A data-set scan split into shards, and the loop that runs them on N workers, whatever runs a shard.

Shared by the server's local backend (N children of the project interpreter) and the Ray driver (N Ray
tasks, in the project interpreter): standard library only, Python 3.8+. A shard is a contiguous range of
one subset's sample indices and the functions to run on it (the cache decides which). A worker that dies
(a crash, a hang killed from outside, SIGKILL) loses only the sample it was running: the shard's rest is
run again *isolated* (one sample per message, so the first sample not reported is the one that was
running); if it dies again there, that sample is reported with the reason and the rest goes on.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .codes import RUN_CRASH


@dataclass(frozen=True)
class Shard:
    subset: str
    start: int
    stop: int
    functions: Tuple[str, ...]  # function keys ("input:image"), in the order the platform calls them
    isolate: bool = False  # one sample per message: after a lost worker, the sample it was running is known

    def to_wire(self) -> list:
        return [self.subset, self.start, self.stop, list(self.functions), self.isolate]

    @classmethod
    def from_wire(cls, v: Sequence[Any]) -> "Shard":
        return cls(str(v[0]), int(v[1]), int(v[2]), tuple(v[3]), bool(v[4]) if len(v) > 4 else False)


class Lost(Exception):
    """The worker running a shard died or was stopped for a hang: ``code`` (TL530/531/532/533) and why;
    ``where``: [file, line] of the user's code it was running, when known."""

    def __init__(self, code: str, message: str, where: Optional[list] = None):
        super().__init__(message)
        self.code, self.message, self.where = code, message, where


class Cancelled(Exception):
    pass


def split(needs: Sequence[Tuple[str, int, int, Tuple[str, ...]]], workers: int, min_size: int = 64,
          max_size: int = 2000) -> List[Shard]:
    """Shards for runs of samples that need the same functions: (subset, start, stop, functions). About
    8 shards per worker (a slow shard does not keep the others waiting), within [min_size, max_size]."""
    total = sum(stop - start for _, start, stop, _ in needs)
    size = max(min_size, min(max_size, -(-total // max(1, workers * 8))))
    out = []
    for subset, start, stop, functions in needs:
        for a in range(start, stop, size):
            out.append(Shard(subset, a, min(stop, a + size), tuple(functions)))
    return out


@dataclass
class _Lost:
    shard: Shard
    index: int  # the sample that was running
    error: Lost


@dataclass
class Outcome:
    lost: List[_Lost] = field(default_factory=list)  # samples lost with their worker, in no particular order
    cancelled: bool = False
    error: Optional[str] = None  # why the scan stopped (not a lost worker)


RunShard = Callable[[int, Shard, Callable[[List[dict]], None]], None]


def run(shards: Sequence[Shard], workers: int, run_shard: RunShard, on_batch: Callable[[Shard, List[dict]], None],
        cancel: Optional[threading.Event] = None) -> Outcome:
    """Runs every shard on ``workers`` threads: ``run_shard(slot, shard, emit)`` runs one shard on the
    worker of ``slot`` and calls ``emit(records)`` with the records of consecutive samples (each starts with
    its index: scan.py); it raises ``Lost`` when the worker died, ``Cancelled`` when ``cancel`` was set.
    ``on_batch`` is called under a lock (one batch at a time)."""
    todo: "queue.Queue[Optional[Shard]]" = queue.Queue()
    pending = [len(shards)]  # shards queued or running; the workers stop when none is left
    lock = threading.Lock()
    outcome = Outcome()
    cancel = cancel or threading.Event()
    for s in shards:
        todo.put(s)
    if not shards:
        return outcome

    def finish(more: List[Shard]) -> None:
        with lock:
            pending[0] += len(more) - 1
            for s in more:
                todo.put(s)
            if pending[0] == 0:
                for _ in range(workers):
                    todo.put(None)

    def work(slot: int) -> None:
        while True:
            shard = todo.get()
            if shard is None or cancel.is_set():
                if shard is not None:
                    finish([])
                return
            done = [shard.start]  # the first sample not reported yet

            def emit(records: List[dict], shard: Shard = shard, done: List[int] = done) -> None:
                if records:
                    with lock:
                        on_batch(shard, records)
                    done[0] = max(done[0], max(int(r[0]) for r in records) + 1)

            more: List[Shard] = []
            try:
                run_shard(slot, shard, emit)
                if done[0] < shard.stop and not cancel.is_set():
                    raise Lost(RUN_CRASH, "the worker stopped before the end of its shard without saying why")
            except Cancelled:
                more = []
            except Lost as e:
                more = []
                if cancel.is_set():
                    pass
                elif shard.isolate or shard.stop - done[0] == 1:
                    with lock:
                        outcome.lost.append(_Lost(shard, done[0], e))
                    if done[0] + 1 < shard.stop:
                        more = [replace(shard, start=done[0] + 1, isolate=False)]
                else:
                    more = [replace(shard, start=done[0], isolate=True)]
            except Exception as e:  # noqa: BLE001 - not a lost worker: the scan cannot go on (the entry no longer imports...)
                with lock:
                    outcome.error = outcome.error or f"{type(e).__name__}: {e}"
                cancel.set()
            finish(more)

    threads = [threading.Thread(target=work, args=(i,), daemon=True, name=f"scan-{i}") for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    outcome.cancelled = cancel.is_set() and outcome.error is None
    return outcome


def lost_record(lost: _Lost, functions: Dict[str, Any]) -> Tuple[str, int, str, dict]:
    """(subset, index, function key, problem) for a sample lost with its worker: the function is the one whose
    file and line the worker was running, else the shard's first."""
    key = lost.shard.functions[0] if lost.shard.functions else ""
    if lost.error.where and lost.error.where[0]:
        file, line = lost.error.where[0], int(lost.error.where[1] or 0)
        best = -1
        for k in lost.shard.functions:
            w = (functions.get(k) or {}).get("where") or [None, None]
            if w[0] == file and w[1] is not None and best < int(w[1]) <= line:
                key, best = k, int(w[1])
    problem = {"code": lost.error.code, "message": lost.error.message,
               "file": lost.error.where[0] if lost.error.where else None,
               "line": lost.error.where[1] if lost.error.where else None}
    return lost.shard.subset, lost.index, key, problem
