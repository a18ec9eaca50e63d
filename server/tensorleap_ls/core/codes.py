"""The one registry of diagnostic codes.

Groups: 1xx structure of the integration, 2xx contract of one binding,
3xx integration-test body, 4xx leap.yaml / bundle / environment, 5xx dynamic (run-time) checks,
6xx the data side against the model file `load_model` loads (static and run-time).
The README table is generated from this registry (``python -m tensorleap_ls.docs``)
and a test checks they agree. Codes are stable: never renumber, only add.
Severity policy (README "Diagnostic codes"; enforced by tests/oracle/): ERROR only where the real SDK
or a documented platform rule fails the code; WARNING only where a run of the real SDK shows
misbehaviour (an exception, a wrong value, a refused push) or a documented platform rule says so;
INFORMATION for what the SDK itself warns about at run time; HINT otherwise. Once per root cause.
A finding may override the default severity (e.g. the decorator API raises where the
legacy API silently accepts); ``severity_note`` documents such cases.
"""

from __future__ import annotations

from dataclasses import dataclass

from tensorleap_ls.core.fixdata import (
    Annotated, ChannelDim, Companion, DefaultChannelDim, DefaultState, Distribution, EncoderDtype, ExpectedSize, FilePath,
    FixData, Function, FunctionKind, ImportedName, InsertAt, InsertKeyword, Install, Keyword, MetadataOrder, MissingPart, ModelName,
    NameKind, NotInTest, ObservedShape, OfKind, Replacement, RunSample, SdkName, SdkPin, SessionCall, StateMember,
    StringizedAnnotation, SyntaxDetail, TestStatement, UndefinedName, UnknownKey, UnlistedRequirement, VisualizerAnnotation, YamlValue,
)
from tensorleap_ls.core.model import Severity

E, W, I, H = Severity.ERROR, Severity.WARNING, Severity.INFORMATION, Severity.HINT


@dataclass(frozen=True)
class Code:
    code: str
    slug: str
    severity: Severity
    summary: str
    example: str
    severity_note: str = ""
    data: type[FixData] | tuple[type[FixData], ...] | None = None  # what its findings carry for a fix (core/fixdata.py)


CODES: dict[str, Code] = {}


def _code(code: str, slug: str, severity: Severity, summary: str, example: str, severity_note: str = "",
          data: type[FixData] | tuple[type[FixData], ...] | None = None) -> str:
    """Register one row; the constant it is assigned to (the slug in capitals) is what checks emit."""
    assert code not in CODES, f"duplicate code {code} in the registry"
    CODES[code] = Code(code, slug, severity, summary, example, severity_note, data)
    return code


