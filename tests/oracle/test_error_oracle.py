"""The SDK is the oracle for every error.

For each error-severity static code of the registry (``core/codes.py``, TL1xx-TL4xx; codes that are errors
with decorators and warnings with the legacy API count as errors) there is either

* an ``SdkCase``: a small failing fixture (the failing fixtures of tests/core/test_codes.py where they do the
  job, with extra edits where the SDK needs them) run through the real code-loader 1.0.214 the way the
  platform does (import of the entry + the integration test in mapping mode + ``leap_binder.check()``), or
  the way a local ``python leap_integration.py`` does (``mode="local"``: the decorated test on a real
  sample, where decorator call-time validation happens), or on the bundle ``leap push`` would upload
  (``bundle=True``). The test asserts the SDK fails at the expected stage with its own message, and that
  tensorleap-ls reports the code, as an error, on the same fixture; or
* a ``PlatformRule``: the code guards a rule that only the platform or the leap CLI enforces. The case
  cites it (document + section + the quoted rule); the test checks the quote is really there, that the SDK
  accepts the fixture locally (otherwise the case belongs with the SDK cases) and that tensorleap-ls
  reports the code.

``test_every_error_code_has_an_oracle`` keeps this complete: a new error code without a case fails CI.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from oracle_sdk import analyze, bundle_copy, code_cases, describe
from tensorleap_ls.core.codes import CODES
from tensorleap_ls.core.model import Severity

TC = code_cases()
DECO, LEGACY, ENTRY = TC.DECO, TC.LEGACY, TC.ENTRY
# the project's shared reference lies beside the repository (../shared), on developers' machines and in CI
SHARED = Path(__file__).resolve().parents[3] / "shared" / "sdk"


@dataclass(frozen=True)
class SdkCase:
    code: str
    base: str
    stage: str  # the SDK stage that fails: import | mapping | check | local | platform
    message: str  # regex over the SDK's error text
    from_codes: bool = True  # start from tests/core/test_codes.py's failing fixture for (code, base)
    edits: tuple = ()  # extra (file, old, new) edits; old None: write the file (str or bytes)
    mode: str = "load"  # load: as the platform loads it; local: as `python leap_integration.py` runs it
    platform: bool = False  # also run check_dataset() with IS_TENSORLEAP_PLATFORM=true
    bundle: bool = False  # run the SDK on the files leap.yaml uploads, not the whole folder
    entry: str | None = None  # the entry the platform would import (default: the example's)
    line: tuple[str, int] | None = None  # (file, line) the SDK's traceback must point at
    same_line: bool = True  # tensorleap-ls reports the code on that line too

    @property
    def id(self) -> str:
        return f"{self.code}-{self.base.split('_')[0]}-{self.mode}"


@dataclass(frozen=True)
class PlatformRule:
    code: str
    base: str
    doc: str  # file under ../shared/sdk (beside the repository)
    section: str  # a heading of that file
    quote: str  # the rule, quoted from that section (whitespace-normalised)
    edits: tuple = field(default=())



_DECOS = "from code_loader.inner_leap_binder.leapbinder_decorators import *\n"


def _advanced(code: str) -> tuple:
    """Plants advanced-registrar code before load_model in the decorator example (tests/advanced/ has the
    full set of these faults on detection / segmentation / sequence fixtures)."""
    return ((ENTRY[DECO], "@tensorleap_load_model(", _DECOS + code + "\n\n@tensorleap_load_model("),)


SDK_CASES = [
    SdkCase("TL101", DECO, "check", r"Please make sure you call the leap_binder.set_preprocess method"),
    # Without the decorator load_model is a plain function: it returns a real session that cannot take
    # the mapping pass's placeholders.
    SdkCase("TL103", DECO, "mapping", r"Unable to handle object of type .*TempMapping"),
    SdkCase("TL104", DECO, "platform", r"No integration test was found in your integration file", platform=True),
    SdkCase("TL110", LEGACY, "import", r"NameError: name 'encode_imgae' is not defined", line=("leap_binder.py", 13)),
    SdkCase("TL111", LEGACY, "check", r"'str' object is not callable"),
    # The SDK fails on the import line, where tensorleap-ls reports it (the registration is its related information).
    SdkCase("TL112", LEGACY, "import", r"ImportError: cannot import name 'encode_depth'", line=("leap_binder.py", 8)),
    SdkCase("TL112", DECO, "import", r"ImportError: cannot import name 'gt_encoder'", line=(ENTRY[DECO], 15)),
    SdkCase("TL113", DECO, "import", r"NameError: name 'tensorleap_input_encodr' is not defined",
            line=("mnist_tl/encoders.py", 10)),
    SdkCase("TL113", LEGACY, "import", r"NameError: name 'LeapDatatype' is not defined", line=(ENTRY[LEGACY], 17)),
    # leap_binder.check() runs the encoder on the first sample; the mapping pass runs the integration test
    SdkCase("TL114", DECO, "check", r"NameError: name 'normalise_factor' is not defined",
            line=("mnist_tl/encoders.py", 16)),
    SdkCase("TL114", LEGACY, "check", r"NameError: name '_indx' is not defined", line=("digits/functions.py", 29)),
    # a metric runs on the platform's batches and in the local test (the mapping pass does not run it)
    SdkCase("TL114", DECO, "local", r"NameError: name 'predicton' is not defined", mode="local", from_codes=False,
            edits=(("mnist_tl/metrics.py", "== prediction.argmax(-1)", "== predicton.argmax(-1)"),),
            line=("mnist_tl/metrics.py", 8)),
    SdkCase("TL120", DECO, "import", r"Metric with name Accuracy already exists", line=("mnist_tl/metrics.py", 6)),
    SdkCase("TL190", DECO, "import", r"SyntaxError"),
    # What `ast.parse` accepts but the compiler rejects fails the import the same way.
    SdkCase("TL190", DECO, "import", r"SyntaxError: keyword argument repeated", from_codes=False, edits=(
        (ENTRY[DECO], "from mnist_tl.config import CONFIG, LABELS\n",
         "from mnist_tl.config import CONFIG, LABELS\nSHAPE = dict(h=28, h=28)\n"),)),
    SdkCase("TL191", DECO, "import", r"SyntaxError: .*(Non-UTF-8|utf-8)", from_codes=False, edits=(
        ("mnist_tl/names.py", None, "# Libell\xe9s des chiffres\nNAMES = ['z\xe9ro']\n".encode("latin-1")),
        (ENTRY[DECO], "from mnist_tl.config import CONFIG, LABELS\n",
         "from mnist_tl.config import CONFIG, LABELS\nfrom mnist_tl.names import NAMES\n"))),
    SdkCase("TL201", DECO, "check", r"missing 1 required positional argument: 'data_root'"),
    SdkCase("TL202", DECO, "check", r"input_encoder\(\) takes 1 positional argument but 2 were given"),
    SdkCase("TL203", DECO, "mapping", r"integration_test\(\) takes 1 positional argument but 2 were given"),
    SdkCase("TL204", DECO, "local", r"accuracy\(\) takes 0 positional arguments", mode="local"),
    SdkCase("TL205", DECO, "import", r"only one argument can be of type SamplePreprocessResponse"),
    SdkCase("TL206", DECO, "import", r"argument names of the heatmap visualizer callback must match"),
    # The SDK fails at the registration; tensorleap-ls reports the function that is not a class.
    SdkCase("TL207", LEGACY, "import", r"has no attribute 'call'", line=("leap_binder.py", 21), same_line=False),
    SdkCase("TL212", DECO, "import", r"is a string .*from __future__ import annotations"),
    SdkCase("TL213", DECO, "import", r"return type of function image_visualizer is invalid"),
    SdkCase("TL215", DECO, "import", r"visualizer_type should be of type LeapDataType"),
    SdkCase("TL216", DECO, "import", r"Invalid channel_dim \(0\) for input 'image'", line=("mnist_tl/encoders.py", 10)),
    SdkCase("TL217", DECO, "check", r"PreprocessResponse.state must be of type DataStateType"),
    SdkCase("TL218", LEGACY, "check", r"Sample id should be of type str"),
    SdkCase("TL220", LEGACY, "import", r"Please remove the metadata_type on leap_binder.set_metadata"),
    SdkCase("TL221", DECO, "check", r"expected to return a single list\[PreprocessResponse\] object", mode="local",
            from_codes=False, edits=((ENTRY[DECO], "    return responses\n", "    return responses[0], responses[1]\n"),)),
    SdkCase("TL234", DECO, "local", r"LeapValidationError|visualizer returned unexpected type", mode="local"),
    SdkCase("TL235", DECO, "local", r"cross_entropy validation failed: The return type should be a numpy array", mode="local"),
    SdkCase("TL222", DECO, "local", r"gt_encoder validation failed: The function returned None", mode="local"),
    SdkCase("TL226", DECO, "import", r"prediction_types is an optional argument of type List\[PredictionTypeHandler\]"),
    SdkCase("TL227", DECO, "import", r"`direction` must be a MetricDirection"),
    SdkCase("TL301", DECO, "mapping", r"unsupported operand type\(s\) for \*: 'TempMapping' and 'int'",
            line=(ENTRY[DECO], 49)),
    SdkCase("TL302", DECO, "mapping", r"'TempMapping' object has no attribute 'argmax'", line=(ENTRY[DECO], 47)),
    SdkCase("TL302", DECO, "mapping", r"'ModelPlaceholder' object has no attribute 'predict'", from_codes=False, edits=(
        (ENTRY[DECO], "model.run(None, {'image': image})[0]", "model.predict([image])[0]"),), line=(ENTRY[DECO], 45)),
    SdkCase("TL308", DECO, "mapping", r"'list' object has no attribute 'node_mapping'", line=(ENTRY[DECO], 47)),
    SdkCase("TL308", DECO, "mapping", r"'numpy.ndarray' object has no attribute 'node_mapping'", from_codes=False,
            edits=((ENTRY[DECO], "import os\n", "import os\n\nimport numpy as np\n"),
                   (ENTRY[DECO], "    prediction_bar(prediction)", "    prediction_bar(np.squeeze(prediction))")),
            line=(ENTRY[DECO], 49)),
    SdkCase("TL306", DECO, "mapping", r"'TempMapping' object is not subscriptable", line=(ENTRY[DECO], 46)),
    SdkCase("TL307", DECO, "mapping", r"'TempMapping' object is not subscriptable", line=(ENTRY[DECO], 45)),
    # A legacy script without an integration test, pinned to a release that has the platform's check (1.0.189+).
    SdkCase("TL104", LEGACY, "platform", r"No integration test was found", platform=True),
    # A keyword the installed code-loader (1.0.214, the test venv's) does not have.
    SdkCase("TL420", DECO, "import", r"unexpected keyword argument 'modle_input_index'", from_codes=False, edits=(
        ("mnist_tl/encoders.py", "@tensorleap_input_encoder('image', channel_dim=-1)",
         "@tensorleap_input_encoder('image', channel_dim=-1, modle_input_index=0)"),), line=("mnist_tl/encoders.py", 10)),
    # The entry the platform imports is leap.yaml's entryFile: importing a file that does not exist fails.
    SdkCase("TL404", DECO, "import", r"No such file or directory|FileNotFoundError", entry="leap_integraton.py"),
    # The platform imports the uploaded bundle: a module left out of `include` is not there.
    SdkCase("TL405", DECO, "import", r"No module named 'mnist_tl\.", bundle=True),
    SdkCase("TL240", DECO, "import", r"Missing required parameters: \{'noise'\}", from_codes=False, edits=_advanced(
        "@tensorleap_simulation('noise', {'noise': {'type': 'float', 'bounds': {'min': 0.0, 'max': 1.0}}})\n"
        "def noisy(N, seed):\n    return preprocess()[0]\n")),
    SdkCase("TL241", DECO, "import", r"should take exactly 3 positional parameters", from_codes=False, edits=_advanced(
        "@tensorleap_instance_custom_latent_space('digit_part')\n"
        "def digit_part(idx, preprocess):\n    return np.zeros(2, dtype=np.float32)\n")),
    SdkCase("TL242", DECO, "check", r"requires a tensorleap_false_positive_empty_gt", from_codes=False,
            edits=_advanced("@tensorleap_false_positive_instances_encoder('digits')\n"
                            "def false_digits(idx, preprocess, predictions):\n    return []\n")),
    SdkCase("TL243", DECO, "check", r"must not declare input encoders", from_codes=False, edits=_advanced(
        "@tensorleap_autoregressive_step()\n"
        "def next_inputs(sample_id, prev_inputs, prev_outputs, state, preprocess):\n    return None, state\n")),
    SdkCase("TL244", DECO, "import", r"unknown latent_space_aggregation 'max'", from_codes=False, edits=_advanced(
        "@tensorleap_autoregressive_step(latent_space_aggregation='max')\n"
        "def next_inputs(sample_id, prev_inputs, prev_outputs, state, preprocess):\n    return None, state\n")),
    # load_model runs on the local test's first call (mapping mode never calls it): an onnx.load ModelProto is
    # neither Keras nor an onnxruntime session.
    SdkCase("TL607", DECO, "local", r"Supported models are Keras and onnxruntime only and non of them was returned",
            mode="local"),
]

_SCHEMA = "## 2. leap.yaml schema (as the tools actually read it)"
PLATFORM_RULES = [
    PlatformRule("TL102", LEGACY, "rules.md", "### 1.3 Validation model (how checks fire)",
                 "The mandatory order the code-loader status table recommends: integration_test, preprocess, "
                 "input_encoder, gt_encoder, load_model, custom_loss"),
    PlatformRule("TL103", LEGACY, "rules.md", "### 1.7 load_model / prediction types",
                 "`@tensorleap_load_model` is mandatory."),
    PlatformRule("TL104", DECO, "rules.md", "### 1.3 Validation model (how checks fire)",
                 "`@tensorleap_integration_test` must exist. On the platform, a missing one aborts the push"),
    PlatformRule("TL401", DECO, "rules.md", _SCHEMA,
                 "It is rewritten even when YAML unmarshalling *failed*: it writes back the partly parsed struct "
                 "and only then returns the error."),
    PlatformRule("TL403", DECO, "rules.md", _SCHEMA, "**yes**: push fails if empty or missing"),
    PlatformRule("TL404", DECO, "rules.md", "### 5.4 `tensorleap/concierge`",
                 "empty `entryFile`, entry file missing, a directory, or outside the repo"),
    PlatformRule("TL411", DECO, "rules.md", _SCHEMA, "Authoritative struct: `WorkspaceConfig` in leap-cli "
                 "`pkg/workspace/config.go`."),
    PlatformRule("TL412", DECO, "rules.md", _SCHEMA, "| `include` | list of glob |"),
]


def error_codes(groups: str = "1234") -> set[str]:
    """Static codes that are errors (including 'error with decorators, warning with legacy'). The 6xx errors
    that need the model file are proven in tests/model/; TL607 (no model file) has its case here too."""
    return {c.code for c in CODES.values() if c.code[2] in groups
            and (c.severity == Severity.ERROR or "error" in c.severity_note)}


def test_every_error_code_has_an_oracle():
    covered = {c.code for c in SDK_CASES} | {r.code for r in PLATFORM_RULES}
    missing = sorted(error_codes() - covered)
    assert not missing, f"error codes without an SDK oracle case or a cited platform rule: {missing}"
    stale = sorted(covered - error_codes("12346"))
    assert not stale, f"oracle cases for codes that are not errors (any more): {stale}"


def _fixture(tmp_path: Path, code: str, base: str, from_codes: bool, edits) -> Path:
    if from_codes:
        cases = [c for c in TC.CASES if c.code == code and c.base == base]
        assert cases, f"tests/core/test_codes.py has no {code} case on {base}"
        root = TC.plant(tmp_path, cases[0])
    else:
        root = TC._project(tmp_path, base)
    for file, old, new in edits:
        target = root / file
        if old is None:
            target.write_bytes(new) if isinstance(new, bytes) else target.write_text(new, encoding="utf-8")
            continue
        text = target.read_text(encoding="utf-8")
        assert old in text, f"fixture drifted: {old!r} not in {file}"
        target.write_text(text.replace(old, new, 1), encoding="utf-8")
    return root


def _reported(root: Path, code: str, severity: Severity = Severity.ERROR) -> list:
    """tensorleap-ls's findings of ``code`` on ``root``, at least one of them at ``severity``."""
    analysis = analyze(root)
    hits = [f for f in analysis.findings if f.code == code]
    assert hits, f"tensorleap-ls does not report {code}: {describe(analysis.findings)}"
    assert any(f.effective_severity == severity for f in hits), describe(hits)
    return hits


