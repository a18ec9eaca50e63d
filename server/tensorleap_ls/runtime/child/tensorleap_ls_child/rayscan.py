"""The Ray backend: this child is the Ray driver, the shards run as Ray tasks.

Imported only for a ``RayScan`` request, so ``ray`` is imported only in the project interpreter and only
with ``--backend ray``. Without an address the driver starts a local cluster that listens on the loopback
interface only (its processes are the child's descendants: the guardian ends them with it, and they inherit
the child's memory limit); with an address it joins that cluster, sending this package and the project
(``working_dir``, without virtual environments, .git and .tensorleap) with the tasks.

A task is a Ray generator: it yields the same batches as the local backend's child (scan.py), so a worker
that dies (``WorkerCrashedError``, Ray's ``OutOfMemoryError``) or hangs (no batch within the time limit:
the task is cancelled with force) loses only the sample it was running (shards.py).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any, Dict, List

from tensorleap_ls_child import shards
from tensorleap_ls_child.codes import RUN_CRASH, RUN_MEMORY, RUN_TIMEOUT
from tensorleap_ls_child.protocol import Progress, RayScan, Scanned
from tensorleap_ls_child.sandbox import LIMIT, send, send_clean
from tensorleap_ls_child.state import STATE

PACKAGE = os.path.dirname(os.path.abspath(__file__))
EXCLUDES = [".venv", "venv", "env", ".git", ".tensorleap", "__pycache__", "*.pyc", "node_modules"]
# environment a task needs; the secret is passed on as the local backend passes it to its children
PASSED = ("AUTH_SECRET", "TL_DISABLE_ANALYTICS")
HEARTBEAT = 5.0  # seconds between two messages to the server, batches or not


def run(req: RayScan) -> Scanned:
    local = not req.address
    host = (req.address or "").rsplit(":", 1)[0].strip("[]")
    if local or host in ("127.0.0.1", "localhost", "::1"):
        # Ray's own switch for a single-machine cluster: every process binds and talks on 127.0.0.1 only
        # (a cluster at a loopback address is one, and this driver must join it there)
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    try:
        import ray
    except ImportError as e:
        return Scanned(ok=False, message=f"ray is not installed in the project interpreter {sys.executable} ({e}): "
                                         f"{sys.executable} -m pip install 'ray==2.60.0' (the extra tensorleap-ls[ray])")

    env = {k: os.environ[k] for k in PASSED if k in os.environ}
    root, entry = STATE["root"], STATE["entry"]
    if local:
        env["PYTHONPATH"] = os.path.dirname(PACKAGE)
        runtime_env: Dict[str, Any] = {"env_vars": env}
        # "local": a new cluster, never one that happens to run on this machine
        kw: Dict[str, Any] = {"address": "local", "num_cpus": req.workers or None, "object_store_memory": 128 << 20}
    else:
        runtime_env = {"env_vars": env, "py_modules": [PACKAGE], "working_dir": root, "excludes": EXCLUDES}
        kw = {"address": req.address}
    t0 = time.perf_counter()
    try:
        ray.init(include_dashboard=False, log_to_driver=False, runtime_env=runtime_env, **kw)
    except Exception as e:  # noqa: BLE001 - no cluster, refused, authentication...: said as it is
        where = f"the Ray cluster at {req.address}" if req.address else "a local Ray cluster"
        return Scanned(ok=False, message=f"cannot start or reach {where}: {type(e).__name__}: {str(e)[:500]}"
                                         + (" (a cluster with token authentication: set RAY_AUTH_MODE=token, as Ray "
                                            "documents)" if "auth" in str(e).lower() or req.address else ""))
    try:
        workers = req.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        task = ray.remote(max_retries=0)(_task)
        limits = {"seconds": LIMIT["seconds"], "preprocess": LIMIT["preprocess"]}
        relative = os.path.relpath(entry, root)
        beat = LIMIT["seconds"] * max(1, max((len(s[3]) for s in req.shards), default=1)) + 5

        def run_shard(slot: int, shard: shards.Shard, emit) -> None:
            gen = task.remote(None if not local else root, relative, shard.to_wire(), limits)
            wait = LIMIT["preprocess"] + beat  # a new worker first imports the entry and runs preprocess
            while True:
                ready, _ = ray.wait([gen], timeout=wait)
                if not ready:
                    ray.cancel(gen, force=True)
                    raise shards.Lost(RUN_TIMEOUT, f"no result within {wait:g} s: the Ray task was cancelled")
                try:
                    emit(ray.get(next(gen)))
                except StopIteration:
                    return
                except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
                        ray.exceptions.TaskCancelledError) as e:
                    raise shards.Lost(RUN_CRASH, f"the Ray worker died ({type(e).__name__})") from None
                except ray.exceptions.OutOfMemoryError:
                    raise shards.Lost(RUN_MEMORY, "Ray killed the worker: out of memory") from None
                wait = beat

        done = [0]
        lock = threading.Lock()  # one writer of the channel at a time
        stop = threading.Event()

        def on_batch(shard: shards.Shard, records: List[dict]) -> None:
            with lock:
                done[0] += len(records)
                send_clean(Progress(progress=done[0], batch={"subset": shard.subset, "keys": list(shard.functions),
                                                             "records": records}).to_wire())

        def heartbeat() -> None:  # the server's time limit between messages: a slow cluster is not a hang
            while not stop.wait(HEARTBEAT):
                with lock:
                    send(Progress(progress=done[0], phase="ray").to_wire())

        threading.Thread(target=heartbeat, daemon=True).start()
        try:
            outcome = shards.run([shards.Shard.from_wire(s) for s in req.shards], workers, run_shard, on_batch)
        finally:
            stop.set()
        if outcome.error:
            return Scanned(ok=False, message=outcome.error, samples=done[0], workers=workers)
        lost = [dict(zip(("subset", "index", "function", "problem"), shards.lost_record(x, req.functions)))
                for x in outcome.lost]
        return Scanned(samples=done[0], seconds=time.perf_counter() - t0, lost=lost, workers=workers)
    finally:
        ray.shutdown()


_WORKER: Dict[str, Any] = {"loaded": None}


def _task(root, entry: str, shard: list, limits: dict):
    """A Ray task: imports the entry and runs preprocess once per worker process, then one shard."""
    from tensorleap_ls_child import sandbox, scan
    from tensorleap_ls_child.load import load
    from tensorleap_ls_child.samples import preprocess

    root = os.path.abspath(root or os.getcwd())  # a remote cluster: the project is the task's working_dir
    LIMIT.update(limits)
    if _WORKER["loaded"] != (root, entry):
        if sandbox._HAS_ALARM:  # the per-call time limit (tasks run in the worker's main thread)
            import signal

            signal.signal(signal.SIGALRM, sandbox._alarm)
        loaded = load(root, os.path.join(root, entry))
        if not loaded.ok:
            raise RuntimeError("importing the entry failed in the Ray worker: "
                               + (loaded.error.message if loaded.error else loaded.message or "no reason given"))
        pre = preprocess()
        if not pre.ok:
            raise RuntimeError("preprocess failed in the Ray worker: "
                               + "; ".join(f.message for f in pre.findings)[:2000])
        _WORKER["loaded"] = (root, entry)
    s = shards.Shard.from_wire(shard)
    for batch in scan.run_shard(s.subset, s.start, s.stop, list(s.functions), s.isolate):
        yield batch