# 1xx: structure of the integration
MISSING_PREPROCESS = _code("TL101", "missing-preprocess", E, "No preprocess function is registered.", "no `@tensorleap_preprocess` / `leap_binder.set_preprocess(...)`", data=MissingPart)
MISSING_INPUT = _code("TL102", "missing-input", E, "No input encoder is registered.", "no `@tensorleap_input_encoder` / `leap_binder.set_input(...)`", data=MissingPart)
MISSING_MODEL = _code("TL103", "missing-model", E, "No model outputs are declared: no `tensorleap_load_model` and no `add_prediction`.", "decorator project without `@tensorleap_load_model([...])`", data=MissingPart)
MISSING_INTEGRATION_TEST = _code("TL104", "missing-integration-test", E, "Decorator-style integration without `@tensorleap_integration_test`: the platform aborts the push.", "decorators used, no `@tensorleap_integration_test()`", data=MissingPart)
MISSING_LOSS = _code("TL105", "missing-loss", W, "Decorator-style integration without a custom loss: the platform build fails at 'Testing Loss' (a legacy `leap_binder` has the SDK's built-in losses).", "no `@tensorleap_custom_loss` / `add_custom_loss`", data=MissingPart)
MISSING_GROUND_TRUTH = _code("TL106", "missing-ground-truth", W, "No ground-truth encoder (legal only for unlabeled data).", "no `@tensorleap_gt_encoder` / `set_ground_truth`", data=MissingPart)
UNDEFINED_FUNCTION = _code("TL110", "undefined-function", E, "A registration names a function that is not defined.", "`leap_binder.set_input(encode_imgae, 'image')`", data=FunctionKind)
NOT_CALLABLE = _code("TL111", "not-callable", E, "A registration names something that is not callable.", "`leap_binder.set_input(IMAGE_SIZE, 'image')`", data=FunctionKind)
UNRESOLVED_IMPORT = _code("TL112", "unresolved-import", E, "A name is imported from a local module that does not bind it (ImportError where the import runs; a registration naming it points here).", "`from mnist_tl.encoders import gt_encoder` after `gt_encoder` was deleted", "warning where the import runs only under a condition", data=(ImportedName, FunctionKind))
UNDEFINED_AT_IMPORT = _code("TL113", "undefined-at-import", E, "A name used by code that runs when the module is imported is not defined: a decorator, a decorator argument, a module-level call, a class body (NameError at import).", "`@tensorleap_input_encodr('image')`", "warning where that code runs only under a condition", data=UndefinedName)
UNDEFINED_NAME = _code("TL114", "undefined-name", E, "A name used in a registered function, the integration test or a helper they call is not defined (NameError when it runs).", "`scale = normalise_factor(idx)` in an encoder", "warning where the line runs only under a condition", data=UndefinedName)
DUPLICATE_NAME = _code("TL120", "duplicate-name", E, "Two bindings of one kind share a name (built-in names such as `Image`, `Accuracy` count).", "`@tensorleap_custom_metric('Accuracy')`", "error with decorators (the SDK raises at import); warning with the legacy API (the second silently shadows the first)", data=NameKind)
NAME_ACROSS_KINDS = _code("TL121", "name-across-kinds", H, "The same name is used by bindings of different kinds (the SDK checks names within one kind only; the platform lists them side by side).", "input `image` and visualizer `image`", data=NameKind)
EMPTY_NAME = _code("TL122", "empty-name", H, "A binding is registered with an empty name.", "`@tensorleap_gt_encoder('')`", data=OfKind)
REGISTERED_TWICE = _code("TL123", "registered-twice", W, "preprocess / load_model / integration test registered more than once: only the last one counts.", "two `@tensorleap_preprocess()` functions", data=OfKind)
SYNTAX_ERROR = _code("TL190", "syntax-error", E, "The file does not parse; the rest of the project keeps its last good analysis.", "`def f(:`", data=SyntaxDetail)
UNREADABLE_FILE = _code("TL191", "unreadable-file", E, "A file of the integration cannot be read or decoded.", "a module saved as Latin-1 with non-ASCII bytes", data=FilePath)
# 2xx: contract of one binding
PREPROCESS_PARAMS = _code("TL201", "preprocess-params", E, "The preprocess function must take no parameters.", "`def preprocess(path):`", data=FunctionKind)
ENCODER_SIGNATURE = _code("TL202", "encoder-signature", E, "Encoders and metadata functions take exactly `(sample_id, preprocess)`.", "`def encode(preprocess):`", data=FunctionKind)
INTEGRATION_TEST_SIGNATURE = _code("TL203", "integration-test-signature", E, "The integration test takes exactly two parameters `(sample_id, preprocess)`.", "`def test(idx):`", data=FunctionKind)
NO_ARGUMENTS = _code("TL204", "no-arguments", E, "Visualizers, metrics and losses take at least one argument.", "`def my_metric() -> np.ndarray:`", data=FunctionKind)
MULTIPLE_SAMPLE_PREPROCESS = _code("TL205", "multiple-sample-preprocess", E, "At most one argument may be annotated `SamplePreprocessResponse`.", "`def viz(a: SamplePreprocessResponse, b: SamplePreprocessResponse)`", data=FunctionKind)
HEATMAP_ARGS = _code("TL206", "heatmap-args", E, "A heatmap function must take the same arguments as its visualizer.", "visualizer `(image)`, heatmap `(img)`", data=FunctionKind)
NOT_A_CLASS = _code("TL207", "not-a-class", E, "A custom layer must be a class with a `call` method.", "`leap_binder.set_custom_layer(my_fn, 'layer')`", data=FunctionKind)
ENCODER_RETURN_ANNOTATION = _code("TL210", "encoder-return-annotation", H, "An input/ground-truth encoder is annotated to return something other than an ndarray.", "`def encode(i, p) -> list:`", data=Annotated)
VISUALIZER_NO_ANNOTATION = _code("TL211", "visualizer-no-annotation", I, "A visualizer has no return annotation (the SDK prints a warning and cannot check its type).", "`def viz(image):`", data=VisualizerAnnotation)
STRINGIZED_ANNOTATION = _code("TL212", "stringized-annotation", E, "`from __future__ import annotations` in a file with visualizers: the SDK cannot read their return class.", "`from __future__ import annotations` + `@tensorleap_custom_visualizer`", data=StringizedAnnotation)
VISUALIZER_RETURN_MISMATCH = _code("TL213", "visualizer-return-mismatch", E, "The visualizer's return annotation is not the `Leap*` class matching `visualizer_type`.", "`LeapDataType.Image` with `-> LeapHorizontalBar`", data=VisualizerAnnotation)
METADATA_ANNOTATION = _code("TL214", "metadata-annotation", H, "A metadata function is annotated to return a non-scalar.", "`def meta(i, p) -> list:`", data=Annotated)
VISUALIZER_TYPE = _code("TL215", "visualizer-type", E, "`visualizer_type` is not a `LeapDataType` member.", "`tensorleap_custom_visualizer('v', 'image')`", data=Function)
CHANNEL_DIM = _code("TL216", "channel-dim", E, "`channel_dim` must be -1 or a positive axis of the batched tensor.", "`channel_dim=0`", "error with the decorator (it raises); warning with `set_input` (accepted, then wrong on the platform)", data=ChannelDim)
STATE_TYPE = _code("TL217", "state-type", E, "`PreprocessResponse.state` must be a `DataStateType` member, not a string or `DataStateEnum`.", "`state='training'`", data=StateMember)
SAMPLE_ID_TYPE = _code("TL218", "sample-id-type", E, "Integer `sample_ids` need `sample_id_type=int`.", "`PreprocessResponse(sample_ids=[0, 1, 2])`", data=InsertAt)
DEPRECATED_LENGTH = _code("TL219", "deprecated-length", I, "`PreprocessResponse(length=...)` is deprecated (it works and prints nothing); reported once per project, with a fix for every site.", "`PreprocessResponse(length=100)`", data=Keyword)
OLD_METADATA_ORDER = _code("TL220", "old-metadata-order", E, "Old `set_metadata(function, DatasetMetadataType.x, name)` argument order: raises a TypeError.", "`set_metadata(f, DatasetMetadataType.int, 'label')`", data=MetadataOrder)
PREPROCESS_TUPLE = _code("TL221", "preprocess-tuple", E, "preprocess returns a tuple; it must return a list of `PreprocessResponse`.", "`return train, val`", "error with the decorator (it raises); hint with the legacy API (the SDK and the platform accept a tuple)", data=FunctionKind)
GT_RETURNS_NONE = _code("TL222", "gt-returns-none", E, "A ground-truth encoder returns None; return `np.array([], dtype=np.float32)` for unlabeled data.", "`return None`", data=FunctionKind)
ENCODER_DTYPE = _code("TL223", "encoder-dtype", W, "An encoder visibly returns a non-float32 array (float64 / integer dtype).", "`return np.zeros((3, 3))`", data=EncoderDtype)
ENCODER_NOT_ARRAY = _code("TL224", "encoder-not-array", W, "An encoder visibly returns a non-array (list, tuple, scalar, string).", "`return [1.0, 2.0]`", data=FunctionKind)
METADATA_NON_SCALAR = _code("TL225", "metadata-non-scalar", W, "A metadata function visibly returns a list, tuple, array or nested dict.", "`return [a, b]`", data=FunctionKind)
PREDICTION_TYPES_TYPE = _code("TL226", "prediction-types-type", E, "`tensorleap_load_model` takes a list of `PredictionTypeHandler`.", "`@tensorleap_load_model(PredictionTypeHandler(...))`", data=Function)
METRIC_DIRECTION = _code("TL227", "metric-direction", E, "`direction` must be a `MetricDirection` member (or a dict of them).", "`direction='up'`", data=Function)
METADATA_TYPE = _code("TL228", "metadata-type", H, "`metadata_type` should be a `DatasetMetadataType` member (or a dict of them); the SDK stores anything else unchecked.", "`metadata_type='int'`", data=Function)
LEAP_RESULT_TYPE = _code("TL234", "leap-result-type", E, "A `Leap*` visualizer result is built with a value its own validation rejects (a list where an ndarray is needed, ints in `LeapText`, a float64 bar body): LeapValidationError wherever the visualizer runs.", "`LeapText([start, end])` with int positions", data=FunctionKind)
LOSS_METRIC_RETURN = _code("TL235", "loss-metric-return", E, "A decorated custom loss or metric returns what its decorator rejects (a Python or numpy scalar, None, a TensorFlow / PyTorch tensor).", "`return tf.reduce_mean(loss)` in a `@tensorleap_custom_loss`", data=FunctionKind)
DEFAULT_CHANNEL_DIM = _code("TL230", "default-channel-dim", I, "`channel_dim` is not set; the SDK defaults it to -1 and warns.", "`@tensorleap_input_encoder('image')`", data=DefaultChannelDim)
DEFAULT_DIRECTION = _code("TL231", "default-direction", I, "Metric `direction` is not set; the SDK defaults it to Downward and warns.", "`@tensorleap_custom_metric('acc')`", data=InsertKeyword)
DEFAULT_STATE = _code("TL232", "default-state", I, "`PreprocessResponse.state` is not set; the state is inferred from list position and the SDK warns (once per preprocess).", "`PreprocessResponse(sample_ids=ids)`", data=DefaultState)
DEFAULT_PREDICTION_TYPES = _code("TL233", "default-prediction-types", I, "`tensorleap_load_model` without prediction types, or a `PredictionTypeHandler` without `channel_dim`.", "`@tensorleap_load_model()`", data=Function)
SIMULATION_PARAMS = _code("TL240", "simulation-params", E, "A simulation's parameters must be its `sim_params` keys plus `N` and `seed`, and `sim_params` must be a valid simulation config.", "`@tensorleap_simulation('s', {'scale': ...})` on `def sim(N, seed)`", data=FunctionKind)
ADVANCED_SIGNATURE = _code("TL241", "advanced-signature", E, "An instance, false-positive, latent-space or autoregressive function takes other parameters than the SDK calls it with.", "`@tensorleap_instances_masks_encoder('o')` on `def mask(sample_id, preprocess)`", data=FunctionKind)
MISSING_COMPANION = _code("TL242", "missing-companion", E, "A registrar lacks the companion the SDK requires (false positives need an empty ground truth per ground-truth encoder, autoregressive metrics need the step hook...).", "`@tensorleap_false_positive_instances_encoder` without `@tensorleap_false_positive_empty_gt`", data=Companion)
AUTOREGRESSIVE_CONFLICT = _code("TL243", "autoregressive-conflict", E, "An autoregressive integration also has what the SDK forbids beside `tensorleap_autoregressive_step` (input encoders, simulations, element instances, custom latent spaces) or no prediction types.", "`@tensorleap_autoregressive_step()` and `@tensorleap_input_encoder('x')`", data=OfKind)
REGISTRAR_ARGUMENT = _code("TL244", "registrar-argument", E, "An argument of an advanced registrar has a value the SDK rejects.", "`@tensorleap_autoregressive_step(latent_space_aggregation='max')`", data=(FunctionKind, NameKind))
IGNORED_ARGUMENT = _code("TL245", "ignored-argument", I, "An argument the SDK ignores with a warning.", "`@tensorleap_instance_custom_latent_space('box', use_ls_for_analysis=True)`", data=NameKind)
# 3xx: integration-test body
TEST_ARITHMETIC = _code("TL301", "test-arithmetic", E, "Arithmetic in the integration test body: the mapping pass raises.", "`loss(gt, pred * 2)`", data=TestStatement)
TEST_LIBRARY_CALL = _code("TL302", "test-library-call", W, "A numpy/torch/tf/other library call in the integration test body; move it into a decorated function.", "`np.argmax(pred)`", "error where it reads an attribute the mapping placeholder lacks (`model.predict(...)`, `pred.argmax(-1)`, `image.shape`): AttributeError in the mapping pass", data=TestStatement)
TEST_PLAIN_CALL = _code("TL303", "test-plain-call", W, "A call of a function that is not a Tensorleap-decorated function in the integration test body.", "`postprocess(pred)`", data=TestStatement)
TEST_DATA_ACCESS = _code("TL304", "test-data-access", W, "The integration test reads the data directly (`preprocess.data`, computing on `sample_id`).", "`preprocess.data['x'][idx]`", data=TestStatement)
TEST_BATCH_DIM = _code("TL305", "test-batch-dim", W, "Manual batch dimension in the integration test: decorated calls already add it.", "`np.expand_dims(image, 0)`", data=TestStatement)
TEST_BAD_INDEX = _code("TL306", "test-bad-index", E, "Indexing in the integration test of something other than the model's predictions.", "`image[0]`", data=TestStatement)
TEST_DOUBLE_INDEX = _code("TL307", "test-double-index", E, "A prediction is indexed twice (`'TempMapping' object is not subscriptable`).", "`model.run(None, {...})[0][0]`", data=TestStatement)
TEST_NOT_A_PLACEHOLDER = _code("TL308", "test-not-a-placeholder", E, "A visualizer, metric or loss in the integration test gets a value that is not a mapping placeholder (a constant, a list, an array computed in the body): the mapping pass reads its `node_mapping` and raises.", "`prediction_bar(np.squeeze(prediction))`", data=TestStatement)
NOT_IN_TEST = _code("TL310", "not-in-test", H, "A decorated function that the integration test never calls stays unwired on the platform.", "`@tensorleap_custom_metric` never called in the test", "information (one finding) when `load_model` is a stub that raises `NotImplementedError`: the model, metrics and losses wait for it", data=NotInTest)
# 4xx: leap.yaml and bundle
YAML_PARSE = _code("TL401", "yaml-parse", E, "leap.yaml does not parse.", "a tab used for indentation")
YAML_UNKNOWN_KEY = _code("TL402", "yaml-unknown-key", W, "Unknown key in leap.yaml (the leap CLI drops it on rewrite).", "`entry_file: x.py`", data=UnknownKey)
YAML_NO_ENTRY = _code("TL403", "yaml-no-entry", E, "leap.yaml has no `entryFile`: push fails.", "leap.yaml without `entryFile`")
YAML_ENTRY_MISSING = _code("TL404", "yaml-entry-missing", E, "leap.yaml's `entryFile` does not exist, is a folder or lies outside the project.", "`entryFile: leap_integraton.py`")
NOT_INCLUDED = _code("TL405", "not-included", E, "A local module the integration imports is left out of the bundle by `include`/`exclude`.", "`include: [leap_integration.py]` while it imports `utils.py`", data=FilePath)
DATA_NOT_INCLUDED = _code("TL406", "data-not-included", W, "A project file the integration opens by a literal path is left out of the bundle.", "`open('labels.txt')` not matched by `include`", data=FilePath)
NO_REQUIREMENTS = _code("TL407", "no-requirements", W, "No `requirements.txt` at the project root: the platform cannot install dependencies.", "project without requirements.txt")
UNLISTED_REQUIREMENT = _code("TL408", "unlisted-requirement", W, "A third-party package imported when the entry is imported is not listed in requirements.txt (one finding per package, at its first import).", "`import cv2` without `opencv-python`", data=UnlistedRequirement)
PYTHON_VERSION = _code("TL409", "python-version", W, "`pythonVersion` must look like `py38`, `py310`, `py311`.", "`pythonVersion: 3.10`", data=YamlValue)
YAML_LEGACY_KEY = _code("TL410", "yaml-legacy-key", I, "Obsolete leap.yaml key.", "`codeIntegrationId: ...`")
YAML_NOT_MAPPING = _code("TL411", "yaml-not-mapping", E, "leap.yaml is empty or not a mapping.", "leap.yaml holding a list")
YAML_BAD_VALUE = _code("TL412", "yaml-bad-value", E, "A leap.yaml value has the wrong type.", "`include: leap_integration.py` (a string, not a list)")
UNPINNED_SDK = _code("TL413", "unpinned-sdk", I, "requirements.txt does not pin `code-loader`: the platform provides its own version.", "requirements.txt without `code-loader==1.0.214`", data=Distribution)
SDK_API_MISSING = _code("TL420", "sdk-api-missing", E, "The code uses a name, keyword or enum member that the installed code-loader lacks (the import or call fails); the message gives the first release that has it.", "`from code_loader... import tensorleap_integration_test` with code-loader 1.0.100", data=SdkName)
SDK_PIN_MISMATCH = _code("TL421", "sdk-pin-mismatch", I, "requirements pin a code-loader version other than the installed one: the platform installs the pin, the local checks ran with the other.", "`code-loader==1.0.150` with 1.0.214 installed", data=SdkPin)
DECLARED_NOT_INSTALLED = _code("TL422", "declared-not-installed", W, "A module comes from a distribution the requirements declare but this environment lacks: importing it fails locally (`pip install` it).", "`from code_loader.helpers.detection.yolo import utils` with `code-loader-helpers` declared, not installed", data=Install)
# 5xx: dynamic checks (run-time, on real samples)
RUN_EXCEPTION = _code("TL501", "run-exception", E, "A function raised on a sample (the sample id and subset are in the message).", "KeyError on validation sample 37", data=RunSample)
RUN_PREPROCESS_FAILED = _code("TL502", "run-preprocess-failed", E, "preprocess raised or returned something the SDK rejects.", "preprocess raises FileNotFoundError", data=RunSample)
RUN_NOT_ARRAY = _code("TL503", "run-not-array", E, "An encoder returned something other than one ndarray (None, tuple, list...).", "returns a list", data=RunSample)
RUN_DTYPE = _code("TL504", "run-dtype", E, "An encoder returned an array that is not float32.", "float64 image", data=RunSample)
RUN_NAN = _code("TL505", "run-nan", W, "An encoder or metadata returned NaN or Inf.", "division by zero in normalisation", data=RunSample)
RUN_SHAPE_DRIFT = _code("TL506", "run-shape-drift", E, "An encoder's shape differs across samples or subsets.", "(224, 224, 3) vs (224, 200, 3)", data=RunSample)
RUN_BATCH_AXIS = _code("TL507", "run-batch-axis", W, "An encoder's result has a leading axis of size 1: the batch axis is added twice.", "shape (1, 28, 28)", data=RunSample)
RUN_METADATA_TYPE_DRIFT = _code("TL508", "run-metadata-type-drift", W, "A metadata value changes type across samples (it is silently coerced).", "int on one sample, str on another", data=RunSample)
RUN_METADATA_KEYS_DRIFT = _code("TL509", "run-metadata-keys-drift", E, "A metadata dict has different keys on different samples (KeyError on the platform).", "{'a': 1} vs {'b': 1}", data=RunSample)
RUN_METADATA_VALUE = _code("TL510", "run-metadata-value", E, "A metadata value is not a scalar (list, array, nested dict).", "returns [1, 2]", data=RunSample)
RUN_METADATA_NONE = _code("TL511", "run-metadata-none", E, "Metadata is None on the first training sample and no `metadata_type` is given.", "returns None for sample 0", data=RunSample)
RUN_DUPLICATE_IDS = _code("TL512", "run-duplicate-ids", E, "Duplicate sample ids in a subset.", "sample_ids=[0, 0, 1]", data=RunSample)
RUN_MIXED_ID_TYPES = _code("TL513", "run-mixed-id-types", E, "Sample ids of mixed types (within or across subsets).", "[0, 'a']", data=RunSample)
RUN_LONG_ID = _code("TL514", "run-long-id", E, "A string sample id is longer than 256 characters.", "a full file path as id", data=RunSample)
RUN_MISSING_SUBSET = _code("TL515", "run-missing-subset", E, "preprocess returns no training or no validation subset.", "only training", data=RunSample)
RUN_EMPTY_SUBSET = _code("TL516", "run-empty-subset", E, "A subset has no samples.", "sample_ids=[]", data=RunSample)
RUN_NONDETERMINISTIC = _code("TL517", "run-nondeterministic", W, "An encoder gives different arrays for the same sample.", "random augmentation in the encoder", data=RunSample)
RUN_VISUALIZER_CLASS = _code("TL518", "run-visualizer-class", E, "A visualizer returned the wrong `Leap*` class.", "LeapImage for a HorizontalBar visualizer", data=RunSample)
RUN_LEAP_VALIDATION = _code("TL519", "run-leap-validation", E, "A `Leap*` object failed the SDK's own validation.", "LeapImage with 2-D data", data=RunSample)
RUN_BLACK_IMAGE = _code("TL520", "run-black-image", W, "A float image in [0, 1]: it renders black on the platform (use uint8 0-255).", "LeapImage(data=x.astype(np.float32))", data=RunSample)
RUN_SIZE_MISMATCH = _code("TL521", "run-size-mismatch", W, "Mask / heatmap / label sizes do not match the image or body.", "mask 28x28 on a 32x32 image", data=RunSample)
RUN_BBOX_RANGE = _code("TL522", "run-bbox-range", W, "Bounding boxes outside [0, 1] relative coordinates.", "BoundingBox(x=120, ...)", data=RunSample)
RUN_INTEGRATION_TEST = _code("TL523", "run-integration-test", E, "The integration test failed on a sample (the SDK's validation message, at its line).", "input_encoder() validation failed: float64", data=RunSample)
RUN_METRIC_RESULT = _code("TL524", "run-metric-result", E, "A metric or loss returned an unsupported result (scalar, 2-D array...).", "loss returns a float", data=RunSample)
RUN_TIMEOUT = _code("TL530", "run-timeout", E, "A call exceeded the time limit (infinite loop, very slow code).", "`while True: pass`", data=RunSample)
RUN_MEMORY = _code("TL531", "run-memory", E, "The child ran out of memory (MemoryError or the memory limit).", "allocating 100 GB", data=RunSample)
RUN_CRASH = _code("TL532", "run-crash", E, "The child process died (segfault, `os._exit`, killed).", "`os._exit(3)`", data=RunSample)
RUN_EXIT = _code("TL533", "run-exit", E, "User code called `sys.exit()`.", "`sys.exit(1)` in preprocess", data=RunSample)
RUN_INTERPRETER = _code("TL534", "run-interpreter", E, "The project interpreter cannot run the checks (not found, no code_loader, too old).", "code-loader not installed in the selected interpreter", data=Install)
RUN_IMPORT_FAILED = _code("TL535", "run-import-failed", E, "Importing the entry file raised (as the platform imports it).", "ImportError at import time", data=RunSample)
RUN_METADATA_MISSING = _code("TL536", "run-metadata-missing", I, "Metadata is None on a sample (not the first training one): the platform stores a default for it (-1, 'None', False) and marks it missing.", "returns None when an annotation is absent", data=RunSample)
# 6xx: the data side against the model `load_model` loads (facts read from the model file)
MODEL_UNREADABLE = _code("TL600", "model-unreadable", I, "The model file `load_model` loads (in a legacy project: the one its local test loads) cannot be read in the project interpreter (library missing, broken file): the model checks are skipped.", "`model.h5` without TensorFlow in the interpreter", data=ModelName)
MODEL_FEED_NAMES = _code("TL601", "model-feed-names", E, "The integration test feeds the model inputs it does not have, misses one, or feeds them out of order: the SDK raises on the first inference.", "`model.run(None, {'imgae': x})`", data=Replacement)
PREDICTION_COUNT = _code("TL602", "prediction-count", E, "The number of prediction types differs from the number of model outputs: the SDK raises on the first inference.", "3 `PredictionTypeHandler`s for a 2-output model", "warning for `add_prediction`s against the model a legacy project's local test loads: no SDK check runs there")
LABELS_SIZE = _code("TL603", "labels-size", W, "A prediction type's `labels` length differs from the size of its model output on `channel_dim` (the platform shows wrong class names).", "10 labels for an output of shape (N, 1000)", data=ExpectedSize)
MODEL_INPUT_INDEX = _code("TL604", "model-input-index", W, "`model_input_index` names no input of the model, or two encoders claim the same model input.", "`model_input_index=2` for a 2-input model", "error for an index outside 0-9 (the SDK raises at import)")
LOSS_INPUT_NOT_FED = _code("TL605", "loss-input-not-fed", E, "A custom loss consumes an input encoder that is fed to no model input: the platform model build crashes.", "`loss(image, pred)` while the model gets `tokens` only")
CHANNEL_DIM_LAYOUT = _code("TL606", "channel-dim-layout", W, "An input encoder's `channel_dim` points at another axis than the channels of the model input it feeds (channels-first vs channels-last).", "`channel_dim=-1` for an input of shape (N, 3, 224, 224)", data=Replacement)
LOAD_MODEL_UNSUPPORTED = _code("TL607", "load-model-unsupported", E, "`load_model` visibly returns a model the SDK does not run (TorchScript, `torch.load`, a TFLite interpreter, an `onnx.load` ModelProto): code-loader accepts a Keras model or an onnxruntime `InferenceSession` only and raises when load_model runs.", "`return torch.jit.load('model.pt')`", data=SessionCall)
RUN_MODEL_INPUT_SHAPE = _code("TL610", "run-model-input-shape", E, "An input encoder's shape (with the batch axis) does not fit the model input it feeds; names the axis to move for channels-first/last confusion.", "(224, 224, 3) for an input of shape (N, 3, 224, 224)", data=ObservedShape)
RUN_MODEL_INPUT_DTYPE = _code("TL611", "run-model-input-dtype", W, "The model input an encoder feeds is not float32: the SDK casts the float32 array to it (re-export the model with float32 inputs).", "an `int64` `input_ids` input")


def constant_name(code: Code) -> str:
    """The name of the constant a row is assigned to: its slug in capitals (a test checks they agree)."""
    return code.slug.upper().replace("-", "_")


def severity_of(code: str) -> Severity:
    return CODES[code].severity
