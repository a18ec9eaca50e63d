"""Every static diagnostic code, each with a failing and a passing fixture.

The fixtures are the two bundled example integrations (several modules, a YAML config, a labels
file, leap.yaml, requirements.txt): each is clean as shipped (the passing fixture), and each case
plants one realistic mistake in a copy (the failing fixture) and asserts the code, the file and the
line of the finding.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tensorleap_ls.core.engine.analysis import Analyzer
from tensorleap_ls.core.codes import CODES
from tensorleap_ls.core.sdk.env import environment

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DECO, LEGACY = "decorator_mnist", "legacy_mnist"
ENTRY = {DECO: "leap_integration.py", LEGACY: "leap_binder.py"}


@dataclass
class Case:
    code: str
    base: str
    file: str  # file to edit (root-relative)
    old: str  # text to replace (must occur)
    new: str
    where: str | None = None  # file expected to hold the finding (default: `file`)
    marker: str | None = None  # text on the finding's line (None: any line)
    severity: str | None = None
    extra: tuple = ()  # more (file, old, new) edits of the same mistake


SPR_IMPORT = "from code_loader.contract.datasetclasses import SamplePreprocessResponse\n"
# Whole functions a slip deletes (the import that names them stays).
GT_ENCODER = """@tensorleap_gt_encoder('classes')
def gt_encoder(idx: int, preprocess: PreprocessResponse) -> np.ndarray:
    label = preprocess.data['labels'][idx - preprocess.data['offset']]
    return np.eye(len(LABELS), dtype=np.float32)[label]


"""
ENCODE_LABEL = """def encode_label(sample_id: str, preprocess: PreprocessResponse) -> np.ndarray:
    return np.eye(len(LABELS), dtype=np.float32)[preprocess.data['labels'][_index(sample_id)]]


