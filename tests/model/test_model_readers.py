"""The model readers for Keras (.keras/.h5), TFLite and TorchScript (runtime/model_info.py) run for real:
tiny models built here with torch, Keras 3 and LiteRT in a cached venv (framework_venv.py), read in that
venv as the project interpreter, through the CLI on copies of tests/fixtures/model/cls whose load_model
loads them. Full TensorFlow is not installed (about 600 MB): Keras 3 reads both Keras formats with its
torch backend, and LiteRT (ai-edge-litert, 21 MB) is the TFLite runtime."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from framework_venv import build, models_venv
from onnx_models import project
from tensorleap_ls import cli
from tensorleap_ls.runtime import model_info

ONNX_LOADER = ("    import onnxruntime as ort\n    model_path = os.path.join(MODEL_DIR, 'classifier.onnx')\n"
               "    return ort.InferenceSession(model_path, providers=['CPUExecutionProvider'])")
ONNX_CALL = "pred = model.run(None, {'image': image})[0]"
KERAS = ("    import keras\n    return keras.models.load_model(os.path.join(MODEL_DIR, 'classifier{ext}'))",
         "pred = model(image)[0]")
TORCH = ("    import torch\n    return torch.jit.load(os.path.join(MODEL_DIR, 'classifier{ext}'), map_location='cpu')",
         "pred = model(image)[0]")
TFLITE = ("    from ai_edge_litert.interpreter import Interpreter\n"
          "    return Interpreter(model_path=os.path.join(MODEL_DIR, 'classifier{ext}'))",
          "model.allocate_tensors()\n    model.set_tensor(model.get_input_details()[0]['index'], image)\n"
          "    model.invoke()\n    pred = model.get_tensor(model.get_output_details()[0]['index'])")
# builder format -> (file suffix, load_model body and model call of the integration test)
FORMATS = {"keras": (".keras", KERAS), "h5": (".h5", KERAS), "tflite": (".tflite", TFLITE),
           "trace": (".pt", TORCH), "script": (".torchscript", TORCH)}
IMAGE = [("image", [None, 3, 8, 8])]
TWO_OUTPUTS = [("classes", 3), ("emb", 4)]


# the models every test reads, by (format, variant): built in one process, read once each (the facts are
# cached by path and content, and every project copy loads them from this one folder)
VARIANTS = {"two": TWO_OUTPUTS, "one": [("classes", 3)], "four": [("classes", 4)]}


@pytest.fixture(scope="module")
def python() -> str:
    return models_venv()


@pytest.fixture(scope="module")
def models(python: str, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    build(python, [(fmt, folder / f"{variant}{ext}", IMAGE, outputs) for fmt, (ext, _) in FORMATS.items()
                   for variant, outputs in VARIANTS.items() if variant != "four" or fmt not in ("trace", "script")]
          + [("trace", folder / "inputs.pt", [("image", [None, 3, 8, 8]), ("mask", [None, 1, 8, 8])], [("classes", 3)])])
    return folder


def framework_project(tmp_path: Path, fmt: str, variant: str, models: Path) -> Path:
    """The cls fixture whose load_model loads the ``fmt`` model ``variant`` from the folder ``models``
    (its config module names the folder, as when the model is pushed separately)."""
    ext, (loader, call) = FORMATS[fmt]
    root = project(tmp_path, [(ONNX_LOADER, loader.replace("classifier{ext}", variant + ext)), (ONNX_CALL, call)],
                   model=None)
    config = root / "tl" / "config.py"
    text = config.read_text()
    assert text.count("MODEL_DIR = os.path.join(ROOT, 'models')") == 1
    config.write_text(text.replace("MODEL_DIR = os.path.join(ROOT, 'models')", f"MODEL_DIR = {str(models)!r}"))
    return root


def check_json(root: Path, python: str, capsys) -> list[dict]:
    """``tensorleap-ls check --python PYTHON --format json``: the CLI reads the model in that interpreter."""
    code = cli.main(["check", "--python", python, "--format", "json", str(root)])
    assert code in (0, 1)
    [p] = json.loads(capsys.readouterr().out)["projects"]
    return [d for d in p["diagnostics"] if d["code"].startswith("TL6")]


@pytest.mark.parametrize("fmt", FORMATS)
def test_reader_reads_the_model(fmt: str, python: str, models: Path):
    ext = FORMATS[fmt][0]
    facts = model_info.facts(python, str(models / f"two{ext}"), trusted=True)
    assert "error" not in facts, facts
    assert facts["format"] == ext[1:]
    if fmt in ("trace", "script"):  # TorchScript keeps the parameter names and the outputs, not the shapes
        assert facts["inputs"] == [{"name": "image", "shape": [], "dtype": None}]
        assert len(facts["outputs"]) == 2 and facts["shapes_known"] is False
    else:
        assert facts["inputs"] == [{"name": "image", "shape": [None, 3, 8, 8], "dtype": "float32"}]
        assert facts["outputs"] == [{"name": "classes", "shape": [None, 3], "dtype": "float32"},
                                    {"name": "emb", "shape": [None, 4], "dtype": "float32"}]


def test_reader_reads_torchscript_input_names_in_order(python: str, models: Path):
    facts = model_info.facts(python, str(models / "inputs.pt"), trusted=True)
    assert [i["name"] for i in facts["inputs"]] == ["image", "mask"] and len(facts["outputs"]) == 1


# code-loader's load_model accepts a Keras model or an onnxruntime session only: a project returning a TorchScript
# module or a TFLite interpreter also gets TL607 (tests/model/test_model_unsupported.py), a root cause of its own
REJECTED_BY_THE_SDK = {"tflite", "trace", "script"}


def besides_tl607(diagnostics: list[dict], fmt: str) -> list[dict]:
    """The diagnostics other than TL607, which must be there exactly once for the formats the SDK rejects."""
    tl607 = [d for d in diagnostics if d["code"] == "TL607"]
    assert len(tl607) == (1 if fmt in REJECTED_BY_THE_SDK else 0), diagnostics
    return [d for d in diagnostics if d["code"] != "TL607"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_prediction_count_through_the_cli(fmt: str, python: str, models: Path, tmp_path: Path, capsys):
    """TL602 when one PredictionTypeHandler is declared for a two-output model, at the handler list;
    nothing with one output."""
    root = framework_project(tmp_path / "bad", fmt, "two", models)
    [d] = besides_tl607(check_json(root, python, capsys), fmt)
    assert d["code"] == "TL602" and d["severity"] == "error", d
    assert "1 prediction type(s) are declared but" in d["message"] and "has 2 output(s)" in d["message"], d
    line = (root / "leap_integration.py").read_text().split("\n")[d["line"] - 1]
    assert line[d["column"] - 1:d["end_column"] - 1] == "[PredictionTypeHandler('classes', LABELS, channel_dim=-1)]"
    assert besides_tl607(check_json(framework_project(tmp_path / "good", fmt, "one", models), python, capsys), fmt) == []


@pytest.mark.parametrize("fmt", ["keras", "h5", "tflite"])
def test_labels_size_through_the_cli(fmt: str, python: str, models: Path, tmp_path: Path, capsys):
    """TL603 from the output shape these formats keep (TorchScript keeps none: no TL603 there)."""
    [d] = besides_tl607(check_json(framework_project(tmp_path, fmt, "four", models), python, capsys), fmt)
    assert d["code"] == "TL603" and "has size 4 on channel_dim=-1" in d["message"], d


@pytest.mark.parametrize("fmt", ["keras", "h5"])
def test_keras_feed_count_through_the_cli(fmt: str, python: str, models: Path, tmp_path: Path, capsys):
    root = framework_project(tmp_path, fmt, "one", models)
    entry = root / "leap_integration.py"
    entry.write_text(entry.read_text().replace("pred = model(image)[0]", "pred = model([image, image])[0]"))
    [d] = check_json(root, python, capsys)
    assert d["code"] == "TL601" and "takes 1 input(s) (`image`) but the integration test passes 2" in d["message"]


def test_the_sdk_raises_the_keras_prediction_count(python: str, models: Path, tmp_path: Path):
    """The oracle: the real code-loader in the venv, with the Keras model (torch backend), fails as TL602 says.
    (Its clean twin cannot run there: code-loader calls .numpy() on the torch backend's outputs, which
    need a gradient; with TensorFlow's backend it runs.)"""
    root = framework_project(tmp_path, "keras", "two", models)
    run = subprocess.run([python, "leap_integration.py"], cwd=root, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "KERAS_BACKEND": "torch", "TL_DISABLE_ANALYTICS": "1", "PYTHONPATH": ""})
    assert "number of declared prediction types(1) != number of model outputs(2)" in run.stdout + run.stderr


