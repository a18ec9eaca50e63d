"""A cached venv holding the libraries of the non-ONNX model readers (torch, Keras 3, LiteRT), the
project interpreter of tests/model/test_model_readers.py, and the builder of its tiny models."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from venvs import cached_venv

HERE = Path(__file__).resolve().parent
REQUIREMENTS = HERE / "framework-requirements.txt"


def models_venv() -> str:
    """The python of the venv, built once per machine (and again when the requirements change)."""
    wheels = sorted({str(w) for d in os.environ.get("PIP_FIND_LINKS", "").split() + ["/opt/wheels"]
                     for w in Path(d).glob(f"torch-2.13.0+cpu-cp{sys.version_info[0]}{sys.version_info[1]}-*.whl")})
    if not wheels:
        pytest.skip("no torch 2.13.0 CPU wheel for this Python on this machine (/opt/wheels): from PyPI torch is a "
                    "CUDA build of several GB, too large to fetch for a test run")
    return cached_venv("venv-models", sys.executable, ["--find-links", os.path.dirname(wheels[0]), "-r",
                                                       str(REQUIREMENTS)], REQUIREMENTS.read_text())


def build(python: str, jobs: list[tuple[str, Path, list, list]]) -> None:
    """Tiny models built in the venv by framework_builder.py, in one process: each job is (format: keras,
    h5, tflite, trace or script; path; inputs [(name, batched shape, None for the batch)]; outputs
    [(name, size)])."""
    for _, path, _, _ in jobs:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    r = subprocess.run([python, str(HERE / "framework_builder.py"), json.dumps([[f, str(p), i, o] for f, p, i, o in jobs])],
                       capture_output=True, text=True, timeout=600,
                       env={**os.environ, "KERAS_BACKEND": "torch", "PYTHONPATH": ""})
    assert r.returncode == 0 and all(Path(p).is_file() for _, p, _, _ in jobs), r.stderr[-3000:]
