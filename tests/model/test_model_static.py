"""Static model checks (TL600-TL605): the core's checks fed with the facts the real
runtime/model_info.py reads from ONNX models built here with onnx.helper.

Each case plants one fault in a copy of tests/fixtures/model/cls (a decorator integration whose
config module holds the model folder), asserts the code, its severity and the text it points at, and,
for errors, that the real code-loader itself fails on the planted project (its own message), while
the clean copy runs through the SDK and has no TL6xx finding.
"""

from __future__ import annotations

import os
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from onnx_models import MODEL, build, classifier, project, run_sdk
from tensorleap_ls.core.engine.analysis import Analyzer
from tensorleap_ls.core.checks.model_file import model_path
from tensorleap_ls.core.codes import CODES
from tensorleap_ls.runtime import model_info

ENCODE_MASK = '''

@tensorleap_input_encoder('mask', channel_dim=1)
def input_mask(idx: int, preprocess: PreprocessResponse) -> np.ndarray:
    return (preprocess.data['images'][idx][None, :, :, 0] > 0.5).astype(np.float32)


@tensorleap_gt_encoder('classes')'''
RAW_LOSS = '''

@tensorleap_input_encoder('raw', channel_dim=-1)
def input_raw(idx: int, preprocess: PreprocessResponse) -> np.ndarray:
    return preprocess.data['images'][idx].astype(np.float32)


@tensorleap_custom_loss('recon')
def recon(raw: np.ndarray, pred: np.ndarray) -> np.ndarray:
    return raw.reshape(raw.shape[0], -1).mean(-1) * pred.sum(-1)


@tensorleap_integration_test()'''


def two_inputs(path: Path) -> Path:
    return build(path, [("image", [None, 3, 8, 8], "float32"), ("mask", [None, 1, 8, 8], "float32")],
                 [("classes", 3, 3)])


def two_outputs(path: Path) -> Path:
    return build(path, [("image", [None, 3, 8, 8], "float32")], [("classes", 3, 3), ("embedding", 4, 4)])


def four_classes(path: Path) -> Path:
    return classifier(path, classes=4, real=4)


@dataclass
class Case:
    id: str
    code: str
    fault: list[tuple[str, str]]  # planted into leap_integration.py
    marker: str  # the finding's range holds this text
    sdk_error: str | None  # what the real code-loader raises on the faulty project (errors only)
    fixed: list[tuple[str, str]] = field(default_factory=list)  # a passing variant (default: the clean fixture)
    model: object = classifier
    message: str = ""


FEED = "model.run(None, {'image': image})"
# a loss that does not care how many classes the model has (the GT keeps 3)
LOSS_ANY_SIZE = ("return -(classes * np.log(np.clip(pred, 1e-7, 1.0))).sum(-1)",
                 "return -np.log(np.clip(pred.max(-1), 1e-7, 1.0)) + 0 * classes.sum(-1)")