"""


CASES = [
    # 1xx structure
    Case("TL101", DECO, ENTRY[DECO], "@tensorleap_preprocess()\n", ""),
    Case("TL102", LEGACY, ENTRY[LEGACY], "leap_binder.set_input(encode_image, 'image', channel_dim=-1)\n", ""),
    Case("TL103", DECO, ENTRY[DECO], "@tensorleap_load_model([PredictionTypeHandler('classes', LABELS, channel_dim=-1)])\n", ""),
    Case("TL103", LEGACY, ENTRY[LEGACY], "leap_binder.add_prediction('classes', LABELS, channel_dim=-1)\n", ""),
    Case("TL104", DECO, ENTRY[DECO], "@tensorleap_integration_test()\n", ""),
    # a legacy script without a test, when the release requirements.txt installs refuses it (1.0.189 and later)
    Case("TL104", LEGACY, "requirements.txt", "code-loader==1.0.188", "code-loader==1.0.214", where=ENTRY[LEGACY]),
    # decorator style only: a legacy leap_binder has the SDK's built-in losses (tests/core/test_precision.py)
    Case("TL105", DECO, "mnist_tl/metrics.py", "@tensorleap_custom_loss('cross_entropy')\n", "", where=ENTRY[DECO]),
    Case("TL106", LEGACY, ENTRY[LEGACY], "leap_binder.set_ground_truth(encode_label, 'classes')\n", ""),
    Case("TL110", LEGACY, ENTRY[LEGACY], "set_input(encode_image,", "set_input(encode_imgae,", marker="encode_imgae"),
    Case("TL111", LEGACY, ENTRY[LEGACY], "set_input(encode_image,", "set_input('encode_image',", marker="'encode_image'"),
    # the import fails (ImportError at its line); the registration that names it is its related information
    Case("TL112", LEGACY, ENTRY[LEGACY], "from digits.dataset import LABELS\n",
         "from digits.dataset import LABELS, encode_depth\nleap_binder.set_input(encode_depth, 'depth')\n",
         marker="from digits.dataset import LABELS, encode_depth", severity="error"),
    Case("TL120", DECO, "mnist_tl/metrics.py", "tensorleap_custom_metric('accuracy'", "tensorleap_custom_metric('Accuracy'",
         marker="'Accuracy'", severity="error"),
    Case("TL120", LEGACY, ENTRY[LEGACY], "'prediction_bar', LeapDataType.HorizontalBar",
         "'image_visualizer', LeapDataType.HorizontalBar", marker="prediction_bar, 'image_visualizer'", severity="warning"),
    Case("TL121", DECO, "mnist_tl/visualizers.py", "('image_visualizer', LeapDataType.Image)", "('image', LeapDataType.Image)",
         marker="('image', LeapDataType.Image)"),
    Case("TL122", DECO, "mnist_tl/encoders.py", "tensorleap_gt_encoder('classes')", "tensorleap_gt_encoder('')", marker="('')"),
    Case("TL123", DECO, ENTRY[DECO], "@tensorleap_load_model(",
         "@tensorleap_preprocess()\ndef preprocess_again() -> List[PreprocessResponse]:\n    return preprocess()\n\n\n"
         "@tensorleap_load_model(", marker="@tensorleap_preprocess()"),
    Case("TL190", DECO, "mnist_tl/metrics.py", "def cross_entropy(gt", "def cross_entropy((gt", marker="def cross_entropy(("),
    # 2xx contracts
    Case("TL201", DECO, ENTRY[DECO], "def preprocess()", "def preprocess(data_root)", marker="def preprocess("),
    Case("TL202", DECO, "mnist_tl/encoders.py", "def input_encoder(idx: int, preprocess: PreprocessResponse)",
         "def input_encoder(preprocess: PreprocessResponse)", marker="def input_encoder("),
    Case("TL203", DECO, ENTRY[DECO], "def integration_test(idx, preprocess)", "def integration_test(idx)",
         marker="def integration_test("),
    Case("TL204", DECO, "mnist_tl/metrics.py", "def accuracy(gt: np.ndarray, prediction: np.ndarray)", "def accuracy()",
         marker="def accuracy("),
    Case("TL205", DECO, "mnist_tl/visualizers.py", "def prediction_bar(prediction: np.ndarray)",
         "def prediction_bar(prediction: np.ndarray, a: SamplePreprocessResponse, b: SamplePreprocessResponse)",
         marker="def prediction_bar(", extra=(("mnist_tl/visualizers.py", "import numpy as np\n",
                                               "import numpy as np\n" + SPR_IMPORT),)),
    Case("TL206", DECO, "mnist_tl/visualizers.py", "@tensorleap_custom_visualizer('image_visualizer', LeapDataType.Image)",
         "def image_heatmap(img: np.ndarray) -> np.ndarray:\n    return img[0, ..., 0]\n\n\n"
         "@tensorleap_custom_visualizer('image_visualizer', LeapDataType.Image, heatmap_function=image_heatmap)",
         marker="heatmap_function=image_heatmap"),
    Case("TL207", LEGACY, ENTRY[LEGACY], "leap_binder.add_prediction(",
         "leap_binder.set_custom_layer(accuracy, 'my_layer')\nleap_binder.add_prediction(", where="digits/functions.py",
         marker="def accuracy("),
    Case("TL210", DECO, "mnist_tl/encoders.py", "def input_encoder(idx: int, preprocess: PreprocessResponse) -> np.ndarray",
         "def input_encoder(idx: int, preprocess: PreprocessResponse) -> list", marker="-> list"),
    Case("TL211", DECO, "mnist_tl/visualizers.py", "def image_visualizer(image: np.ndarray) -> LeapImage:",
         "def image_visualizer(image: np.ndarray):", marker="def image_visualizer("),
    Case("TL212", DECO, "mnist_tl/visualizers.py", "import numpy as np\n",
         "from __future__ import annotations\n\nimport numpy as np\n", marker="from __future__ import annotations"),
    Case("TL213", DECO, "mnist_tl/visualizers.py", "def image_visualizer(image: np.ndarray) -> LeapImage:",
         "def image_visualizer(image: np.ndarray) -> LeapHorizontalBar:", marker="-> LeapHorizontalBar"),
    Case("TL214", DECO, "mnist_tl/encoders.py", "def metadata_label(idx: int, preprocess: PreprocessResponse) -> str:",
         "def metadata_label(idx: int, preprocess: PreprocessResponse) -> list:", marker="-> list"),
    Case("TL215", DECO, "mnist_tl/visualizers.py", "('image_visualizer', LeapDataType.Image)", "('image_visualizer', 'image')",
         marker="'image')"),
    Case("TL216", DECO, "mnist_tl/encoders.py", "channel_dim=-1", "channel_dim=0", marker="channel_dim=0", severity="error"),
    Case("TL216", LEGACY, ENTRY[LEGACY], "channel_dim=-1)\nleap_binder.set_ground", "channel_dim=-2)\nleap_binder.set_ground",
         marker="channel_dim=-2", severity="warning"),
    Case("TL217", DECO, ENTRY[DECO], "state=state))", "state='training'))", marker="state='training'"),
    Case("TL218", LEGACY, "digits/functions.py", "sample_ids=[f'{state.value}_{i}' for i in range(n)]",
         "sample_ids=list(range(offset, offset + n))", marker="sample_ids=list(range"),
    Case("TL219", DECO, ENTRY[DECO], "sample_id_type=int,", "sample_id_type=int, length=n,", marker="length=n"),
    Case("TL220", LEGACY, ENTRY[LEGACY], "leap_binder.set_visualizer(image_visualizer",
         "leap_binder.set_metadata(metadata_label, DatasetMetadataType.string, 'label_name')\n"
         "leap_binder.set_visualizer(image_visualizer", marker="DatasetMetadataType.string, 'label_name'",
         extra=((ENTRY[LEGACY], "from code_loader.contract.enums import LeapDataType, MetricDirection\n",
                 "from code_loader.contract.enums import DatasetMetadataType, LeapDataType, MetricDirection\n"),)),
    Case("TL221", LEGACY, "digits/functions.py", "    return out\n", "    return out[0], out[1]\n", marker="return out[0], out[1]",
         severity="hint"),
    Case("TL222", DECO, "mnist_tl/encoders.py", "    return np.eye(len(LABELS), dtype=np.float32)[label]",
         "    return None", marker="return None"),
    Case("TL223", DECO, "mnist_tl/encoders.py", "    return preprocess.data['images'][idx - preprocess.data['offset']].astype(np.float32)",
         "    return np.zeros((28, 28, 1))", marker="np.zeros((28, 28, 1))"),
    Case("TL223", DECO, "mnist_tl/encoders.py", "    return preprocess.data['images'][idx - preprocess.data['offset']].astype(np.float32)",
         "    image = preprocess.data['images'][idx - preprocess.data['offset']].astype(np.float64)\n    return image",
         marker="return image"),
    Case("TL224", DECO, "mnist_tl/encoders.py", "    return np.eye(len(LABELS), dtype=np.float32)[label]",
         "    return [float(label)]", marker="[float(label)]"),
    Case("TL225", DECO, "mnist_tl/encoders.py", "    return LABELS[int(preprocess.data['labels'][idx - preprocess.data['offset']])]",
         "    return [idx, LABELS[0]]", marker="[idx, LABELS[0]]"),
    Case("TL226", DECO, ENTRY[DECO], "@tensorleap_load_model([PredictionTypeHandler('classes', LABELS, channel_dim=-1)])",
         "@tensorleap_load_model(PredictionTypeHandler('classes', LABELS, channel_dim=-1))", marker="@tensorleap_load_model("),
    Case("TL227", DECO, "mnist_tl/metrics.py", "direction=MetricDirection.Upward", "direction='upward'", marker="'upward'"),
    Case("TL228", DECO, "mnist_tl/encoders.py", "@tensorleap_metadata('label')", "@tensorleap_metadata('label', metadata_type='int')",
         marker="metadata_type='int'", severity="hint"),
    # the labels as a tuple (LeapHorizontalBar asserts a list), and LeapText of int positions
    Case("TL234", DECO, "mnist_tl/visualizers.py", "labels=LABELS)", "labels=tuple(LABELS))", marker="tuple(LABELS)"),
    Case("TL235", DECO, "mnist_tl/metrics.py", "    return -(gt.astype(np.float32) * np.log(p)).sum(-1)",
         "    return float(-(gt.astype(np.float32) * np.log(p)).sum())", marker="return float("),
    Case("TL230", DECO, "mnist_tl/encoders.py", "@tensorleap_input_encoder('image', channel_dim=-1)",
         "@tensorleap_input_encoder('image')", marker="@tensorleap_input_encoder('image')"),
    Case("TL231", DECO, "mnist_tl/metrics.py", "@tensorleap_custom_metric('accuracy', direction=MetricDirection.Upward)",
         "@tensorleap_custom_metric('accuracy')", marker="@tensorleap_custom_metric('accuracy')"),
    Case("TL232", DECO, ENTRY[DECO], "\n                                            state=state))", "))",
         marker="PreprocessResponse("),
    Case("TL233", DECO, ENTRY[DECO], "PredictionTypeHandler('classes', LABELS, channel_dim=-1)",
         "PredictionTypeHandler('classes', LABELS)", marker="PredictionTypeHandler('classes', LABELS)"),
    # 3xx integration test body
    Case("TL301", DECO, ENTRY[DECO], "    cross_entropy(gt, prediction)", "    cross_entropy(gt, prediction * 2)",
         marker="prediction * 2"),
    # an attribute the mapping placeholder lacks: AttributeError in the mapping pass
    Case("TL302", DECO, ENTRY[DECO], "    prediction_bar(prediction)", "    prediction_bar(prediction.argmax(-1))",
         marker="prediction.argmax(-1)", severity="error"),
    Case("TL302", DECO, ENTRY[DECO], "    prediction_bar(prediction)", "    prediction_bar(prediction)\n"
         "    top = np.argmax(prediction)", marker="np.argmax(prediction)", severity="warning",
         extra=((ENTRY[DECO], "import os\n", "import os\n\nimport numpy as np\n"),)),
    Case("TL303", DECO, ENTRY[DECO], "    image_visualizer(image)\n",
         "    image_visualizer(normalise(image))\n", marker="normalise(image)",
         extra=((ENTRY[DECO], "@tensorleap_integration_test()", "import numpy as np\n\n\ndef normalise(x):\n    return np.clip(x, 0.0, 1.0)\n\n\n"
                 "@tensorleap_integration_test()"),)),
    Case("TL304", DECO, ENTRY[DECO], "    gt = gt_encoder(idx, preprocess)\n",
         "    gt = gt_encoder(idx, preprocess)\n    labels = preprocess.data['labels']\n", marker="preprocess.data['labels']"),
    Case("TL305", DECO, ENTRY[DECO], "    image = input_encoder(idx, preprocess)", "    image = input_encoder(idx, preprocess)[None]",
         marker="[None]"),
    Case("TL306", DECO, ENTRY[DECO], "    image_visualizer(image)", "    image_visualizer(image[0])", marker="image[0]"),
    Case("TL308", DECO, ENTRY[DECO], "    prediction_bar(prediction)", "    prediction_bar([prediction])",
         marker="[prediction]", severity="error"),
    Case("TL307", DECO, ENTRY[DECO], "{'image': image})[0]", "{'image': image})[0][0]", marker="[0][0]"),
    Case("TL310", DECO, ENTRY[DECO], "    metadata_stats(idx, preprocess)\n", "", where="mnist_tl/encoders.py",
         marker="def metadata_stats("),
    # 4xx leap.yaml and bundle
    Case("TL401", DECO, "leap.yaml", "  - requirements.txt\n", "\t- requirements.txt\n", marker="requirements.txt"),
    Case("TL402", DECO, "leap.yaml", "pythonVersion: py311\n", "pythonVersion: py311\nentry_file: leap_integration.py\n",
         marker="entry_file"),
    Case("TL403", DECO, "leap.yaml", "entryFile: leap_integration.py\n", ""),
    Case("TL404", DECO, "leap.yaml", "entryFile: leap_integration.py\n", "entryFile: leap_integraton.py\n",
         marker="leap_integraton.py"),
    Case("TL405", DECO, "leap.yaml", "  - mnist_tl/**/*.py\n", "", where=ENTRY[DECO], marker="from mnist_tl.config import"),
    Case("TL406", DECO, "leap.yaml", "  - mnist_tl/config.yaml\n", "", where="mnist_tl/config.py", marker="config.yaml"),
    Case("TL407", LEGACY, "requirements.txt", None, None, where="leap.yaml"),  # deleted below
    # an import run when the entry is imported (the one in load_model runs lazily: no TL408 for it)
    Case("TL408", DECO, ENTRY[DECO], "import os\n", "import os\nimport onnx\n", marker="import onnx"),
    Case("TL409", DECO, "leap.yaml", "pythonVersion: py311", "pythonVersion: 3.11", marker="pythonVersion"),
    Case("TL410", DECO, "leap.yaml", "pythonVersion: py311\n", "pythonVersion: py311\ncodeIntegrationId: 1234\n",
         marker="codeIntegrationId"),
    Case("TL411", DECO, "leap.yaml", None, "- leap_integration.py\n"),
    Case("TL412", DECO, "leap.yaml", "exclude:\n  - .git/**\n", "exclude: .git\n", marker="exclude: .git"),
    Case("TL413", DECO, "requirements.txt", "code-loader==1.0.214\n", "", severity="information"),
    # 6xx without a model file (tests/model/ has the rest): load_model returns what the SDK does not run
    Case("TL607", DECO, ENTRY[DECO], "    import onnxruntime as ort\n    return ort.InferenceSession(MODEL_PATH)",
         "    import onnx\n    return onnx.load(MODEL_PATH)", marker="onnx.load(MODEL_PATH)", severity="error"),
    # the slips (issue 25): a deleted function still imported, misspelled or unimported decorators, undefined names
    # where registered functions and the integration test run; each in both styles and in several files
    Case("TL112", DECO, "mnist_tl/encoders.py", GT_ENCODER, "", where=ENTRY[DECO],
         marker="from mnist_tl.encoders import gt_encoder", severity="error"),
    Case("TL112", LEGACY, "digits/functions.py", ENCODE_LABEL, "", where=ENTRY[LEGACY], marker="encode_label",
         severity="error"),
    Case("TL112", DECO, ENTRY[DECO], "from mnist_tl.metrics import accuracy, cross_entropy",
         "from mnist_tl.metrics import acuracy, cross_entropy", marker="acuracy", severity="error"),
    Case("TL113", DECO, "mnist_tl/encoders.py", "@tensorleap_input_encoder('image'", "@tensorleap_input_encodr('image'",
         marker="@tensorleap_input_encodr", severity="error"),
    Case("TL113", DECO, "mnist_tl/metrics.py", "@tensorleap_custom_metric('accuracy'",
         "@tensorleap_metadata('accuracy_meta')\ndef accuracy_meta(idx, preprocess) -> float:\n    return 1.0\n\n\n"
         "@tensorleap_custom_metric('accuracy'", marker="@tensorleap_metadata('accuracy_meta')", severity="error"),
    Case("TL113", LEGACY, ENTRY[LEGACY], "'image_visualizer', LeapDataType.Image)", "'image_visualizer', LeapDatatype.Image)",
         marker="LeapDatatype.Image", severity="error"),
    Case("TL114", DECO, "mnist_tl/encoders.py", "@tensorleap_input_encoder('image', channel_dim=-1)\n",
         "def normalize_factor(idx: int) -> float:\n    return 1.0\n\n\n@tensorleap_input_encoder('image', channel_dim=-1)\n",
         marker="normalise_factor", severity="error", extra=(("mnist_tl/encoders.py", "    return preprocess.data['images']",
                                                              "    scale = normalise_factor(idx)\n"
                                                              "    return scale * preprocess.data['images']"),)),
    Case("TL114", DECO, ENTRY[DECO], "    gt = gt_encoder(idx, preprocess)", "    gt = gt_encodr(idx, preprocess)",
         marker="gt_encodr(", severity="error"),
    Case("TL114", LEGACY, "digits/functions.py", "    return preprocess.data['images'][_index(sample_id)]",
         "    return preprocess.data['images'][_indx(sample_id)]", marker="_indx(sample_id)", severity="error"),
]


def _ids(c: Case) -> str:
    return f"{c.code}-{c.base.split('_')[0]}"


def _project(tmp_path: Path, base: str) -> Path:
    dst = tmp_path / base
    shutil.copytree(EXAMPLES / base, dst, ignore=shutil.ignore_patterns("__pycache__"))
    return dst


def analyzer() -> Analyzer:
    """As the CLI analyses a project without a venv of its own: against this interpreter's environment (its
    installed distributions tell TL408 what provides an import and what a declared dependency pulls in)."""
    return Analyzer(env_for=lambda _root: environment(None))


def _findings(root: Path):
    return [f for pa in analyzer().analyze_path(str(root)) for f in pa.findings]


def plant(tmp_path: Path, case: Case) -> Path:
    """A copy of the case's example with its mistake planted; returns the project root."""
    root = _project(tmp_path, case.base)
    target = root / case.file
    if case.old is None and case.new is None:
        target.unlink()
    elif case.old is None:
        target.write_text(case.new, encoding="utf-8")
    for file, old, new in ([] if case.old is None else [(case.file, case.old, case.new)]) + list(case.extra):
        text = (root / file).read_text(encoding="utf-8")
        assert old in text, f"fixture drifted: {old!r} not in {file}"
        (root / file).write_text(text.replace(old, new, 1), encoding="utf-8")
    return root


