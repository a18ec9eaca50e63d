"""The SDK is the oracle for every warning too (README "Diagnostic codes": the severity policy).

A code may be a warning only where a run of the real code-loader 1.0.214 shows misbehaviour, or a documented
platform rule says so. Everything else is information or hint. For each code that is a warning (or a warning in
some cases, by its severity note) there is:

* a ``WarnCase``: a fixture (mostly tests/core/test_codes.py's failing fixture) run through the real SDK (the
  long-lived runner of tests/oracle/sdk_runner.py) that shows the misbehaviour: an exception at a stated stage
  (``shows`` matches the SDK's message) or a wrong value (``observe`` holds on the runner's answer: the
  registrations it made, the function it kept); tensorleap-ls reports the code on that fixture as a warning;
* a ``DocRule``: a rule of the platform or the leap CLI, quoted from ../shared/sdk/ (the test checks the quote is
  in the section), for what no local run shows (the platform build, the leap CLI, the model file); with a base,
  tensorleap-ls must report the code, as a warning, on that fixture; or
* for dynamic codes (TL5xx): the finding is itself what a real run in the child observed; each has a planted
  fault run by the real code-loader in tests/runtime/test_dynamic.py.

``test_every_warning_code_has_an_oracle`` fails for a warning code with none of these. The differential test
(test_differential.py) also checks that tensorleap-ls reports no warning of a code that a ``WarnCase`` proves
where the SDK accepts and runs the generated project.
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from oracle_sdk import bundle_copy
from test_error_oracle import DECO, ENTRY, LEGACY, SHARED, _fixture, _reported, _section
from tensorleap_ls.core.codes import CODES
from tensorleap_ls.core.model import Severity


def _shared() -> Path:
    """../shared/sdk beside the repository; a worktree elsewhere names it with TL_SHARED_SDK."""
    return Path(os.environ.get("TL_SHARED_SDK", str(SHARED)))


@dataclass(frozen=True)
class WarnCase:
    code: str
    base: str
    why: str  # the misbehaviour, in words
    stage: str | None = None  # the SDK stage that fails (None: the SDK accepts; ``observe`` shows the wrong value)
    shows: str = ""  # regex over the SDK's error text
    observe: Callable[[dict], bool] | None = None  # a wrong value in the runner's answer
    from_codes: bool = True
    edits: tuple = ()
    mode: str = "load"
    platform: bool = False
    bundle: bool = False

    @property
    def id(self) -> str:
        return f"{self.code}-{self.base.split('_')[0]}-{self.mode}"


@dataclass(frozen=True)
class DocRule:
    code: str
    doc: str
    section: str
    quote: str
    base: str | None = None  # a fixture of tests/core/test_codes.py where tensorleap-ls reports it
    proven_in: str = ""  # where tensorleap-ls's finding is tested when it needs more than an example (a model)
    edits: tuple = field(default=())
    from_codes: bool = True


# True wherever the integration runs; the analysis does not evaluate it (a file-system call).
_WHEN_HERE = "if os.path.isdir(os.path.dirname(os.path.abspath(__file__))):\n"
_HELPERS = "from code_loader.helpers.detection.yolo.utils import reshape_output_list\n"

WARN_CASES = [
    # A legacy duplicate name: both handlers are registered under one name; the platform keys them by name.
    WarnCase("TL120", LEGACY, "two visualizers registered as 'image_visualizer'",
             observe=lambda r: r["registrations"].get("visualizer", []).count("image_visualizer") == 2),
    # Two preprocess functions: the SDK keeps the last one and silently drops the first.
    WarnCase("TL123", DECO, "the SDK runs `preprocess_again`, not `preprocess`",
             observe=lambda r: r.get("kept", {}).get("preprocess") == "preprocess_again"),
    # Encoders: what the decorators assert when the integration test runs locally.
    WarnCase("TL223", DECO, "the local integration test raises", "local",
             r"return type should be a numpy array of type float32. Got float64", mode="local"),
    WarnCase("TL224", DECO, "the local integration test raises", "local",
             r"Unsupported return type. Should be a numpy array", mode="local"),
    WarnCase("TL225", DECO, "the local integration test raises", "local", r"metadata_label.*validation failed",
             mode="local"),
    # The integration test reads the data: in the mapping pass the subset is empty (data None).
    WarnCase("TL304", DECO, "the mapping pass raises", "mapping", r"'NoneType' object is not subscriptable"),
    # A batch axis added by hand in the test: the placeholder cannot be indexed.
    WarnCase("TL305", DECO, "the mapping pass raises", "mapping", r"'TempMapping' object is not subscriptable"),
    # A data file left out of the bundle: the uploaded code cannot open it at import.
    WarnCase("TL406", DECO, "the platform's import of the bundle raises", "import",
             r"No such file or directory: .*config\.yaml", bundle=True),
    # code-loader-helpers declared but not installed here: the local run cannot import it.
    WarnCase("TL422", DECO, "the local import raises", "import", r"No module named 'code_loader\.helpers'",
             from_codes=False, edits=((ENTRY[DECO], "import os\n", "import os\n" + _HELPERS),
                                      ("requirements.txt", "numpy\n", "numpy\ncode-loader-helpers\n"))),
    # Slips under a condition the analysis cannot decide (a warning: the line runs only when it holds); here it
    # holds when the SDK runs, and the run fails on the slip.
    WarnCase("TL112", DECO, "the import under the condition raises", "import", r"cannot import name 'gt_encodr'",
             from_codes=False, edits=((ENTRY[DECO], "MODEL_PATH = ", _WHEN_HERE + "    from mnist_tl.encoders import "
                                       "gt_encodr  # noqa: F401\n\n\nMODEL_PATH = "),)),
    WarnCase("TL113", DECO, "the decorator under the condition raises", "import",
             r"name 'tensorleap_metadat' is not defined", from_codes=False,
             edits=((ENTRY[DECO], "MODEL_PATH = ", _WHEN_HERE + "    @tensorleap_metadat('extra')\n    def extra(idx, "
                     "preprocess):\n        return 1.0\n\n\nMODEL_PATH = "),)),
    WarnCase("TL114", DECO, "the encoder's branch raises on every sample", "check", r"name 'scael' is not defined",
             from_codes=False, edits=(("mnist_tl/encoders.py", "    return preprocess.data['images']",
                                       "    if idx >= 0:\n        return preprocess.data['images'][0] * scael\n"
                                       "    return preprocess.data['images']"),)),
]

_R13 = "### 1.3 Validation model (how checks fire)"
_R14 = "### 1.4 Integration-test body (the #1 failure class)"
_R16 = "### 1.6 Encoders"
_SCHEMA = "## 2. leap.yaml schema (as the tools actually read it)"
DOC_RULES = [
    DocRule("TL105", "rules.md", _R13, "The custom loss is **required to push**: the platform build fails at "
            "\"Testing Loss\" without one", base=DECO),
    DocRule("TL106", "rules.md", _R13, "The mandatory order the code-loader status table recommends: "
            "integration_test, preprocess, input_encoder, gt_encoder, load_model, custom_loss", base=LEGACY),
    DocRule("TL216", "rules.md", _R16, "Set `channel_dim` explicitly on input encoders (−1 or a positive axis; 0 is "
            "invalid; NCHW→1, NHWC→−1)", base=LEGACY),
    DocRule("TL302", "rules.md", _R14, "Forbidden in the body: argmax/softmax/squeeze/decode/threshold/clip/reshape",
            base=DECO, from_codes=False, edits=((ENTRY[DECO], "import os\n", "import os\n\nimport numpy as np\n"),
                                                (ENTRY[DECO], "    prediction_bar(prediction)\n",
                                                 "    prediction_bar(prediction)\n    np.argmax(prediction)\n"))),
    DocRule("TL303", "rules.md", _R14, "In the body, only call decorated functions", base=DECO),
    DocRule("TL402", "rules.md", _SCHEMA, "Comments, key order, quoting and unknown keys (e.g. `codeIntegrationId`) "
            "are lost whenever `leap push/pull/info` runs.", base=DECO),
    DocRule("TL407", "rules.md", "### 5.1 `leap` CLI (tensorleap/leap-cli)", "if no root-level `requirements.txt`, "
            "`pyproject.toml` or `tensorleap_requirements.txt` is in the bundle it asks \"Continue?\", and the default "
            "is No", base=LEGACY),
    DocRule("TL408", "rules.md", "### 1.9 Data, secrets, deployment", "a missing `include`, or a dependency missing "
            "from `requirements.txt`", base=DECO),
    DocRule("TL409", "rules.md", _SCHEMA, "An invalid `pythonVersion` in leap.yaml is silently ignored", base=DECO),
    # The model side: the model file is needed; tests/model/ proves the findings.
    DocRule("TL602", "rules.md", "### 1.7 load_model / prediction types", "The number of prediction types must "
            "equal the number of model outputs.", proven_in="tests/model/test_model_legacy.py"),
    DocRule("TL603", "code-loader-contract.md", "### 3.8 Prediction types / model", "`labels` length should equal "
            "`output.shape[channel_dim]`", proven_in="tests/model/test_model_static.py"),
    DocRule("TL604", "rules.md", _R16, "One encoder per model input.", proven_in="tests/model/test_model_static.py"),
    DocRule("TL606", "rules.md", _R16, "NCHW→1, NHWC→−1", proven_in="tests/model/test_model_static.py"),
    DocRule("TL611", "rules.md", _R16, "If the ONNX model wants int64 (e.g. `input_ids`), re-export it with float32 "
            "inputs and cast inside, rather than changing the encoder dtype", proven_in="tests/model/test_model_dynamic.py"),
]


def warning_codes() -> set[str]:
    """Codes that are warnings, by default or in some cases (their severity note says when)."""
    return {c.code for c in CODES.values() if c.severity == Severity.WARNING or "warning" in c.severity_note}


def _dynamic_faults() -> set[str]:
    """TL5xx codes with a planted fault in tests/runtime/test_dynamic.py (run by the real code-loader)."""
    tree = ast.parse((Path(__file__).resolve().parents[1] / "runtime" / "test_dynamic.py").read_text(encoding="utf-8"))
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and re.fullmatch(r"TL5\d\d", n.value)}


def test_every_warning_code_has_an_oracle():
    covered = {c.code for c in WARN_CASES} | {r.code for r in DOC_RULES}
    dynamic = {c for c in warning_codes() if c.startswith("TL5")}
    assert dynamic <= _dynamic_faults(), f"dynamic warning codes without a planted fault: {dynamic - _dynamic_faults()}"
    missing = sorted(warning_codes() - covered - dynamic)
    assert not missing, f"warning codes with neither an SDK run that misbehaves nor a documented rule: {missing}"
    stale = sorted(covered - warning_codes())
    assert not stale, f"warning oracle cases for codes that are not warnings (any more): {stale}"


def _reported_as_warning(root: Path, code: str) -> list:
    return _reported(root, code, Severity.WARNING)


@pytest.mark.parametrize("case", WARN_CASES, ids=lambda c: c.id)
def test_sdk_misbehaves_and_we_warn(tmp_path, sdk, case: WarnCase):
    root = _fixture(tmp_path / "project", case.code, case.base, case.from_codes, case.edits)
    run_root = bundle_copy(root, tmp_path / "bundle") if case.bundle else root
    result = sdk.run(run_root, ENTRY[case.base], mode=case.mode, platform=case.platform)
    if case.stage is not None:
        assert not result["ok"], f"the SDK runs the {case.code} fixture without a problem: {result['log'][-800:]}"
        assert result["stage"] == case.stage, (result["stage"], result["error"])
        assert re.search(case.shows, result["error"] or ""), result["error"]
    else:
        assert result["ok"], (result["stage"], result["error"])
        assert case.observe is not None and case.observe(result), (case.why, result.get("registrations"),
                                                                   result.get("kept"))
    _reported_as_warning(root, case.code)


@pytest.mark.parametrize("rule", DOC_RULES, ids=lambda r: r.code)
def test_documented_rule(tmp_path, rule: DocRule):
    doc = _shared() / rule.doc
    if not doc.exists():
        pytest.skip(f"the SDK reference {doc} is not on this machine (set TL_SHARED_SDK)")
    norm = lambda s: " ".join(s.split())  # noqa: E731
    section = _section(doc.read_text(encoding="utf-8"), rule.section)
    assert norm(rule.quote) in norm(section), f"{rule.doc} '{rule.section}' does not say: {rule.quote}"
    if rule.base is None:
        assert rule.proven_in and (Path(__file__).resolve().parents[2] / rule.proven_in).is_file(), rule
        assert rule.code in (Path(__file__).resolve().parents[2] / rule.proven_in).read_text(encoding="utf-8")
        return
    _reported_as_warning(_fixture(tmp_path, rule.code, rule.base, rule.from_codes, rule.edits), rule.code)


# --- the Leap* result classes' own validation, as TL234 reads it ----------------------------------------------
def test_leap_result_rules_are_the_classes_validation():
    """Every rule of core/sdk/bundled.LEAP_RESULT_RULES, broken on purpose, raises in the real class; the same
    object built right passes (run in a forked child of the oracle's SDK process would add nothing: the classes
    are plain dataclasses)."""
    os.environ.setdefault("TL_DISABLE_ANALYTICS", "1")
    import numpy as np
    from code_loader.contract import visualizer_classes as vc

    from tensorleap_ls.core.sdk.bundled import LEAP_RESULT_RULES

    img = np.zeros((4, 4, 3), np.uint8)
    good = {"LeapImage": dict(data=img), "LeapVideo": dict(data=np.zeros((2, 4, 4, 3), np.uint8)),
            "LeapGraph": dict(data=np.zeros((5, 1), np.float32), x_range=(0, 1), legend=["a"]),
            "LeapText": dict(data=["a", "b"], heatmap=[0.5, 1.0]),
            "LeapHorizontalBar": dict(body=np.zeros(2, np.float32), labels=["a", "b"], gt=np.zeros(2)),
            "LeapImageMask": dict(mask=np.zeros((4, 4), np.uint8), image=img, labels=["a"]),
            "LeapTextMask": dict(mask=np.zeros(2, np.uint8), text=["a", "b"], labels=["x"]),
            "LeapImageWithBBox": dict(data=img, bounding_boxes=[]),
            "LeapImageWithHeatmap": dict(image=img.astype(np.float32), heatmaps=np.zeros((1, 4, 4), np.float32),
                                         labels=["a"])}
    bad = {"array:uint8|float32": np.zeros((4, 4, 3)), "array:float32": np.zeros((5, 1)),
           "array:uint8": np.zeros((4, 4), np.int64), "list[str]": ("a", "b"), "list[float]": [1, 0],
           "tuple?": [0, 1], "bool?": 1}
    for cls, rules in LEAP_RESULT_RULES.items():
        klass = getattr(vc, cls)
        klass(**good[cls])
        for fieldname, rule in rules:
            if rule is None or rule not in bad:
                continue
            value = bad[rule]
            if rule == "list[str]" and cls == "LeapText":
                value = [1, 2]  # LeapText([start, end]) with int positions
            if rule == "array:uint8" and cls == "LeapTextMask":
                value = np.zeros(2, np.int64)
            with pytest.raises((vc.LeapValidationError, AssertionError, TypeError, AttributeError)):
                klass(**{**good[cls], fieldname: value})