@pytest.mark.parametrize("fmt, library", [("keras", "library tensorflow (or keras) missing in"),
                                          ("h5", "library tensorflow (or keras) missing in"),
                                          ("tflite", "library tensorflow (or ai-edge-litert, or tflite-runtime) missing in"),
                                          ("trace", "library torch missing in")])
def test_missing_library_is_named(fmt: str, library: str, tmp_path: Path, capsys):
    """TL600 names the library the project interpreter lacks (here one started with -S: no site-packages)."""
    ext = FORMATS[fmt][0]
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / f"two{ext}").write_bytes(b"not read: the import fails first")
    root = framework_project(tmp_path / "p", fmt, "two", tmp_path / "models")
    bare = tmp_path / "bare-python"
    bare.write_text(f"#!/bin/sh\nexec {sys.executable} -S \"$@\"\n")
    bare.chmod(bare.stat().st_mode | stat.S_IEXEC)
    [d] = besides_tl607(check_json(root, str(bare), capsys), fmt)
    assert d["code"] == "TL600" and d["severity"] == "information", d
    assert f"models/two{ext} cannot be read: {library} " in d["message"], d["message"]


def test_keras_without_a_backend_says_so(python: str, models: Path, tmp_path: Path, capsys):
    """Keras 3 is there but no backend (no TensorFlow, torch or jax): TL600 says which libraries to add.
    The interpreter sees the venv's packages but torch (symlinks in a folder on its path)."""
    site = next(Path(python).parent.parent.glob("lib/python*/site-packages"))
    shown = tmp_path / "site"
    shown.mkdir()
    for p in site.iterdir():
        if not p.name.startswith(("torch", "functorch", "jax")):
            (shown / p.name).symlink_to(p)
    bare = tmp_path / "keras-only-python"
    bare.write_text(f"#!/bin/sh\nPYTHONPATH={shown} exec {sys.executable} -S \"$@\"\n")
    bare.chmod(bare.stat().st_mode | stat.S_IEXEC)
    [d] = check_json(framework_project(tmp_path / "p", "keras", "two", models), str(bare), capsys)
    assert d["code"] == "TL600" and f"keras is installed in {sys.executable} but cannot import a backend (No module " \
        "named 'tensorflow'): install tensorflow, or torch or jax and set KERAS_BACKEND." in d["message"], d["message"]