@pytest.mark.parametrize("base", [DECO, LEGACY])
def test_passing_fixtures_are_clean(tmp_path, base):
    """The passing fixture of every case: the example as shipped has no finding at all (the legacy one pins
    code-loader 1.0.188, the last release that pushes a legacy script without an integration test: TL421 says
    the local checks ran with the installed 1.0.214)."""
    findings = [f for f in _findings(_project(tmp_path, base)) if not (base == LEGACY and f.code == "TL421")]
    assert findings == [], [(f.code, f.message) for f in findings]


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_failing_fixture(tmp_path, case: Case):
    root = plant(tmp_path, case)
    findings = [f for f in _findings(root) if f.code == case.code]
    assert findings, f"{case.code} not reported"
    where = (root / (case.where or case.file)).resolve()
    hits = [f for f in findings if Path(f.span.path) == where]
    assert hits, f"{case.code} reported in {[f.span.path for f in findings]}, expected {where}"
    if case.marker is not None:
        lines = where.read_text(encoding="utf-8").split("\n")
        on_line = [f for f in hits if case.marker in "\n".join(lines[f.span.line:f.span.end_line + 1])]
        assert on_line, f"{case.code} at lines {[f.span.line + 1 for f in hits]}, none holds {case.marker!r}"
    if case.severity is not None:
        assert {f.effective_severity.label for f in hits} == {case.severity}
    assert all(f.message.strip() for f in hits)


def _advanced_codes() -> set[str]:
    """Codes a test of tests/advanced/test_registrars.py asserts (a Case, or a `f.code == "TL..."` check)."""
    import ast as _ast
    tree = _ast.parse((Path(__file__).resolve().parents[1] / "advanced" / "test_registrars.py").read_text())
    return {n.value for n in _ast.walk(tree) if isinstance(n, _ast.Constant) and isinstance(n.value, str)
            and n.value in CODES}


def test_every_static_code_has_a_case():
    static = {c for c in CODES if c[2] in "1234"}  # 6xx (model): tests/model/
    covered = {c.code for c in CASES} | {"TL191"}  # TL191 (undecodable file): tests/reliability/test_bad_input.py
    covered |= {"TL420", "TL421"}  # the installed SDK's release: tests/core/test_installed_sdk.py
    covered |= {"TL422"}  # a declared distribution not installed: tests/core/test_precision.py
    covered |= _advanced_codes()  # advanced registrars: tests/advanced/ (each fault also run through the SDK)
    assert static - covered == set()
