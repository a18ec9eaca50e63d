"""Model checks for a legacy project (``leap_binder.add_prediction``, no load_model). Its model is uploaded
apart and named nowhere the platform reads; the one trustworthy trace is its own local test, a script
beside the entry that imports it and loads the model (tests/fixtures/model/legacy/leap_custom_test.py,
in the style of the public legacy integrations). That model (an ONNX model built here) is compared
with the ``add_prediction`` calls by the same TL602/TL603 checks; where the model is not unambiguous,
nothing is said."""

from __future__ import annotations

import shutil
import stat
import subprocess
import sys
from pathlib import Path

from onnx_models import build
from tensorleap_ls.core.engine.analysis import Analyzer
from tensorleap_ls.runtime import model_info

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "model" / "legacy"
MODEL = "model/mnist_classifier.onnx"
LAST_PREDICTION = "leap_binder.add_prediction(name='classes', labels=LABELS, channel_dim=-1)"
EMBEDDING = "leap_binder.add_prediction(name='embedding', labels=['e0', 'e1'], channel_dim=-1)"


def legacy(tmp_path: Path, classes: int | None = 3, plant: list[tuple[str, str, str]] = ()) -> Path:
    """A copy of the legacy fixture with its model (``classes`` outputs; None: no model file) and
    ``plant``: (file, old text, new text)."""
    root = tmp_path / "legacy"
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns("__pycache__"))
    for name, old, new in plant:
        text = (root / name).read_text()
        assert text.count(old) == 1, old
        (root / name).write_text(text.replace(old, new))
    if classes is not None:
        build(root / MODEL, [("image", [None, 8, 8, 1], "float32")], [("classes", classes, classes)])
    return root


def tl6(root: Path, python: str = sys.executable) -> list:
    analyzer = Analyzer()
    [pa] = analyzer.analyze_path(str(root))
    model_info.load_facts(analyzer, pa, python, trusted=False)
    [pa] = analyzer.analyze_path(str(root))
    return [f for f in pa.findings if f.code.startswith("TL6")]


def text_at(f) -> str:
    line = Path(f.span.path).read_text().split("\n")[f.span.line]
    return line[f.span.col:f.span.end_col]


def test_more_predictions_than_model_outputs(tmp_path: Path):
    root = legacy(tmp_path, plant=[("leap_binder.py", LAST_PREDICTION, f"{LAST_PREDICTION}\n{EMBEDDING}")])
    [f] = tl6(root)
    assert f.code == "TL602" and f.effective_severity.label == "warning"
    assert f.span.path == str(root / "leap_binder.py") and text_at(f) == EMBEDDING
    assert ("2 prediction(s) are added with `add_prediction` but model/mnist_classifier.onnx (the model "
            "leap_custom_test.py loads) has 1 output(s) (`classes`)") in f.message


def test_fewer_predictions_than_model_outputs(tmp_path: Path):
    root = legacy(tmp_path, classes=None)
    build(root / MODEL, [("image", [None, 8, 8, 1], "float32")], [("classes", 3, 3), ("embedding", 2, 2)])
    [f] = tl6(root)
    assert f.code == "TL602" and text_at(f) == LAST_PREDICTION and "1 prediction(s)" in f.message


def test_labels_length_against_the_model_output(tmp_path: Path):
    [f] = tl6(legacy(tmp_path, classes=4))
    assert f.code == "TL603" and text_at(f) == "LABELS"
    assert "`classes` has 3 label(s) but output 0 (`classes`) of model/mnist_classifier.onnx (the model " \
           "leap_custom_test.py loads) has size 4" in f.message


def test_matching_legacy_project_is_clean_and_its_local_test_runs(tmp_path: Path):
    root = legacy(tmp_path)
    assert tl6(root) == []
    run = subprocess.run([sys.executable, "leap_custom_test.py"], cwd=root, capture_output=True, text=True, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "TL_DISABLE_ANALYTICS": "1"})
    assert "Successful!" in run.stdout and "Custom tests finished successfully" in run.stdout, run.stderr[-2000:]


def test_the_model_of_the_main_block_counts_too(tmp_path: Path):
    root = legacy(tmp_path, plant=[("leap_binder.py", LAST_PREDICTION, f"{LAST_PREDICTION}\n{EMBEDDING}\n\n"
                                    "if __name__ == '__main__':\n    import onnxruntime as ort\n"
                                    f"    sess = ort.InferenceSession('{MODEL}')\n    leap_binder.check()\n")])
    (root / "leap_custom_test.py").unlink()
    assert [f.code for f in tl6(root)] == ["TL602"]


def test_unreadable_legacy_model_names_the_library_at_the_local_test(tmp_path: Path):
    root = legacy(tmp_path)
    bare = tmp_path / "bare-python"
    bare.write_text(f"#!/bin/sh\nexec {sys.executable} -S \"$@\"\n")
    bare.chmod(bare.stat().st_mode | stat.S_IEXEC)
    [f] = tl6(root, str(bare))
    assert f.code == "TL600" and "library onnx (or onnxruntime) missing" in f.message
    assert f.span.path == str(root / "leap_custom_test.py") and text_at(f) == "os.path.join(dir_path, model_path)"


def test_no_model_is_guessed(tmp_path: Path):
    """Not the model: a second model the local test may load (a flag picks it), one an encoder of the
    integration loads, a lone model file with no local test, a model path that does not exist."""
    two = legacy(tmp_path / "two", classes=2, plant=[(
        "leap_custom_test.py", "    model_path = 'model/mnist_classifier.onnx'\n",
        "    model_path = 'model/mnist_classifier.onnx'\n    if os.environ.get('QUANTIZED'):\n"
        "        model_path = 'model/mnist_int8.onnx'\n")])
    build(two / "model" / "mnist_int8.onnx", [("image", [None, 8, 8, 1], "float32")], [("classes", 2, 2)])
    assert tl6(two) == []
    encoder = legacy(tmp_path / "encoder", classes=None, plant=[(
        "leap_binder.py", "def input_encoder(idx: int, preprocess: PreprocessResponse) -> np.ndarray:\n",
        "def input_encoder(idx: int, preprocess: PreprocessResponse) -> np.ndarray:\n    import onnxruntime as ort\n"
        "    ort.InferenceSession('model/features.onnx')\n")])
    (encoder / "leap_custom_test.py").unlink()
    build(encoder / "model" / "features.onnx", [("image", [None, 8, 8, 1], "float32")], [("f", 2, 2)])
    assert tl6(encoder) == []
    lone = legacy(tmp_path / "lone", classes=2)
    (lone / "leap_custom_test.py").unlink()
    assert tl6(lone) == []
    assert tl6(legacy(tmp_path / "missing", classes=None)) == []
