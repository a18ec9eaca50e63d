"""Precision on the shapes real integrations have (issue 21): each class failed before its fix.

The projects are written here the way public integrations are written (several modules, a YAML config,
helpers, `length=` everywhere, metadata under `-> np.ndarray`...), not the way we would write them. Which of
these the real SDK accepts is proven in tests/oracle/test_warning_oracle.py; here: what tensorleap-ls says.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

from tensorleap_ls.core.engine.analysis import Analyzer
from tensorleap_ls.core.fixes import run_fixer
from tensorleap_ls.core.model import Severity

LEAP_YAML = "entryFile: {entry}\ninclude:\n  - '**/*.py'\n  - '**/*.yaml'\n  - requirements.txt\npythonVersion: py39\n"

DECO_HEAD = '''\
import os
from typing import List

import numpy as np
from code_loader.contract.datasetclasses import PredictionTypeHandler, PreprocessResponse
from code_loader.contract.enums import DataStateType, LeapDataType, MetricDirection
from code_loader.contract.visualizer_classes import LeapHorizontalBar, LeapImage
from code_loader.inner_leap_binder.leapbinder_decorators import (
    tensorleap_custom_loss, tensorleap_custom_metric, tensorleap_custom_visualizer, tensorleap_gt_encoder,
    tensorleap_input_encoder, tensorleap_integration_test, tensorleap_load_model, tensorleap_metadata,
    tensorleap_preprocess)
'''


def write(root: Path, files: dict[str, str], entry: str = "leap_integration.py") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    files = {"leap.yaml": LEAP_YAML.format(entry=entry), "requirements.txt": "code-loader==1.0.214\nnumpy\n", **files}
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def analyze(root: Path):
    (pa,) = Analyzer().analyze_path(str(root))
    return pa


def codes(pa, code: str) -> list:
    return [f for f in pa.findings if f.code == code]


# --- a legacy project: built-in losses, length= in every subset, three subsets without state -----------------
LEGACY_TABULAR = {
    "leap_binder.py": '''\
        import numpy as np
        import pandas as pd
        from code_loader import leap_binder
        from code_loader.contract.datasetclasses import PreprocessResponse
        from code_loader.contract.enums import LeapDataType

        from churn.data import load_frame, split_frame
        from churn.features import FEATURES


        def preprocess_func():
            df = load_frame()
            train, val, test = split_frame(df)
            return [PreprocessResponse(length=len(train), data=train),
                    PreprocessResponse(length=len(val), data=val),
                    PreprocessResponse(length=len(test), data=test)]


        def input_features(idx, subset):
            return subset.data[FEATURES].iloc[idx].values.astype(np.float32)


        def gt_churn(idx, subset):
            return np.array([subset.data['churn'].iloc[idx]], dtype=np.float32)


        def metadata_tenure(idx, subset):
            return float(subset.data['tenure'].iloc[idx])


        leap_binder.set_preprocess(preprocess_func)
        leap_binder.set_input(input_features, 'features')
        leap_binder.set_ground_truth(gt_churn, 'churn')
        leap_binder.set_metadata(metadata_tenure, 'tenure')
        leap_binder.add_prediction('churn', ['stay', 'leave'])
        ''',
    "churn/__init__.py": "",
    "churn/features.py": "FEATURES = ['tenure', 'monthly', 'total']\n",
    "churn/data.py": '''\
        import numpy as np
        import pandas as pd
        from code_loader.contract.datasetclasses import PreprocessResponse


        def load_frame():
            rng = np.random.default_rng(0)
            return pd.DataFrame({'tenure': rng.integers(0, 72, 60), 'monthly': rng.random(60),
                                 'total': rng.random(60), 'churn': rng.integers(0, 2, 60)})


        def split_frame(df):
            return df.iloc[:40], df.iloc[40:50], df.iloc[50:]


        def unlabeled_subset(df):
            return PreprocessResponse(length=len(df), data=df)
        ''',
}


def test_legacy_project_without_custom_loss_has_no_tl105(tmp_path):
    """Before: TL105 warning 'no custom loss'. The SDK pre-registers its built-in losses for leap_binder."""
    pa = analyze(write(tmp_path / "p", LEGACY_TABULAR, entry="leap_binder.py"))
    assert not codes(pa, "TL105"), [f.message for f in codes(pa, "TL105")]


def test_length_is_one_information_per_project_with_a_fix_for_every_site(tmp_path):
    """Before: one TL219 warning per `length=` (four here, in two modules). After: one information whose fix
    rewrites all four; the fixed project parses and has no TL219 left."""
    root = write(tmp_path / "p", LEGACY_TABULAR, entry="leap_binder.py")
    pa = analyze(root)
    (f,) = codes(pa, "TL219")
    assert f.effective_severity is Severity.INFORMATION
    assert len(f.related) == 3 and "4 places" in f.message
    (fix,) = run_fixer(f, pa)
    assert len(fix.edits) == 4 and {Path(e.span.path).name for e in fix.edits} == {"leap_binder.py", "data.py"}
    by_file: dict[str, list] = {}
    for e in fix.edits:
        by_file.setdefault(e.span.path, []).append(e)
    for path, edits in by_file.items():
        lines = Path(path).read_text().split("\n")
        for e in sorted(edits, key=lambda e: (e.span.line, e.span.col), reverse=True):
            line = lines[e.span.line]
            lines[e.span.line] = line[:e.span.col] + e.new_text + line[e.span.end_col:]
        Path(path).write_text("\n".join(lines))
        ast.parse("\n".join(lines))
    assert "sample_ids=list(range(len(train))), sample_id_type=int" in (root / "leap_binder.py").read_text()
    assert not codes(analyze(root), "TL219")


def test_state_not_set_is_one_information_per_preprocess(tmp_path):
    """Before: TL232 on each of the three subsets of one preprocess."""
    pa = analyze(write(tmp_path / "p", LEGACY_TABULAR, entry="leap_binder.py"))
    in_preprocess = [f for f in codes(pa, "TL232") if f.span.path.endswith("leap_binder.py")]
    assert len(in_preprocess) == 1 and len(in_preprocess[0].related) == 2, [f.span for f in codes(pa, "TL232")]


# --- a decorator project: names shared across kinds, numpy-scalar metadata, positional dtypes ----------------
SEG = {
    "leap_integration.py": DECO_HEAD + '''\
from seg.config import CFG, CLASSES
from seg.data import list_scenes, load_image, load_mask, make_canvas


@tensorleap_preprocess()
def preprocess() -> List[PreprocessResponse]:
    scenes = list_scenes(CFG['data_root'])
    n = len(scenes) // 2
    return [PreprocessResponse(sample_ids=scenes[:n], data={'scenes': scenes[:n]}, state=DataStateType.training),
            PreprocessResponse(sample_ids=scenes[n:], data={'scenes': scenes[n:]}, state=DataStateType.validation)]


@tensorleap_input_encoder('image', channel_dim=-1)
def image_encoder(sample_id: str, preprocess: PreprocessResponse) -> np.ndarray:
    img = load_image(sample_id)
    return np.asarray(img, np.float32) / 255.


@tensorleap_gt_encoder('mask')
def mask_encoder(sample_id: str, preprocess: PreprocessResponse) -> np.ndarray:
    out = np.zeros((CFG['size'], CFG['size'], len(CLASSES)), np.float32)
    out[..., 0] = load_mask(sample_id)
    return out


@tensorleap_gt_encoder('weights')
def weights_encoder(sample_id: str, preprocess: PreprocessResponse) -> np.ndarray:
    return np.full((len(CLASSES),), 1.0 / len(CLASSES), np.float32)


@tensorleap_gt_encoder('canvas')
def canvas_encoder(sample_id: str, preprocess: PreprocessResponse) -> np.ndarray:
    return np.array(make_canvas(sample_id), np.float32)


@tensorleap_metadata('brightness')
def brightness(sample_id: str, preprocess: PreprocessResponse) -> np.ndarray:
    return np.mean(load_image(sample_id))


@tensorleap_metadata('mask_area')
def mask_area(sample_id: str, preprocess: PreprocessResponse) -> np.ndarray:
    return np.sum(load_mask(sample_id))


@tensorleap_metadata('contrast')
def contrast(sample_id: str, preprocess: PreprocessResponse) -> np.ndarray:
    img = load_image(sample_id).astype(np.float32)
    return np.linalg.norm(img - img.mean()) / img.size


@tensorleap_custom_visualizer('image', LeapDataType.Image)
def image_visualizer(image: np.ndarray) -> LeapImage:
    return LeapImage((image[0] * 255).astype(np.uint8))


@tensorleap_custom_loss('pixel_ce')
def pixel_ce(mask: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    p = np.clip(prediction, 1e-6, 1.0)
    return -(mask * np.log(p)).sum(axis=(1, 2, 3))


@tensorleap_load_model([PredictionTypeHandler('seg', CLASSES, channel_dim=-1)])
def load_model():
    import onnxruntime as ort
    return ort.InferenceSession(os.path.join(os.path.dirname(__file__), 'model.onnx'))


@tensorleap_integration_test()
def integration_test(sample_id, subset):
    if subset.state == DataStateType.training:
        image = image_encoder(sample_id, subset)
    else:
        image = image_encoder(sample_id, subset)
    mask = mask_encoder(sample_id, subset)
    weights_encoder(sample_id, subset)
    canvas_encoder(sample_id, subset)
    pred = load_model().run(None, {'image': image})[0]
    image_visualizer(image)
    pixel_ce(mask, pred)
    brightness(sample_id, subset)
    mask_area(sample_id, subset)
    contrast(sample_id, subset)
''',
    "seg/__init__.py": "",
    "seg/config.py": '''\
        import os
        import yaml

        with open(os.path.join(os.path.dirname(__file__), 'config.yaml')) as f:
            CFG = yaml.safe_load(f)
        CLASSES = CFG['classes']
        ''',
    "seg/config.yaml": "data_root: /data/seg\nsize: 32\nclasses: [background, road]\n",
    "seg/data.py": '''\
        import numpy as np


        def list_scenes(root):
            return [f'scene_{i:03d}' for i in range(8)]


        def load_image(sample_id):
            rng = np.random.default_rng(int(sample_id[-3:]))
            return rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)


        def load_mask(sample_id):
            return (load_image(sample_id)[..., 0] > 127).astype(np.float32)


        def make_canvas(sample_id):
            return [[0.0] * 4 for _ in range(4)]
        ''',
}


def test_name_shared_across_kinds_is_a_hint(tmp_path):
    """Before: TL121 warning for visualizer `image` beside input `image`; the SDK checks names within a kind."""
    pa = analyze(write(tmp_path / "p", SEG))
    (f,) = codes(pa, "TL121")
    assert f.effective_severity is Severity.HINT


def test_metadata_returning_numpy_scalars_under_an_ndarray_annotation(tmp_path):
    """Before: TL214 on `-> np.ndarray` over np.mean / np.sum / np.linalg.norm (numpy scalars, accepted)."""
    pa = analyze(write(tmp_path / "p", SEG))
    assert not codes(pa, "TL214"), [f.message for f in codes(pa, "TL214")]


def test_positional_dtype_is_read(tmp_path):
    """Before: TL223 'float64' on np.zeros(shape, np.float32), np.full(s, v, np.float32), np.array(x, np.float32)
    and np.asarray(img, np.float32) / 255."""
    pa = analyze(write(tmp_path / "p", SEG))
    assert not codes(pa, "TL223"), [f.message for f in codes(pa, "TL223")]


def test_subset_state_in_the_integration_test_is_not_data_access(tmp_path):
    """Before: TL304 on `subset.state`: the mapping pass supplies a real PreprocessResponse with a state."""
    pa = analyze(write(tmp_path / "p", SEG))
    assert not codes(pa, "TL304"), [f.message for f in codes(pa, "TL304")]


def test_seg_project_has_no_warning(tmp_path):
    pa = analyze(write(tmp_path / "p", SEG))
    warnings = [(f.code, f.message) for f in pa.findings if f.effective_severity <= Severity.WARNING]
    assert warnings == []


# --- encoder dtypes through the idioms real encoders use ------------------------------------------------------
def _encoder_project(tmp_path: Path, body: str, helpers: str = "") -> Path:
    return write(tmp_path / "p", {
        "leap_integration.py": DECO_HEAD + "from PIL import Image\nfrom helpers import *\n\n\n"
        "@tensorleap_input_encoder('x', channel_dim=-1)\ndef encode(sample_id: str, preprocess: PreprocessResponse):\n"
        + textwrap.indent(textwrap.dedent(body), "    "),
        "helpers.py": "import numpy as np\n\n\n" + textwrap.dedent(helpers),
    })


def _dtype_of(tmp_path, body, helpers=""):
    pa = analyze(_encoder_project(tmp_path, body, helpers))
    found = codes(pa, "TL223")
    return found[0].data.dtype if found else None


def test_dtype_of_a_pil_image(tmp_path):
    assert _dtype_of(tmp_path, "img = Image.open(preprocess.data[sample_id]).convert('RGB')\nreturn np.asarray(img)\n") \
        == "uint8"


def test_dtype_after_division_by_a_python_float(tmp_path):
    body = "img = np.asarray(Image.open(preprocess.data[sample_id]))\nreturn img / 255.\n"
    assert _dtype_of(tmp_path, body) == "float64"
    ok = "img = np.asarray(Image.open(preprocess.data[sample_id])).astype(np.float32)\nreturn img / 255.\n"
    assert _dtype_of(tmp_path / "ok", ok) is None


def test_dtype_of_token_ids_through_np_pad(tmp_path):
    body = ("ids = np.array(preprocess.data['tokenizer'].encode(preprocess.data['texts'][sample_id]))\n"
            "return np.pad(ids, (0, 64 - len(ids)))\n")
    assert _dtype_of(tmp_path, body) == "int64"


def test_dtype_of_a_helper_of_the_closure(tmp_path):
    helpers = "def blank_canvas(size):\n    canvas = np.zeros((size, size, 3))\n    return canvas\n"
    assert _dtype_of(tmp_path, "return blank_canvas(32)\n", helpers) == "float64"
    ok = "def blank_canvas(size):\n    return np.zeros((size, size, 3), np.float32)\n"
    assert _dtype_of(tmp_path / "ok", "return blank_canvas(32)\n", ok) is None


# --- a package __init__ re-exporting functions over submodules of the same name -------------------------------
def test_reexported_function_over_its_submodule(tmp_path):
    """Before: TL303 on `synth_metadata(...)` in the test and TL310 on the decorated function: the name was
    taken for the submodule `synth/synth_metadata.py`, but `from .synth_metadata import synth_metadata` in
    the package rebinds it to the function."""
    files = dict(SEG)
    files["synth/__init__.py"] = "from .synth_metadata import synth_metadata\nfrom .synth_viz import synth_viz\n"
    files["synth/synth_metadata.py"] = (DECO_HEAD + "\n\n@tensorleap_metadata('synth')\n"
                                        "def synth_metadata(sample_id: str, preprocess: PreprocessResponse):\n"
                                        "    return {'synthetic': sample_id.startswith('synth'), 'len': len(sample_id)}\n")
    files["synth/synth_viz.py"] = (DECO_HEAD + "\n\n@tensorleap_custom_visualizer('bars', LeapDataType.HorizontalBar)\n"
                                   "def synth_viz(prediction: np.ndarray) -> LeapHorizontalBar:\n"
                                   "    return LeapHorizontalBar(prediction[0, 0, 0].astype(np.float32), ['a', 'b'])\n")
    files["leap_integration.py"] = files["leap_integration.py"].replace(
        "from seg.config import", "from synth import synth_metadata, synth_viz\nfrom seg.config import").replace(
        "    contrast(sample_id, subset)\n", "    contrast(sample_id, subset)\n    synth_metadata(sample_id, subset)\n"
        "    synth_viz(pred)\n")
    pa = analyze(write(tmp_path / "p", files))
    assert not codes(pa, "TL303") and not codes(pa, "TL310"), [(f.code, f.message) for f in pa.findings]
    assert {"synth", "bars"} <= {b.name for b in pa.bindings}


def test_empty_secret_manager_id_is_a_legacy_key(tmp_path):
    """Before: TL402 warning 'unknown key' on the `secretManagerId: ""` of older leap CLIs."""
    root = write(tmp_path / "p", SEG)
    (root / "leap.yaml").write_text((root / "leap.yaml").read_text() + 'secretManagerId: ""\n')
    pa = analyze(root)
    assert not codes(pa, "TL402") and codes(pa, "TL410")


# --- distributions: code_loader.helpers, what provides an import, what a declared dependency pulls in --------
DETECTION = {
    "leap_integration.py": DECO_HEAD + '''\
import pkg_resources
from code_loader.helpers.detection.yolo.utils import reshape_output_list
from code_loader.helpers.detection.yolo.loss import YoloLoss

from det.config import CFG

VERSION = pkg_resources.get_distribution('numpy').version


@tensorleap_preprocess()
def preprocess() -> List[PreprocessResponse]:
    ids = [f'img_{i}' for i in range(CFG['n'])]
    return [PreprocessResponse(sample_ids=ids[:4], data={}, state=DataStateType.training),
            PreprocessResponse(sample_ids=ids[4:], data={}, state=DataStateType.validation)]


@tensorleap_input_encoder('image', channel_dim=-1)
def image(sample_id: str, preprocess: PreprocessResponse) -> np.ndarray:
    return np.zeros((64, 64, 3), np.float32)
''',
    "det/__init__.py": "",
    "det/config.py": "CFG = {'n': 8}\n",
}


def _env_analyzer(*extra_sites: Path):
    from tensorleap_ls.core.sdk.env import Environment, environment

    own = environment(None)
    return Analyzer(env_for=lambda _root: Environment(own.sites + tuple(map(str, extra_sites)), own.sdk))


def _fake_helpers_site(tmp_path: Path) -> Path:
    """A site-packages folder holding code-loader-helpers the way pip installs it (RECORD + METADATA)."""
    site = tmp_path / "site"
    pkg = site / "code_loader" / "helpers" / "detection" / "yolo"
    pkg.mkdir(parents=True)
    for f in ("utils.py", "loss.py"):
        (pkg / f).write_text("def reshape_output_list(x):\n    return x\n\n\nclass YoloLoss:\n    pass\n")
    info = site / "code_loader_helpers-1.0.35.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: code-loader-helpers\nVersion: 1.0.35\n"
                                   "Requires-Dist: numpy\n")
    (info / "RECORD").write_text("code_loader/helpers/detection/yolo/utils.py,,\ncode_loader/helpers/detection/yolo/loss.py,,\n"
                                 "code_loader_helpers-1.0.35.dist-info/METADATA,,\n")
    return site


def test_code_loader_helpers_declared_but_not_installed_is_an_environment_warning(tmp_path):
    """Before: TL420 error 'Module code_loader.helpers... is not in code-loader 1.0.214' on a project that
    declares code-loader-helpers. After: TL422 (warning) with the pip line; no error."""
    root = write(tmp_path / "p", {**DETECTION, "requirements.txt": "code-loader==1.0.214\ncode-loader-helpers\nnumpy\n"})
    (pa,) = _env_analyzer().analyze_path(str(root))
    assert not codes(pa, "TL420"), [f.message for f in codes(pa, "TL420")]
    hits = codes(pa, "TL422")
    assert hits and all(f.data.install == "pip install code-loader-helpers" for f in hits)
    assert all(f.effective_severity is Severity.WARNING for f in hits)


def test_code_loader_helpers_declared_and_installed_is_silent(tmp_path):
    root = write(tmp_path / "p", {**DETECTION, "requirements.txt": "code-loader==1.0.214\ncode-loader-helpers\nnumpy\n"})
    (pa,) = _env_analyzer(_fake_helpers_site(tmp_path)).analyze_path(str(root))
    assert not codes(pa, "TL420") and not codes(pa, "TL422"), [(f.code, f.message) for f in pa.findings]


def test_code_loader_helpers_declared_nowhere_stays_an_error_naming_the_distribution(tmp_path):
    root = write(tmp_path / "p", DETECTION)
    (pa,) = _env_analyzer().analyze_path(str(root))
    hits = codes(pa, "TL420")
    assert hits and all("code-loader-helpers" in f.message for f in hits)
    assert all(f.effective_severity is Severity.ERROR for f in hits)


def test_pkg_resources_comes_from_setuptools(tmp_path):
    """Before: TL408 advising `pkg-resources` (no such distribution)."""
    root = write(tmp_path / "p", {**DETECTION, "requirements.txt": "code-loader==1.0.214\ncode-loader-helpers\n"})
    (pa,) = _env_analyzer(_fake_helpers_site(tmp_path)).analyze_path(str(root))
    (f,) = codes(pa, "TL408")
    assert f.data.distribution == "setuptools" and "pkg-resources" not in f.message


def test_module_a_declared_dependency_pulls_in(tmp_path):
    """Before: TL408 for `import google.protobuf` beside `onnx` (onnx requires protobuf). After: silent; an
    import nothing declared brings (onnx beside onnxruntime only) is still reported."""
    files = {**SEG, "leap_integration.py": SEG["leap_integration.py"].replace(
        "import numpy as np\n", "import numpy as np\nfrom google.protobuf import text_format\n", 1),
        "requirements.txt": "code-loader==1.0.214\nnumpy\npyyaml\nonnx\nonnxruntime\n"}
    (pa,) = _env_analyzer().analyze_path(str(write(tmp_path / "p", files)))
    assert not codes(pa, "TL408"), [f.message for f in codes(pa, "TL408")]
    files["requirements.txt"] = "code-loader==1.0.214\nnumpy\npyyaml\nonnxruntime\n"
    files["leap_integration.py"] = files["leap_integration.py"].replace("import numpy as np\n", "import numpy as np\nimport onnx\n", 1)
    (pa,) = _env_analyzer().analyze_path(str(write(tmp_path / "q", files)))
    assert [f.data.distribution for f in codes(pa, "TL408")] == ["onnx"]


def test_without_an_environment_tl408_stays_silent(tmp_path):
    files = {**SEG, "leap_integration.py": SEG["leap_integration.py"].replace("import numpy as np\n", "import numpy as np\nimport onnx\n", 1)}
    pa = analyze(write(tmp_path / "p", files))  # Analyzer() without an environment
    assert not codes(pa, "TL408")


# --- the bundle: modules the platform never loads, one finding per module ------------------------------------
def _vendored(tmp_path: Path, include: str) -> Path:
    files = dict(SEG)
    files["leap.yaml"] = f"entryFile: leap_integration.py\ninclude:\n{include}pythonVersion: py39\n"
    files["vendor/__init__.py"] = ""
    files["vendor/detlib/__init__.py"] = "from .boxes import nms\n"
    files["vendor/detlib/boxes.py"] = '''\
        import numpy as np


        def nms(boxes, scores, thr=0.5):
            order = np.argsort(-scores)
            return order[:1]


        def nms_gpu(boxes, scores, thr=0.5):
            from .backends.torch_ops import batched_nms  # optional back-end, never used by the integration
            return batched_nms(boxes, scores, thr)
        '''
    files["vendor/detlib/backends/__init__.py"] = "BACKENDS = ['torch']\n"
    files["vendor/detlib/backends/torch_ops.py"] = "def batched_nms(b, s, t):\n    import torch\n    return b\n"
    files["leap_integration.py"] = files["leap_integration.py"].replace(
        "from seg.config import", "from vendor.detlib import nms\nfrom seg.config import")
    return write(tmp_path / "p", files)


def test_module_imported_only_in_an_unreached_function_is_not_required_in_the_bundle(tmp_path):
    """Before: TL405 (error) for vendor/detlib/backends/*, imported only inside `nms_gpu`, which nothing the
    platform runs calls; TL408 already counted only import-time imports."""
    include = "  - leap_integration.py\n  - seg/*\n  - vendor/__init__.py\n  - vendor/detlib/*.py\n  - requirements.txt\n"
    pa = analyze(_vendored(tmp_path, include))
    assert not codes(pa, "TL405"), [f.message for f in codes(pa, "TL405")]


def test_module_left_out_is_one_error_at_its_import_with_leap_yaml_related(tmp_path):
    """Before: two TL405 per module (one in leap.yaml, one at the import)."""
    include = "  - leap_integration.py\n  - seg/*\n  - vendor/__init__.py\n  - requirements.txt\n"
    root = _vendored(tmp_path, include)
    pa = analyze(root)
    hits = [f for f in codes(pa, "TL405") if f.data.path == "vendor/detlib/boxes.py"]
    assert len(hits) == 1 and hits[0].span.path == str(root / "vendor/detlib/__init__.py")
    assert [Path(s.path).name for s, _ in hits[0].related] == ["leap.yaml"]
    assert not [f for f in codes(pa, "TL405") if "backends" in f.data.path]


def test_module_imported_in_a_registered_function_body_is_still_required(tmp_path):
    include = "  - leap_integration.py\n  - seg/*\n  - vendor/__init__.py\n  - vendor/detlib/*.py\n  - requirements.txt\n"
    root = _vendored(tmp_path, include)
    entry = root / "leap_integration.py"
    entry.write_text(entry.read_text().replace(
        "    img = load_image(sample_id)\n",
        "    from vendor.detlib.backends import torch_ops  # lazily, in a registered encoder\n"
        "    img = load_image(sample_id)\n"))
    hits = codes(analyze(root), "TL405")
    assert sorted(f.data.path for f in hits) == ["vendor/detlib/backends/__init__.py",
                                                  "vendor/detlib/backends/torch_ops.py"]


# --- registrations under a config branch, and in loops over a config list ------------------------------------
def test_registrations_under_a_config_branch_follow_the_yaml(tmp_path):
    """Before: TL230 and TL310 on an encoder registered under `if MODEL_TYPE == 'dense':` while the YAML the
    config function reads at import says `conv` (the binding does not exist)."""
    files = dict(SEG)
    files["seg/config.py"] = '''\
        import os
        import yaml


        def load_config():
            config_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'config.yaml')
            with open(config_path, 'r') as f:
                config = yaml.safe_load(f)
            return config


        CFG = load_config()
        CLASSES = CFG['classes']
        MODEL_TYPE = CFG['head']
        '''
    files["seg/config.yaml"] = SEG["seg/config.yaml"] + "head: conv\n"
    files["leap_integration.py"] = SEG["leap_integration.py"].replace(
        "from seg.config import CFG, CLASSES", "from seg.config import CFG, CLASSES, MODEL_TYPE").replace(
        "@tensorleap_metadata('brightness')", "if MODEL_TYPE == 'dense':\n"
        "    @tensorleap_input_encoder('flat')\n"
        "    def flat_encoder(sample_id: str, preprocess: PreprocessResponse) -> np.ndarray:\n"
        "        return load_image(sample_id).reshape(-1).astype(np.float32)\n\n\n"
        "@tensorleap_metadata('brightness')")
    pa = analyze(write(tmp_path / "p", files))
    assert "flat" not in {b.name for b in pa.bindings}
    assert not codes(pa, "TL230") and not codes(pa, "TL310"), [(f.code, f.message) for f in pa.findings]
    files["seg/config.yaml"] = SEG["seg/config.yaml"] + "head: dense\n"
    pa = analyze(write(tmp_path / "q", files))
    assert "flat" in {b.name for b in pa.bindings} and codes(pa, "TL230")


def test_registrations_in_a_loop_over_a_config_list():
    """Before: one visualizer without a name for `for name in CONFIG['sig_names']: set_visualizer(globals()[...])`
    (the config function was not read) and a false TL120 for the input under `if MODEL_TYPE == 'dense'`.
    tests/oracle/test_real_style.py proves these bindings equal what the SDK registers."""
    root = Path(__file__).resolve().parents[1] / "fixtures" / "real_style" / "audio_config_branches"
    pa = analyze(root)
    names = sorted((b.kind.value, b.name, b.function) for b in pa.bindings if b.kind.value in ("input", "visualizer"))
    assert names == [("input", "wave", "input_conv"), ("visualizer", "waveform_envelope", "display_envelope"),
                     ("visualizer", "waveform_raw", "display_raw")]
    assert not [f for f in pa.findings if f.effective_severity <= Severity.WARNING]


# --- what registered functions hand back to the SDK -----------------------------------------------------------
NER = {
    "leap_integration.py": DECO_HEAD + '''\
from code_loader.contract.visualizer_classes import LeapText, LeapGraph

TAGS = ['O', 'PER', 'LOC']


@tensorleap_custom_visualizer('span_text', LeapDataType.Text)
def span_text(prediction: np.ndarray) -> LeapText:
    start = int(prediction[0].argmax())
    end = start + 3
    return LeapText([start, end])


@tensorleap_custom_visualizer('tag_text', LeapDataType.Text)
def tag_text(prediction: np.ndarray) -> LeapText:
    ids = prediction[0].argmax(-1)
    return LeapText([TAGS[i] for i in ids], heatmap=[1, 0, 1])


@tensorleap_custom_visualizer('tag_bar', LeapDataType.HorizontalBar)
def tag_bar(prediction: np.ndarray) -> LeapHorizontalBar:
    probs = np.array([0.2, 0.3, 0.5])
    return LeapHorizontalBar(probs, TAGS)


@tensorleap_custom_visualizer('loss_curve', LeapDataType.Graph)
def loss_curve(prediction: np.ndarray) -> LeapGraph:
    return LeapGraph([[0.1], [0.2]], x_range=[0, 1])


@tensorleap_custom_visualizer('ok_text', LeapDataType.Text)
def ok_text(prediction: np.ndarray) -> LeapText:
    start = int(prediction[0].argmax())
    return LeapText([str(start), f'{start + 3}', TAGS[0]], heatmap=[0.5, 1.0, 0.0])


@tensorleap_custom_loss('zero_loss')
def zero_loss(gt: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    return 0


@tensorleap_custom_loss('tf_loss')
def tf_loss(gt: np.ndarray, prediction: np.ndarray):
    import tensorflow as tf
    return tf.reduce_mean(tf.keras.losses.categorical_crossentropy(gt, prediction))


@tensorleap_custom_metric('mean_conf', direction=MetricDirection.Upward)
def mean_conf(prediction: np.ndarray) -> np.ndarray:
    return np.mean(prediction)


@tensorleap_custom_loss('torch_ok')
def torch_ok(gt: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    import torch
    return torch.nn.functional.mse_loss(torch.tensor(prediction), torch.tensor(gt), reduction='none').mean(-1).numpy()


@tensorleap_custom_metric('per_sample', direction=MetricDirection.Upward)
def per_sample(prediction: np.ndarray) -> np.ndarray:
    return np.mean(prediction, axis=-1)
''',
}


def test_leap_results_built_with_values_their_validation_rejects(tmp_path):
    """Before: nothing. LeapText of ints, a heatmap of ints, a float64 bar body, a list as graph data and a list
    as x_range all raise LeapValidationError when the visualizer runs (tests/oracle: TL234)."""
    pa = analyze(write(tmp_path / "p", NER))
    got = sorted((f.data.function, f.message.split(":")[0]) for f in codes(pa, "TL234"))
    assert got == [("loss_curve", "`LeapGraph(data=...)`"), ("loss_curve", "`LeapGraph(x_range=...)`"),
                   ("span_text", "`LeapText(data=...)`"), ("tag_bar", "`LeapHorizontalBar(body=...)`"),
                   ("tag_text", "`LeapText(heatmap=...)`")], got
    assert all(f.effective_severity is Severity.ERROR for f in codes(pa, "TL234"))


def test_decorated_loss_and_metric_returning_non_arrays(tmp_path):
    """Before: nothing. `return 0`, a TensorFlow tensor, a numpy scalar from a metric: the decorator raises."""
    pa = analyze(write(tmp_path / "p", NER))
    assert sorted(f.data.function for f in codes(pa, "TL235")) == ["mean_conf", "tf_loss", "zero_loss"]
