"""The child's entry point: ``python -m tensorleap_ls_child``."""

from __future__ import annotations

import os
import sys

# ``-m`` puts the working directory (the project root) first on sys.path: the child's own imports
# must find the standard library and numpy, not a user's ``json.py``; load() adds the project
# folders where the platform has them.
if sys.path and os.path.abspath(sys.path[0] or ".") == os.getcwd():
    del sys.path[0]

from tensorleap_ls_child.guard import guard  # noqa: E402

guard()

from tensorleap_ls_child import sandbox  # noqa: E402

sandbox.install()

import json  # noqa: E402

from tensorleap_ls_child import protocol, scan  # noqa: E402
from tensorleap_ls_child.codes import RUN_EXIT, RUN_MEMORY  # noqa: E402
from tensorleap_ls_child.load import load  # noqa: E402
from tensorleap_ls_child.preview import preview  # noqa: E402
from tensorleap_ls_child.samples import encode_loop, preprocess, run_checks  # noqa: E402
from tensorleap_ls_child.sandbox import LIMIT, send  # noqa: E402
from tensorleap_ls_child.state import STATE, scrub  # noqa: E402
from tensorleap_ls_child.visuals import PIXEL_BUDGET  # noqa: E402
from tensorleap_ls_child.where import _f  # noqa: E402


# --- main loop --------------------------------------------------------------------------------
def handle(req: protocol.Request) -> protocol.Reply:
    """The reply to ``req``: an instance of ``req.REPLY`` (a bare ``Reply`` for a failure of any request)."""
    LIMIT["seconds"] = float(req.timeout_s)
    LIMIT["preprocess"] = float(req.preprocess_timeout_s)
    PIXEL_BUDGET["left"] = PIXEL_BUDGET["total"]
    if isinstance(req, protocol.Load):
        return load(req.root, req.entry)
    if STATE["module"] is None:
        return protocol.Reply(ok=False, message="entry not loaded")
    if isinstance(req, protocol.Preprocess):
        return preprocess()
    if isinstance(req, protocol.Check):
        return run_checks(int(req.samples), int(req.seed), int(req.progress_every), req.functions, req.subsets)
    if isinstance(req, protocol.Preview):
        return preview(req.subset, req.sample_id, list(req.loaders), bool(req.run_test), req.functions)
    if isinstance(req, protocol.EncodeLoop):
        return encode_loop(req.subset, int(req.samples), bool(req.raw))
    if isinstance(req, protocol.ScanPlan):
        return scan.plan(bool(req.visualizers))
    if isinstance(req, protocol.ScanShard):
        return scan.serve_shard(req.shard)
    if isinstance(req, protocol.RayScan):  # ray is imported only here, only for this request
        from tensorleap_ls_child import rayscan

        return rayscan.run(req)
    return protocol.Reply(ok=False, message="unknown command %r" % req.CMD)


def main() -> None:
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            msg = json.loads(line)
            rid = msg.get("id")
            req = protocol.from_wire(msg)
        except (ValueError, KeyError, TypeError, AttributeError):
            send(protocol.Reply(ok=False, message="bad request").to_wire())
            continue
        try:
            resp = handle(req)
        except SystemExit as e:
            resp = protocol.Reply(ok=False, exit=True,
                                  findings=[_f(RUN_EXIT, f"sys.exit({e.code}) called by user code", None)])
        except MemoryError:
            resp = protocol.Reply(ok=False, findings=[_f(RUN_MEMORY, "MemoryError in user code", None)])
        except BaseException as e:  # noqa: BLE001
            resp = protocol.Reply(ok=False, internal=True, message=(
                f"tensorleap-ls failed (a bug of tensorleap-ls, not of your code; please report it): "
                f"{type(e).__name__}: {scrub(str(e))[:500]}"))
        try:
            send(resp.to_wire(rid))
        except Exception as e:  # noqa: BLE001 - our bug: say so, keep the child usable
            send(protocol.Reply(ok=False, internal=True, message=(
                f"internal error of tensorleap-ls while sending the result: {type(e).__name__}: {e}")).to_wire(rid))
        if resp.exit:
            break


if __name__ == "__main__":
    main()
