"""The guardian (see ``guard``): runs before anything else of the child."""

from __future__ import annotations

import os


def _linux_prctl(option: int, arg: int) -> bool:
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl(option, arg, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


_PR_SET_PDEATHSIG, _PR_SET_CHILD_SUBREAPER = 1, 36


def _proc_table() -> dict:
    """pid -> (ppid, pgid) of every process (Linux /proc); {} elsewhere."""
    table = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return table
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name, "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            table[int(name)] = (int(fields[1]), int(fields[2]))
        except (OSError, IndexError, ValueError):
            continue
    return table


def _kill_descendants(me: int) -> None:
    """SIGKILL every process below ``me`` (a subreaper: orphans of any depth are re-parented to it,
    double-forked daemons in their own session included) and of its process group; reap them."""
    import signal as _signal

    group = os.getpgid(me)
    for _ in range(50):
        table = _proc_table()
        below, frontier = set(), {me}
        while frontier:
            frontier = {p for p, (pp, _g) in table.items() if pp in frontier and p not in below}
            below |= frontier
        below |= {p for p, (_pp, g) in table.items() if g == group and p != me}
        if not table:  # no /proc: the process group is all we can reach
            _signal.signal(_signal.SIGTERM, _signal.SIG_IGN)
            try:
                os.killpg(group, _signal.SIGTERM)
            except OSError:
                pass
        for p in below:
            try:
                os.kill(p, _signal.SIGKILL)
            except OSError:
                pass
        while True:
            try:
                pid, _st = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                pid = 0
            if pid == 0:
                break
        if not below:
            return
        import time as _time

        _time.sleep(0.02)


def _await_descendants(me: int, fd: int, seconds: float) -> None:
    """Reaps what ends on its own within ``seconds`` (or until the server goes away)."""
    import select
    import time as _time

    end = _time.monotonic() + seconds
    while _time.monotonic() < end and any(pp == me for pp, _g in _proc_table().values()):
        try:
            if select.select([fd], [], [], 0.05)[0] and not os.read(fd, 64):
                return
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except (InterruptedError, ChildProcessError):
            pass


def guard() -> None:
    """Fork: the worker (this process's child) runs the protocol and the user's code; this
    process stays small and watches. It is the process the server started (its pid is the one
    the server signals), a subreaper for everything the user's code starts, and it kills all of
    it when the server goes away (the server's end of the guard pipe closes, or the parent
    changes: SIGKILL of the server, SIGTERM of the CLI...) or when the worker ends. The server's
    trace file is removed when the server cannot do it any more."""
    import select
    import signal as _signal

    fd = int(os.environ.pop("TL_GUARD_FD", "-1"))
    # seconds the worker's descendants may take to end on their own once it has ended (the debug
    # adapter tells its client that the session is over), before they are killed
    grace = float(os.environ.pop("TL_GUARD_GRACE", "0") or 0)
    if fd < 0 or not hasattr(os, "fork"):
        return
    _linux_prctl(_PR_SET_CHILD_SUBREAPER, 1)
    server = os.getppid()
    worker = os.fork()
    if worker == 0:
        os.close(fd)
        _linux_prctl(_PR_SET_PDEATHSIG, int(_signal.SIGKILL))  # the guardian is single-threaded
        return
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, ValueError, OSError):
        pass
    me = os.getpid()

    def forward(signum, frame):  # the server asks for the worker's stack
        try:
            os.kill(worker, signum)
        except OSError:
            pass

    stop = []
    _signal.signal(_signal.SIGUSR1, forward)
    _signal.signal(_signal.SIGTERM, lambda s, f: stop.append(s))
    _signal.signal(_signal.SIGINT, lambda s, f: stop.append(s))
    status = None
    while status is None and not stop:
        try:
            ready = select.select([fd], [], [], 0.05)[0]
            if ready and not os.read(fd, 64):
                break  # the server is gone (or closed the child)
        except InterruptedError:
            pass
        if os.getppid() != server:
            break
        while True:
            try:
                pid, st = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                pid, st = 0, 0
            if pid == 0:
                break
            if pid == worker:
                status = st
    if status is not None and grace > 0:
        _await_descendants(me, fd, grace)
    _kill_descendants(me)
    if status is None:  # the server went away: nobody else will remove its trace file
        trace = os.environ.get("TL_TRACE_FILE")
        if trace and os.path.basename(trace).startswith("tl-trace-"):
            try:
                os.unlink(trace)
            except OSError:
                pass
        os._exit(0)
    if os.WIFSIGNALED(status):  # mirror the worker's end: the server classifies it
        sig = os.WTERMSIG(status)
        try:
            _signal.signal(sig, _signal.SIG_DFL)
            os.kill(me, sig)
        except (OSError, ValueError):
            pass
        os._exit(128 + sig)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)