CASES = [
    Case("feed-name", "TL601", [("{'image': image}", "{'imgae': image}")], "'imgae'",
         "do not match any ONNX model input", message="Did you mean `image`?"),
    Case("feed-name-variable", "TL601",
         [(f"pred = {FEED}[0]", "inputs = {'images': image}\n    pred = model.run(None, inputs)[0]")], "'images'",
         "do not match any ONNX model input", message="Did you mean `image`?"),
    Case("feed-order", "TL601",
         [("\n\n@tensorleap_gt_encoder('classes')", ENCODE_MASK),
          ("    model = load_model()", "    mask = input_mask(idx, preprocess)\n    model = load_model()"),
          (FEED, "model.run(None, {'mask': mask, 'image': image})")],
         "{'mask': mask, 'image': image}", "Input order mismatch",
         fixed=[("\n\n@tensorleap_gt_encoder('classes')", ENCODE_MASK),
                ("    model = load_model()", "    mask = input_mask(idx, preprocess)\n    model = load_model()"),
                (FEED, "model.run(None, {'image': image, 'mask': mask})")],
         model=two_inputs, message="Reorder"),
    Case("feed-missing", "TL601", [], "{'image': image}", "Missing required input(s)", model=two_inputs,
         fixed=[("\n\n@tensorleap_gt_encoder('classes')", ENCODE_MASK),
                ("    model = load_model()", "    mask = input_mask(idx, preprocess)\n    model = load_model()"),
                (FEED, "model.run(None, {'image': image, 'mask': mask})")],
         message="`mask`"),
    Case("prediction-count", "TL602",
         [("[PredictionTypeHandler('classes', LABELS, channel_dim=-1)]",
           "[PredictionTypeHandler('classes', LABELS, channel_dim=-1), PredictionTypeHandler('emb', ['e'] * 4)]")],
         "PredictionTypeHandler('emb', ['e'] * 4)", "number of declared prediction types(2) != number of model outputs(1)",
         fixed=[("[PredictionTypeHandler('classes', LABELS, channel_dim=-1)]",
                 "[PredictionTypeHandler('classes', LABELS, channel_dim=-1), "
                 "PredictionTypeHandler('emb', ['e'] * 4, channel_dim=-1)]")],
         model=None, message="1 output(s)"),
    Case("labels-size", "TL603", [LOSS_ANY_SIZE], "LABELS", None, model=four_classes,
         fixed=[LOSS_ANY_SIZE, ("[PredictionTypeHandler('classes', LABELS, channel_dim=-1)]",
                                "[PredictionTypeHandler('classes', LABELS + ['fish'], channel_dim=-1)]")],
         message="size 4 on channel_dim=-1"),
    Case("channel-dim", "TL606", [("channel_dim=1)", "channel_dim=-1)")], "-1", None,
         message="input `image` is channels-first (N, 3, 8, 8): use channel_dim=1"),
    Case("input-index-range", "TL604",
         [("@tensorleap_input_encoder('image', channel_dim=1)",
           "@tensorleap_input_encoder('image', channel_dim=1, model_input_index=1)")], "1", None,
         fixed=[("@tensorleap_input_encoder('image', channel_dim=1)",
                 "@tensorleap_input_encoder('image', channel_dim=1, model_input_index=0)")],
         message="it has 1 input(s) (`image`)"),
    Case("input-index-sdk", "TL604",
         [("@tensorleap_input_encoder('image', channel_dim=1)",
           "@tensorleap_input_encoder('image', channel_dim=1, model_input_index=10)")], "10",
         "'Input10' is not a valid NodeMappingType", message="raises at import"),
    Case("loss-input", "TL605",
         [("\n\n@tensorleap_integration_test()", RAW_LOSS),
          ("    ce(classes, pred)", "    ce(classes, pred)\n    raw = input_raw(idx, preprocess)\n    recon(raw, pred)")],
         "raw", "consumes input 'raw', which is not fed to the model",
         fixed=[("\n\n@tensorleap_integration_test()", RAW_LOSS.replace("(raw: np.ndarray", "(classes: np.ndarray")
                 .replace("raw.reshape(raw.shape[0], -1)", "classes")),
                ("    ce(classes, pred)", "    ce(classes, pred)\n    recon(classes, pred)")],
         model=classifier),
]
# two-output model for the prediction-count case: the faulty copy declares 2 types for 1 output,
# the fixed copy 2 types for 2 outputs
MODELS = {("prediction-count", False): classifier, ("prediction-count", True): two_outputs}


def findings(root: Path, python: str = sys.executable) -> list:
    """The CLI's path: analyse, read the facts of the model load_model loads, analyse again."""
    analyzer = Analyzer()
    [pa] = analyzer.analyze_path(str(root))
    model_info.load_facts(analyzer, pa, python, trusted=False)
    [pa] = analyzer.analyze_path(str(root))
    return pa.findings


