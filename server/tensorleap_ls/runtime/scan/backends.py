"""Where the shards run.

``local``: N children of the project interpreter (runner.Runner: the trust gate, the limits, the guardian),
one shard at a time each, warm between shards. ``ray``: one child is the Ray driver (the child's
rayscan.py); the shards are Ray tasks on the cluster at ``--ray-address`` or on a local one it starts. Both
run the shared loop of the child's shards.py, so a lost worker costs the same there: its in-flight sample.
"""

from __future__ import annotations

import threading
from typing import Callable

from tensorleap_ls.core.codes import RUN_CRASH, RUN_EXIT, RUN_MEMORY, RUN_TIMEOUT
from tensorleap_ls.runtime.child.tensorleap_ls_child import protocol, shards
from tensorleap_ls.runtime.runner import CANCELLED, RESTARTED, ChildFault, Runner

Batch = Callable[[str, list, list], None]  # (subset, the shard's function keys, records)
_LOST = (RUN_CRASH, RUN_TIMEOUT, RUN_MEMORY, RUN_EXIT, RESTARTED)


class ScanError(Exception):
    """The scan cannot go on (the entry no longer imports, the Ray cluster cannot be reached...)."""


def _beat(runner: Runner, functions: int) -> float:
    """Seconds allowed between two messages of a child: one sample's calls, each within its limit."""
    return runner.limits.timeout_s * max(1, functions) + 2


def run_local(runners: list[Runner], python: str, root: str, entry: str, todo: list[shards.Shard], on_batch: Batch,
              cancel: threading.Event, auth_secret: str | None) -> shards.Outcome:
    def run_shard(slot: int, shard: shards.Shard, emit) -> None:
        runner = runners[slot]

        def progress(msg: protocol.Progress) -> None:
            if msg.batch and isinstance(msg.batch.get("records"), list):
                emit(msg.batch["records"])

        beat = _beat(runner, len(shard.functions))
        try:
            reply = runner.call(python, root, entry, protocol.ScanShard(shard=shard.to_wire()),
                                timeout=runner.limits.preprocess_timeout_s + beat, cancel=cancel, progress=progress,
                                auth_secret=auth_secret, beat_timeout=beat)
        except ChildFault as fault:
            if fault.code == CANCELLED:
                raise shards.Cancelled() from None
            if fault.code in _LOST:
                raise shards.Lost(fault.code, fault.message, list(fault.where) if fault.where else None) from None
            raise ScanError(fault.message) from None
        if not reply.ok:
            if reply.exit:
                runner.invalidate(root)
            raise ScanError(reply.message or "; ".join(f.message for f in reply.findings) or "the shard failed")

    return shards.run(todo, len(runners), run_shard, lambda s, records: on_batch(s.subset, list(s.functions), records),
                      cancel)


def run_ray(runner: Runner, python: str, root: str, entry: str, todo: list[shards.Shard], functions: dict,
            address: str | None, workers: int, on_batch: Batch, cancel: threading.Event,
            auth_secret: str | None) -> tuple[shards.Outcome, int]:
    """The shards as Ray tasks; (outcome, the number of concurrent tasks)."""
    outcome = shards.Outcome()

    def progress(msg: protocol.Progress) -> None:
        b = msg.batch or {}
        if isinstance(b.get("records"), list) and isinstance(b.get("keys"), list):
            on_batch(str(b.get("subset")), b["keys"], b["records"])

    req = protocol.RayScan(shards=[s.to_wire() for s in todo], address=address, workers=workers,
                           functions={k: {"where": f.get("where")} for k, f in functions.items()})
    # the driver sends a message at least every few seconds (ray_scan's heartbeat); starting a cluster takes longer
    try:
        reply = runner.call(python, root, entry, req, timeout=runner.limits.preprocess_timeout_s + 180, cancel=cancel,
                            progress=progress, auth_secret=auth_secret, beat_timeout=60 + runner.limits.preprocess_timeout_s)
    except ChildFault as fault:
        if fault.code == CANCELLED:
            outcome.cancelled = True
            return outcome, workers
        raise ScanError(f"the Ray driver failed: {fault.message}") from None
    if not reply.ok:
        raise ScanError(reply.message or "; ".join(f.message for f in reply.findings) or "the Ray scan failed")
    for x in reply.lost or []:
        outcome.lost.append(x)  # already (subset, index, function, problem) dicts
    return outcome, int(reply.workers or workers)
