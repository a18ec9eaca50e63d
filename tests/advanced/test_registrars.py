"""Contracts of the advanced registrars: each fixture is accepted by the real code-loader 1.0.214 and
reported clean; each planted fault is rejected by the SDK (its own message asserted) and reported by
tensorleap-ls with the right code at the right line."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from advanced_projects import ENTRY, entry_of, findings, project, run_sdk  # noqa: E402

pytestmark = pytest.mark.dynamic

_LOAD = "@tensorleap_load_model("


def _before_load(code: str) -> tuple[str, str]:
    """Plants new top-level code just before load_model."""
    return _LOAD, code + "\n\n" + _LOAD


_STEP = ("@tensorleap_autoregressive_step()\n"
         "def next_inputs(sample_id, prev_inputs, prev_outputs, state, preprocess):\n"
         "    return None, state\n")
_AR_IMPORT = ("from det.config import *\n",
              "from det.config import *\nfrom code_loader.inner_leap_binder.leapbinder_decorators import "
              "tensorleap_autoregressive_metric, tensorleap_autoregressive_step\n")


@dataclass
class Case:
    id: str
    code: str
    replace: list  # (old, new) pairs planted in the entry (or in `file`)
    marker: str  # text on the line of the finding, in the entry
    sdk: str  # what the SDK says when it rejects the fault
    file: str | None = None  # default: the fixture's entry
    platform_call: str = ""
    fixture: str = "detection"


CASES = [
    Case("simulation-params-names", "TL240",
         [("def brightness_sweep(brightness: float,", "def brightness_sweep(level: float,")],
         "def brightness_sweep(", "Missing required parameters: {'brightness'}"),
    Case("simulation-config", "TL240", [("'min': 0.5, 'max': 1.5", "'min': 1.5, 'max': 0.5")],
         "@tensorleap_simulation('brightness_sweep', SIM_PARAMS)", "min (1.5) must be < max (0.5)",
         file="det/config.py"),
    Case("instance-masks-arity", "TL241",
         [("def object_mask(sample_id: str, preprocess: PreprocessResponse, instance_id: int)",
           "def object_mask(sample_id: str, preprocess: PreprocessResponse)")],
         "def object_mask(", "object_mask() takes 2 positional arguments but 3 were given"),
    Case("instance-length-arity", "TL241",
         [("def object_count(sample_id: str, preprocess: PreprocessResponse)",
           "def object_count(sample_id: str, preprocess: PreprocessResponse, scale: float)")],
         "def object_count(", "object_count() missing 1 required positional argument: 'scale'"),
    Case("instance-latent-space-arity", "TL241",
         [("def object_position(sample_id: str, preprocess: PreprocessResponse, instance_id: int)",
           "def object_position(sample_id: str, preprocess: PreprocessResponse)")],
         "def object_position(", "The function should take exactly 3 positional parameters"),
    Case("latent-space-unannotated", "TL241",
         [("def color_stats(sample_id: str, preprocess: PreprocessResponse)", "def color_stats(sample_id, preprocess)")],
         "def color_stats(", "'preprocess' has no type annotation"),
    Case("latent-space-preprocess-first", "TL241",
         [("def color_stats(sample_id: str, preprocess: PreprocessResponse)",
           "def color_stats(preprocess: PreprocessResponse, sample_id: str)")],
         "def color_stats(", "must be the second positional parameter"),
    Case("empty-gt-arity", "TL241",
         [("def empty_objects(sample_id: str, preprocess: PreprocessResponse)", "def empty_objects(sample_id: str)")],
         "def empty_objects(", "empty_objects() takes 1 positional argument but 2 were given"),
    Case("false-positive-latent-space-arity", "TL241",
         [("def false_positive_position(sample_id: str, preprocess: PreprocessResponse, fp_instance: ElementInstance)",
           "def false_positive_position(sample_id: str, preprocess: PreprocessResponse)")],
         "def false_positive_position(", "false_positive_position() takes 2 positional arguments but 3 were given"),
    Case("false-positive-encoder-arity", "TL241",
         [("def false_positives(sample_id: str, preprocess: PreprocessResponse, predictions: dict)",
           "def false_positives(sample_id: str, preprocess: PreprocessResponse)")],
         "def false_positives(", "false_positives() takes 2 positional arguments but 3 were given",
         # the platform calls the encoder with the model's predictions; the local run does not
         platform_call="from code_loader import leap_binder\n"
                       "from code_loader.contract.datasetclasses import PreprocessResponse\n"
                       "leap_binder.setup_container.false_positive_instances.function("
                       "'0', leap_binder.get_preprocess_result()[list(leap_binder.get_preprocess_result())[0]], {})\n"),
    Case("autoregressive-chain-args", "TL241",
         [_AR_IMPORT, _before_load("@tensorleap_autoregressive_metric('chain_len')\n"
                                   "def chain_len(objects):\n    return 0.0\n")],
         "def chain_len(", "must declare at least one of the implicit chain arguments"),
    Case("false-positive-without-empty-gt", "TL242", [("@tensorleap_false_positive_empty_gt('objects')\n", "")],
         "@tensorleap_false_positive_instances_encoder('objects')",
         "requires a tensorleap_false_positive_empty_gt for every ground truth encoder"),
    Case("empty-gt-unknown-name", "TL242",
         [_before_load("@tensorleap_false_positive_empty_gt('boxes')\n"
                       "def empty_boxes(sample_id: str, preprocess: PreprocessResponse) -> np.ndarray:\n"
                       "    return np.zeros(4, dtype=np.float32)\n")],
         "@tensorleap_false_positive_empty_gt('boxes')", "do not match any registered ground truth encoder"),
    Case("false-positive-latent-space-not-instance", "TL242",
         [("@tensorleap_false_positive_custom_latent_space('object_position')",
           "@tensorleap_false_positive_custom_latent_space('color_stats')")],
         "@tensorleap_false_positive_custom_latent_space('color_stats')", "is not an instance custom latent space"),
    Case("autoregressive-without-step", "TL242",
         [_AR_IMPORT, _before_load("@tensorleap_autoregressive_metric('chain_len')\n"
                                   "def chain_len(outputs):\n    return 0.0\n")],
         "@tensorleap_autoregressive_metric('chain_len')", "requires a tensorleap_autoregressive_step"),
    Case("autoregressive-with-inputs", "TL243", [_AR_IMPORT, _before_load(_STEP)],
         "@tensorleap_input_encoder('image'", "An autoregressive integration must not declare input encoders"),
    Case("autoregressive-aggregation", "TL244",
         [_AR_IMPORT, _before_load(_STEP.replace("step()", "step(latent_space_aggregation='max')"))],
         "latent_space_aggregation='max'", "unknown latent_space_aggregation 'max'"),
    Case("autoregressive-step-parentheses", "TL244",
         [_AR_IMPORT, _before_load(_STEP.replace("step()", "step"))],
         "@tensorleap_autoregressive_step\n", "must be called with parentheses"),
    Case("latent-space-use-ls-bool", "TL244",
         [("@tensorleap_custom_latent_space('color_stats')",
           "@tensorleap_custom_latent_space('color_stats', use_ls_for_analysis='yes')")],
         "use_ls_for_analysis='yes'", "use_ls_for_analysis must be a bool"),
    Case("loss-connects-to-list", "TL244",
         [("@tensorleap_custom_loss('bce')", "@tensorleap_custom_loss('bce', connects_to=['objects'])")],
         "connects_to=['objects']", "'list' object has no attribute 'items'"),
    Case("loss-connects-to-names", "TL244",
         [("@tensorleap_custom_loss('bce')", "@tensorleap_custom_loss('bce', connects_to={'bce_a': ['objects', 'image']})")],
         "connects_to={'bce_a'", "'str' object has no attribute 'node_mapping'"),
    Case("instance-metric-connects-to", "TL244",
         [("@tensorleap_custom_instances_metric('object_hit', direction=MetricDirection.Upward)",
           "@tensorleap_custom_instances_metric('object_hit', direction=MetricDirection.Upward, connects_to=[1, 2])")],
         "connects_to=[1, 2]", "All elements in `connects_to` must be strings"),
    Case("latent-space-duplicate", "TL120",
         [_before_load("@tensorleap_custom_latent_space('color_stats')\n"
                       "def more_color_stats(sample_id: str, preprocess: PreprocessResponse) -> np.ndarray:\n"
                       "    return np.zeros(3, dtype=np.float32)\n")],
         "@tensorleap_custom_latent_space('color_stats')\ndef more_color_stats",
         "A custom latent space named 'color_stats' is already registered"),
    Case("latent-space-default-name-duplicate", "TL120",
         [_before_load("@tensorleap_custom_latent_space()\n"
                       "def color_stats_again(sample_id: str, preprocess: PreprocessResponse) -> np.ndarray:\n"
                       "    return np.zeros(3, dtype=np.float32)\n\n\n"
                       "@tensorleap_custom_latent_space(name='color_stats_again')\n"
                       "def color_stats_twice(sample_id: str, preprocess: PreprocessResponse) -> np.ndarray:\n"
                       "    return np.zeros(3, dtype=np.float32)\n")],
         "@tensorleap_custom_latent_space(name='color_stats_again')",
         "A custom latent space named 'color_stats_again' is already registered"),
    Case("latent-space-analysis-twice", "TL244",
         [("@tensorleap_custom_latent_space('color_stats')",
           "@tensorleap_custom_latent_space('color_stats', use_ls_for_analysis=True)"),
          _before_load("@tensorleap_custom_latent_space('brightness', use_ls_for_analysis=True)\n"
                       "def brightness(sample_id: str, preprocess: PreprocessResponse) -> np.ndarray:\n"
                       "    return np.zeros(1, dtype=np.float32)\n")],
         "@tensorleap_custom_latent_space('brightness', use_ls_for_analysis=True)",
         "use_ls_for_analysis=True is already set on custom latent space 'color_stats'"),
    Case("simulation-duplicate", "TL120",
         [_before_load("@tensorleap_simulation('brightness_sweep', SIM_PARAMS)\n"
                       "def brightness_again(brightness: float, N: int, seed: int) -> PreprocessResponse:\n"
                       "    return brightness_sweep(brightness=brightness, N=N, seed=seed)\n")],
         "@tensorleap_simulation('brightness_sweep', SIM_PARAMS)\ndef brightness_again",
         "Simulation with name 'brightness_sweep' already exists"),
    Case("false-positive-encoder-twice", "TL120",
         [_before_load("@tensorleap_false_positive_instances_encoder('more_objects')\n"
                       "def more_false_positives(sample_id: str, preprocess: PreprocessResponse, predictions: dict) -> list:\n"
                       "    return []\n")],
         "@tensorleap_false_positive_instances_encoder('more_objects')",
         "only one tensorleap_false_positive_instances_encoder can be defined"),
    Case("legacy-simulation-config", "TL240",
         [_before_load("from code_loader import leap_binder\n\n\n"
                       "def level_sweep(level: float, N: int, seed: int) -> PreprocessResponse:\n"
                       "    return brightness_sweep(brightness=level, N=N, seed=seed)\n\n\n"
                       "leap_binder.set_simulation(level_sweep, 'level_sweep', {'level': {'type': 'float'}})\n")],
         "{'level': {'type': 'float'}}", "Parameter 'level' missing 'bounds'"),
    # the legacy-style segmentation fixture
    Case("legacy-false-positive-without-empty-gt", "TL242", [("leap_binder.set_false_positive_empty_gt(empty_mask, 'mask')\n", "")],
         "leap_binder.set_false_positive_instances(", "requires a tensorleap_false_positive_empty_gt",
         fixture="segmentation"),
    Case("legacy-empty-gt-arity", "TL241", [("def empty_mask(idx, preprocess):", "def empty_mask(idx):")],
         "def empty_mask(", "empty_mask() takes 1 positional argument but 2 were given", fixture="segmentation"),
    Case("legacy-latent-space-default-name-twice", "TL120",
         [("leap_binder.set_custom_latent_space(class_histogram, 'class_histogram')\n",
           "leap_binder.set_custom_latent_space(class_histogram)\nleap_binder.set_custom_latent_space(image)\n")],
         "leap_binder.set_custom_latent_space(image)", "A custom latent space named 'custom_latent_space' is already registered",
         fixture="segmentation"),
    # the sequence (autoregressive) fixture
    Case("autoregressive-no-prediction-types", "TL243",
         [("@tensorleap_load_model([PredictionTypeHandler('next_token', VOCAB, channel_dim=-1)])",
           "@tensorleap_load_model([])")],
         "@tensorleap_autoregressive_step(", "requires prediction types declared on tensorleap_load_model",
         fixture="sequence"),
    Case("autoregressive-aggregation-sequence", "TL244",
         [("latent_space_aggregation='last_step'", "latent_space_aggregation='final'")],
         "latent_space_aggregation='final'", "unknown latent_space_aggregation 'final'", fixture="sequence"),
    Case("autoregressive-metric-chain-args", "TL241",
         [("def chain_steps(state):\n    return float(state['steps'])",
           "def chain_steps(steps):\n    return float(steps)")],
         "def chain_steps(", "must declare at least one of the implicit chain arguments", fixture="sequence"),
    Case("autoregressive-step-twice", "TL120",
         [("@tensorleap_model_loop()", "@tensorleap_autoregressive_step()\n"
           "def other_inputs(sample_id, prev_inputs, prev_outputs, state, preprocess):\n"
           "    return None, state\n\n\n@tensorleap_model_loop()")],
         "@tensorleap_autoregressive_step()\ndef other_inputs", "tensorleap_autoregressive_step is already defined",
         fixture="sequence"),
]


def _on_line(root: Path, f, marker: str) -> bool:
    lines = (root / entry_of(root)).read_text().split("\n")
    first = marker.split("\n")[0]
    text = "\n".join(lines[f.span.line:f.span.end_line + 2])
    return first in "\n".join(lines[f.span.line:f.span.end_line + 1]) and marker.rstrip("\n") in text


def test_detection_fixture_passes_the_sdk_and_is_clean(tmp_path):
    root = project(tmp_path, "detection")
    run = run_sdk(root)
    assert run.returncode == 0 and "Successful!" in run.stdout, run.stdout[-2000:] + run.stderr[-3000:]
    assert "validation failed" not in run.stdout + run.stderr
    out = subprocess.run([sys.executable, "-m", "tensorleap_ls", "check", "--format", "json", str(root)],
                         capture_output=True, text=True)
    doc = json.loads(out.stdout)
    diags = [d for p in doc["projects"] for d in p["diagnostics"]]
    assert out.returncode == 0 and diags == [], diags
    kinds = {b["kind"] for p in doc["projects"] for b in p["bindings"]}
    assert {"simulation", "custom_latent_space", "instance_masks", "instance_length", "false_positive",
            "instance_metric"} <= kinds


def test_segmentation_fixture_passes_the_sdk_and_is_clean(tmp_path):
    root = project(tmp_path, "segmentation")
    run = run_sdk(root)
    assert run.returncode == 0 and "Successful!" in run.stdout, run.stdout[-2000:] + run.stderr[-3000:]
    got = findings(root)
    assert [f.code for f in got] == ["TL413"], [(f.code, f.message) for f in got]  # information: pin code-loader


def test_sequence_fixture_passes_the_sdk_and_has_no_error(tmp_path):
    root = project(tmp_path, "sequence")
    run = run_sdk(root)
    assert run.returncode == 0 and run.stdout.count("Successful!") == 4, run.stdout[-2000:] + run.stderr[-3000:]
    got = findings(root)
    # TL105 stays: the SDK's own status table still asks for a tensorleap_custom_loss
    assert [f.code for f in got] == ["TL105"], [(f.code, f.message) for f in got]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_planted_fault(tmp_path, case: Case):
    root = project(tmp_path, case.fixture, case.replace, case.file)
    run = run_sdk(root, case.platform_call)
    said = run.stdout + run.stderr
    assert run.returncode != 0 and case.sdk in said, said[-3000:]
    hits = [f for f in findings(root) if f.code == case.code]
    assert hits, f"{case.code} not reported"
    assert all(f.effective_severity.label == "error" for f in hits)
    assert any(Path(f.span.path) == (root / entry_of(root)).resolve() and _on_line(root, f, case.marker) for f in hits), \
        [(f.span.path, f.span.line + 1, f.message) for f in hits]
    assert not any(f.effective_severity.label == "error" and f.code != case.code and f.code not in ("TL242", "TL243")
                   for f in findings(root)), [(f.code, f.message) for f in findings(root)]


def test_valid_connects_to_gives_no_finding(tmp_path):
    root = project(tmp_path, "detection", [
        ("@tensorleap_custom_loss('bce')", "@tensorleap_custom_loss('bce', connects_to={'bce_main': [gt_objects]})"),
        ("@tensorleap_custom_instances_metric('object_hit', direction=MetricDirection.Upward)",
         "@tensorleap_custom_instances_metric('object_hit', direction=MetricDirection.Upward, connects_to=['a', 'b'])")])
    assert [f for f in findings(root) if f.code == "TL244"] == []


def test_use_ls_for_analysis_on_an_instance_latent_space_is_information(tmp_path):
    """The SDK warns and ignores the flag (passing fixture: the run still succeeds)."""
    root = project(tmp_path, "detection", [("@tensorleap_instance_custom_latent_space('object_position')",
                                            "@tensorleap_instance_custom_latent_space('object_position', "
                                            "use_ls_for_analysis=True)")])
    run = run_sdk(root)
    assert run.returncode == 0 and "use_ls_for_analysis=True is not currently supported" in run.stdout + run.stderr
    got = [f for f in findings(root) if f.code == "TL245"]
    assert [f.effective_severity.label for f in got] == ["information"]
    assert "use_ls_for_analysis=True" in (root / ENTRY).read_text().split("\n")[got[0].span.line]