def _model(case: Case, fixed: bool):
    return MODELS.get((case.id, fixed), case.model)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_fault_is_found(case: Case, tmp_path: Path):
    root = project(tmp_path, case.fault, model=_model(case, False))
    hits = [f for f in findings(root) if f.code == case.code]
    assert len(hits) == 1, [(f.code, f.message) for f in findings(root)]
    f = hits[0]
    text = (root / "leap_integration.py").read_text().split("\n")
    assert f.span.line == f.span.end_line
    assert text[f.span.line][f.span.col:f.span.end_col] == case.marker
    assert case.message in f.message
    sev = f.effective_severity.label
    assert sev == ("error" if case.sdk_error else CODES[case.code].severity.label)
    run = run_sdk(root)
    if case.sdk_error:  # an error: the real SDK fails on it with its own words
        assert case.sdk_error in run.stdout + run.stderr, run.stdout[-2000:] + run.stderr[-2000:]
    else:  # a warning: the SDK lets it through
        assert run.returncode == 0, run.stderr[-2000:]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_fixed_project_is_clean(case: Case, tmp_path: Path):
    root = project(tmp_path, case.fixed, model=_model(case, True))
    assert [f for f in findings(root) if f.code.startswith("TL6")] == []
    run = run_sdk(root)
    assert run.returncode == 0 and "Successful!" in run.stdout, run.stdout[-2000:] + run.stderr[-2000:]
    assert "not fed to the model" not in run.stdout


def test_onnxruntime_itself_rejects_the_misspelled_feed(tmp_path: Path):
    """Beyond the SDK's own check: onnxruntime refuses the name too."""
    import numpy as np
    import onnxruntime as ort

    s = ort.InferenceSession(str(classifier(tmp_path / "m.onnx")), providers=["CPUExecutionProvider"])
    x = np.zeros((1, 3, 8, 8), np.float32)
    assert s.run(None, {"image": x})[0].shape == (1, 3)
    with pytest.raises(Exception, match="imgae"):
        s.run(None, {"imgae": x})


def test_unreadable_model_says_which_library_is_missing(tmp_path: Path):
    """TL600: an interpreter without onnx/onnxruntime (this one started with -S: no site-packages)."""
    root = project(tmp_path)
    bare = tmp_path / "bare-python"
    bare.write_text(f"#!/bin/sh\nexec {sys.executable} -S \"$@\"\n")
    bare.chmod(bare.stat().st_mode | stat.S_IEXEC)
    [f] = [f for f in findings(root, str(bare)) if f.code.startswith("TL6")]
    assert f.code == "TL600" and f.effective_severity.label == "information"
    assert "library onnx (or onnxruntime) missing in" in f.message and "models/classifier.onnx" in f.message
    line = (root / "leap_integration.py").read_text().split("\n")[f.span.line]
    assert "os.path.join(MODEL_DIR, 'classifier.onnx')" in line[f.span.col:f.span.end_col] or "model_path" in line
    # the library is there: facts, and no TL600
    assert not [f for f in findings(root) if f.code == "TL600"]


@pytest.mark.parametrize("loader", [
    "return ort.InferenceSession(os.path.join(os.path.dirname(__file__), 'models', 'classifier.onnx'))",
    "return ort.InferenceSession('models/classifier.onnx')",
    "p = Path(__file__).parent / 'models' / 'classifier.onnx'\n    return ort.InferenceSession(str(p))",
    "return ort.InferenceSession(path_or_bytes=os.path.join(MODEL_DIR, 'classifier.onnx'))",
])
def test_model_path_styles(loader: str, tmp_path: Path):
    root = project(tmp_path, [("model_path = os.path.join(MODEL_DIR, 'classifier.onnx')\n"
                               "    return ort.InferenceSession(model_path, providers=['CPUExecutionProvider'])", loader),
                              ("import os\n", "import os\nfrom pathlib import Path\n")])
    [pa] = Analyzer().analyze_path(str(root))
    found = model_path(pa.bindings, pa.modules, pa.project.root)
    assert found is not None and found[0] == os.path.normpath(root / MODEL)


def test_facts_are_cached_by_content_not_mtime(tmp_path: Path):
    path = classifier(tmp_path / "m.onnx")
    first = model_info.facts(sys.executable, str(path), trusted=False)
    assert first["inputs"] == [{"name": "image", "shape": [None, 3, 8, 8], "dtype": "float32"}]
    assert first["outputs"][0]["shape"] == [None, 3]
    stamp = path.stat()
    build(path, [("pixels", [None, 3, 8, 8], "float32")], [("classes", 3, 3)])
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))  # same mtime, new content
    assert model_info.facts(sys.executable, str(path), trusted=False)["inputs"][0]["name"] == "pixels"


def test_code_bearing_formats_are_not_read_untrusted(tmp_path: Path):
    h5 = tmp_path / "model.h5"
    h5.write_bytes(b"\x89HDF\r\n")
    assert model_info.facts(sys.executable, str(h5), trusted=False) is None


