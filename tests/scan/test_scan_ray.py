"""The Ray backend: the same planted data set, its shards as Ray tasks on a real local cluster (loopback only),
in a project interpreter that has ray (a venv of this interpreter with code-loader and ray, cached like the
other test venvs). Skipped, saying why, only where ray cannot be installed for this interpreter."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import planted
from tensorleap_ls.runtime import api
from venvs import cached_venv

pytestmark = pytest.mark.dynamic

RAY = "ray==2.60.0"
LIMITS = api.Limits(timeout_s=30.0, preprocess_timeout_s=180.0)


@pytest.fixture(scope="module")
def ray_python() -> str:
    """The project interpreter of these tests: code-loader and ray (the optional extra ``tensorleap-ls[ray]``)."""
    return cached_venv("venv-ray", sys.executable, ["code-loader==1.0.214", RAY], key=RAY, skip_if_fails=RAY)


def found(result) -> set[tuple]:
    return {(f["subset"], f["sample_id"], f["function"], f["code"]) for f in result.failures}


def test_ray_local_cluster_finds_every_planted_sample_and_nothing_else(tmp_path, ray_python):
    root = tmp_path / "shapes"
    planted.write(root)
    options = api.ScanOptions(backend="ray", workers=2, limits=LIMITS)
    result = api.scan(str(root), str(root / "leap_integration.py"), options, python=ray_python)
    assert result.error is None, result.failures[:3]
    assert result.backend == "ray" and result.workers == 2 and result.samples == planted.N + 1
    assert found(result) == planted.expected()
    assert result.computed == 6 * (planted.N + 1)


def test_the_server_never_imports_ray():
    """ray is imported only by the child's Ray driver (tensorleap_ls_child/rayscan.py), only for a RayScan."""
    server = Path(__file__).resolve().parents[2] / "server" / "tensorleap_ls"
    importers = sorted(str(p.relative_to(server)) for p in server.rglob("*.py")
                       if any(line.strip().startswith(("import ray", "from ray")) for line in p.read_text().splitlines()))
    assert importers == ["runtime/child/tensorleap_ls_child/rayscan.py"]
    main = (server / "runtime/child/tensorleap_ls_child/__main__.py").read_text()
    assert "import rayscan" in main.split("protocol.RayScan")[1].split("\n\n")[0]  # inside the RayScan branch only


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ray_address_joins_a_running_cluster(tmp_path, ray_python, monkeypatch):
    """``--ray-address``: a cluster started apart (``ray start --head``, loopback only); the project and the child's
    package travel with the tasks (runtime_env). Ray clusters use token authentication: a driver given an
    address finds the token when ``RAY_AUTH_MODE=token`` is set, as Ray documents; it passes through to the child."""
    root = tmp_path / "shapes"
    planted.write(root, n=600)
    port = _free_port()
    ray_bin = str(Path(ray_python).with_name("ray"))
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}  # Ray's single-machine mode: 127.0.0.1 only
    head = subprocess.Popen([ray_bin, "start", "--head", "--block", "--port", str(port), "--num-cpus", "2",
                             "--include-dashboard", "false", "--disable-usage-stats"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert head.poll() is None and time.monotonic() < deadline, "the Ray head did not start"
            time.sleep(0.5)
        options = api.ScanOptions(backend="ray", ray_address=f"127.0.0.1:{port}", limits=LIMITS)
        monkeypatch.setenv("RAY_AUTH_MODE", "token")
        result = api.scan(str(root), str(root / "leap_integration.py"), options, python=ray_python)
        assert result.error is None, result.failures[:3]
        assert result.workers == 2  # the cluster's CPUs
        assert result.samples == 600 and found(result) == set()  # no planted id below 600 in this copy
        assert result.computed == 6 * 600
    finally:
        os.killpg(head.pid, signal.SIGTERM)  # the head we started, and what it started in its session
        try:
            head.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)


def test_ray_a_sample_that_kills_its_worker_is_the_only_one_lost(tmp_path, ray_python, monkeypatch):
    """A Ray worker that dies on one sample (every time) loses that sample only: the shard's rest runs again, one
    sample per result, in new workers (the task is a Ray generator: what it yielded before is kept)."""
    root = tmp_path / "shapes"
    planted.write(root, n=1500)
    monkeypatch.setenv("TL_SCAN_CRASH", "700")  # the local cluster's workers inherit the driver's environment
    options = api.ScanOptions(backend="ray", workers=2, limits=LIMITS)
    result = api.scan(str(root), str(root / "leap_integration.py"), options, python=ray_python)
    assert result.error is None and result.lost == 1
    lost = [(f["subset"], f["sample_id"], f["function"], f["code"]) for f in result.failures if f["code"] == "TL532"]
    assert lost == [("training", 700, "encode_image", "TL532")]
    assert result.computed == 6 * 1501 - 6
    assert found(result) - set(lost) == {("training", 555, "load_annotations", "TL512")}