@pytest.mark.parametrize("case", SDK_CASES, ids=lambda c: c.id)
def test_sdk_rejects_and_we_report(tmp_path, sdk, case: SdkCase):
    root = _fixture(tmp_path / "project", case.code, case.base, case.from_codes, case.edits)
    run_root = bundle_copy(root, tmp_path / "bundle") if case.bundle else root
    result = sdk.run(run_root, case.entry or ENTRY[case.base], mode=case.mode, platform=case.platform)
    assert not result["ok"], f"the SDK accepts the {case.code} fixture: {result['log'][-800:]}"
    assert result["stage"] == case.stage, (result["stage"], result["error"])
    assert re.search(case.message, result["error"] or ""), result["error"]
    if case.line is not None:
        assert result["where"], result
        assert (result["where"][-1]["file"], result["where"][-1]["line"]) == case.line, result["where"]
    hits = _reported(root, case.code)
    if case.line is not None and case.same_line:  # the SDK and tensorleap-ls point at the same line
        assert any(f.span.line + 1 == case.line[1] and Path(f.span.path) == (root / case.line[0]).resolve()
                   for f in hits), describe(hits)


def test_examples_pass_the_sdk(tmp_path, sdk):
    """The passing side of every case: the two examples, unmodified, pass the same runs."""
    for base in (DECO, LEGACY):
        root = TC._project(tmp_path, base)
        for mode in ("load", "local"):
            result = sdk.run(root, ENTRY[base], mode=mode, platform=base == DECO and mode == "load")
            assert result["ok"], (base, mode, result["error"], result["log"][-800:])
        assert sdk.run(bundle_copy(root, tmp_path / f"{base}-bundle"), ENTRY[base])["ok"]


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    level = heading.split(" ")[0]
    nxt = re.search(rf"^#{{1,{len(level)}}} ", text[start + len(heading):], re.M)
    return text[start: start + len(heading) + (nxt.start() if nxt else len(text))]


@pytest.mark.parametrize("rule", PLATFORM_RULES, ids=lambda r: r.code)
def test_platform_rule(tmp_path, sdk, rule: PlatformRule):
    doc = SHARED / rule.doc
    if not doc.exists():
        pytest.skip(f"the SDK reference {doc} is not on this machine (the citation cannot be checked)")
    norm = lambda s: " ".join(s.split())  # noqa: E731
    section = _section(doc.read_text(encoding="utf-8"), rule.section)
    assert norm(rule.quote) in norm(section), f"{rule.doc} '{rule.section}' does not say: {rule.quote}"
    root = _fixture(tmp_path, rule.code, rule.base, True, rule.edits)
    _reported(root, rule.code)
    if rule.code.startswith("TL4"):
        return  # leap.yaml is read by the leap CLI only: the SDK never sees it
    result = sdk.run(root, ENTRY[rule.base])
    assert result["ok"], f"the SDK itself rejects the {rule.code} fixture: make it an SdkCase ({result['error']})"