def test_every_model_code_has_a_case():
    from test_model_dynamic import DYNAMIC_CODES

    covered = {c.code for c in CASES} | {"TL600"} | DYNAMIC_CODES | {"TL607"}  # TL607: test_model_unsupported.py
    assert {c for c in CODES if c.startswith("TL6")} == covered


@pytest.mark.parametrize("case_id, fixed_text", [("feed-name", "{'image': image}"),
                                                ("channel-dim", "@tensorleap_input_encoder('image', channel_dim=1)")])
def test_quick_fix(case_id: str, fixed_text: str, tmp_path: Path):
    """TL601's fix puts the model's input name in place of the misspelled key, TL606's the channel axis of
    the model's layout; the project is then clean and the SDK runs it."""
    from tensorleap_ls.core.fixes import fixes_for

    [case] = [c for c in CASES if c.id == case_id]
    root = project(tmp_path, case.fault)
    analyzer = Analyzer()
    [pa] = analyzer.analyze_path(str(root))
    model_info.load_facts(analyzer, pa, sys.executable, trusted=False)
    [pa] = analyzer.analyze_path(str(root))
    [finding] = [f for f in pa.findings if f.code == case.code]
    [fix] = fixes_for(finding, pa)
    [edit] = fix.edits
    entry = root / "leap_integration.py"
    lines = entry.read_text().split("\n")
    line = lines[edit.span.line]
    lines[edit.span.line] = line[:edit.span.col] + edit.new_text + line[edit.span.end_col:]
    entry.write_text("\n".join(lines))
    assert fixed_text in lines[edit.span.line]
    assert not [f for f in findings(root) if f.code.startswith("TL6")]
    assert run_sdk(root).returncode == 0


@pytest.mark.parametrize("observed, model, advice", [
    ((224, 224, 3), [None, 3, 224, 224], "move the channel axis first (np.transpose(x, (2, 0, 1)))"),
    ((3, 224, 224), [None, 224, 224, 3], "move the channel axis last (np.transpose(x, (1, 2, 0)))"),
    ((28, 28), [None, 28, 28, 1], "add a channel axis last (x[..., np.newaxis])"),
    ((28, 28), [None, 1, 28, 28], "add a channel axis first (x[np.newaxis])"),
    ((1, 28, 28, 1), [None, 28, 28, 1], "drop the leading axis of size 1"),
    ((32, 32, 3), [None, 3, 224, 224], "disagree on the shape"),
    ((224, 224, 3), [None, None, None, 3], None),
    ((7,), [], None),  # shapes the model file does not give: nothing to say
])
def test_shape_advice(observed, model, advice):
    from tensorleap_ls.core.checks.model_run import shape_advice

    got = shape_advice(observed, model)
    assert (got is None) if advice is None else (advice in got)


def test_model_chosen_by_a_flag_is_not_guessed(tmp_path: Path):
    """Two files load_model may load: no facts (a wrong guess would give false errors)."""
    root = project(tmp_path, [("model_path = os.path.join(MODEL_DIR, 'classifier.onnx')",
                               "model_path = os.path.join(MODEL_DIR, 'classifier.onnx')\n"
                               "    if os.environ.get('SMALL'):\n"
                               "        model_path = os.path.join(MODEL_DIR, 'small.onnx')"),
                              ("{'image': image}", "{'imgae': image}")])
    [pa] = Analyzer().analyze_path(str(root))
    assert model_path(pa.bindings, pa.modules, pa.project.root) is None
    assert not [f for f in findings(root) if f.code.startswith("TL6")]


def test_half_written_integration_never_breaks_the_model_checks(tmp_path: Path, caplog):
    """The entry cut at many points (as while typing), analysed with the model's facts: no check raises."""
    root = project(tmp_path, [("{'image': image}", "{'imgae': image, 'mask': 1}")], model=two_inputs)
    entry = root / "leap_integration.py"
    full = entry.read_text()
    analyzer = Analyzer()
    [pa] = analyzer.analyze_path(str(root))
    assert model_info.load_facts(analyzer, pa, sys.executable, trusted=False)
    with caplog.at_level("ERROR"):
        for cut in range(0, len(full), 23):
            analyzer.set_overlay(str(entry), full[:cut])
            analyzer.analyze_path(str(root))
    assert not [r for r in caplog.records if "model" in r.getMessage()], caplog.text[-3000:]


def test_cli_check_reads_the_model(tmp_path: Path, capsys):
    from tensorleap_ls.cli import main

    root = project(tmp_path, CASES[0].fault)
    assert main(["check", "--no-color", "--python", sys.executable, str(root)]) == 1
    out = capsys.readouterr().out
    assert "leap_integration.py:51:" in out and "error TL601 `imgae` is not an input of models/classifier.onnx" in out
    assert main(["check", "--no-color", "--no-model", str(root)]) == 0
    assert "TL601" not in capsys.readouterr().out


def test_loss_input_fed_through_an_alias_is_not_reported(tmp_path: Path):
    """The model gets `x`, an alias we do not follow: TL605 stays silent rather than guess."""
    [case] = [c for c in CASES if c.id == "loss-input"]
    root = project(tmp_path, case.fault + [("    pred = model.run(None, {'image': image})[0]",
                                            "    x = image\n    pred = model.run(None, {'image': x})[0]")])
    assert not [f for f in findings(root) if f.code == "TL605"]



def mask_first(path: Path) -> Path:
    return build(path, [("mask", [None, 1, 8, 8], "float32"), ("image", [None, 3, 8, 8], "float32")],
                 [("classes", 3, 3)])


WITH_MASK = [("\n\n@tensorleap_gt_encoder('classes')", ENCODE_MASK),
             ("    model = load_model()", "    mask = input_mask(idx, preprocess)\n    model = load_model()")]
ALIASED = [(FEED, "model.run(None, {'mask': m, 'image': x})"), ("    model = load_model()",
                                                             "    x, m = image, mask\n    model = load_model()")]
RENAMED = [("@tensorleap_input_encoder('image'", "@tensorleap_input_encoder('picture'")]


COVER = [("@tensorleap_input_encoder('mask'", "@tensorleap_input_encoder('cover'")]


@pytest.mark.parametrize("plant, model, name, mask", [
    # the integration test's model call (registration order image, mask; the model takes mask first)
    ([(FEED, "model.run(None, {'mask': mask, 'image': image})")], mask_first, "image", "mask"),
    # model_input_index (feed values are aliases we do not follow, no name matches: order would say 0)
    (ALIASED + RENAMED + COVER + [("'picture', channel_dim=1)", "'picture', channel_dim=1, model_input_index=1)")],
     mask_first, "picture", "cover"),
    # the same name (registration order would say 0)
    (ALIASED, mask_first, "image", "mask"),
    # registration order, when nothing else says
    ([(FEED, "model.run(None, {'image': x, 'mask': m})"),
      ("    model = load_model()", "    x, m = image, mask\n    model = load_model()")] + RENAMED + COVER, two_inputs,
     "picture", "cover"),
], ids=["test-call", "model_input_index", "name", "order"])
def test_observed_shape_reaches_the_model_input_it_feeds(plant, model, name, mask, tmp_path: Path):
    """TL610 from an observed shape, the encoder matched to its model input by each rule in turn: a
    wrong match would compare (8, 8, 3) with the mask input (N, 1, 8, 8) and give other advice."""
    from tensorleap_ls.core.checks.base import CheckContext
    from tensorleap_ls.core.checks.model_run import observed_findings

    root = project(tmp_path, WITH_MASK + plant, model=model)
    analyzer = Analyzer()
    [pa] = analyzer.analyze_path(str(root))
    model_info.load_facts(analyzer, pa, sys.executable, trusted=False)
    ctx = CheckContext(root=str(root), entry=pa.project.entry, bindings=pa.bindings, modules=dict(pa.modules),
                       model_facts=analyzer.model_facts)
    [f] = observed_findings(ctx, [["input", name, "shape (8, 8, 3), dtype float32"],
                                  ["input", mask, "shape (1, 8, 8), dtype float32"]])
    assert f.code == "TL610" and "input `image` is (N, 3, 8, 8): move the channel axis first" in f.message
    assert observed_findings(ctx, [["input", name, "shape (3, 8, 8), dtype float32"],
                                   ["input", mask, "shape (1, 8, 8), dtype float32"]]) == []
