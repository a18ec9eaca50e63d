"""The registrar table: one row per code-loader 1.0.214 registrar kind, holding everything the product says
or generates about it. ``core/sdk/bundled.py`` builds its lookups from ``ROWS``; the generators (stubs, completion,
hover, signature help, the checklist lens, the structure check's labels and name rules) read those.

A row is a decorator (``tensorleap_*``) with, nested, the ``leap_binder`` method that registers the same
thing (``legacy``). Adding a registrar kind = adding a row here (its stub must pass the real SDK:
tests/advanced/test_advanced_stubs.py runs every row's stub through code-loader).

Stub templates are the decorator form; ``str.format`` fields: ``{function}``, ``{name}`` (the registered
name; for the autoregressive step and model loop: the model input), ``{shape}`` (a ground truth's or a
latent space's shape, the model input's for the step); any other field names a function the stub calls
(default: the field's own name, e.g. ``{preprocess}``). The legacy form is the function without the decorator line, then ``leap_binder.<legacy>(<function>, <the
decorator's arguments>)``, unless the legacy registrar has its own ``stub``.
"""

from __future__ import annotations

from dataclasses import dataclass

from tensorleap_ls.core.model import Kind


@dataclass(frozen=True)
class Registrar:
    """A ``tensorleap_*`` decorator or a ``leap_binder`` method."""

    name: str
    kind: Kind  # a legacy method in ROWS without its own: None, core/sdk/bundled.py gives it its row's kind and facts
    params: tuple[str, ...]  # SDK parameter names in positional order (excluding self)
    function_param: str | None  # which parameter holds the function (legacy); None for decorators
    name_param: str | None  # which parameter holds the registered name
    doc: str = ""
    # The positional parameters the SDK calls the user function with, when it checks or calls them
    # positionally (core/checks/registrars.py reports a different count); () = not checked there.
    signature: tuple[str, ...] = ()
    # Registrars that must accompany this one (hover, checklist lens, TL242).
    companions: tuple[str, ...] = ()
    summary: str = ""  # the one-line contract of a common kind ("" = ``doc`` is the contract)
    advanced: bool = False  # an issue-15 registrar: ``doc`` describes 1.0.214 only
    label: str = ""  # what messages call a registration of this kind ("" = the kind's value)
    snippet: str = ""  # completion arguments ("" = from the stub's decorator line)
    stub: str = ""  # see the module docstring
    stub_names: tuple[str, ...] = ()  # names the stub imports (core/stubs.IMPORTS)
    legacy: Registrar | None = None  # the leap_binder method registering the same (ROWS only)
    # A legacy method's decorator, whose contract it shares (in ROWS "*"; core/sdk/bundled.py fills in the row's name).
    twin: str = ""
    converts: bool = False  # legacy -> decorator refactoring rewrites this legacy call (core/fixes.py)
    named: bool = False  # the SDK rejects two registrations of this kind with one name
    paired: bool = False  # may share its name with the other paired kind (a ground truth and its prediction)
    singleton: bool = False  # one per project: registering again replaces
    takes: str = ""  # "sample": (sample_id, preprocess); "tensors": batched arrays by name
    builtin_names: tuple[str, ...] = ()  # names the SDK pre-registers for this kind
    # Checklist lens entry: (label, "one" = ✓ when exactly one | "count" | "used" = shown only when used).
    lens: tuple[str, str] = ()
    # The create-it fix of a missing part (TL101-TL106, core/fixes): the function and registered name its stub
    # gets, what its title calls the stub ("" = "a <kind> stub"), and how an unregistered function that is
    # probably this part looks: (words in its name, its parameter count; 1 = at least one).
    default: tuple[str, str | None] = ()
    creates: str = ""
    looks_like: tuple[tuple[str, ...], int] = ()


def _s(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _legacy(name: str, params: str, fn: str | None, nm: str | None, doc: str = "", shares: bool = False,
            **facts) -> Registrar:
    """A leap_binder method; ``shares``: it shares its decorator's contract (``twin``); ``facts``: its own kind,
    summary, stub... when it registers something its row's decorator does not (``add_prediction``)."""
    return Registrar(name, facts.pop("kind", None), _s(params), fn, nm, doc, twin="*" if shares else "", **facts)


def _row(name: str, kind: Kind, params: str, nm: str | None, doc: str, **facts) -> Registrar:
    for key in ("signature", "companions", "stub_names", "builtin_names"):
        if isinstance(facts.get(key), str):
            facts[key] = _s(facts[key])
    return Registrar(name, kind, _s(params), None, nm, doc, **facts)


def _adv(name: str, kind: Kind, params: str, nm: str | None, doc: str, **facts) -> Registrar:
    return _row(name, kind, params, nm, doc, advanced=True, **facts)


_NP_SAMPLE = "np PreprocessResponse"
_ENCODER = "`(sample_id, preprocess)` → one **unbatched** `np.ndarray`, dtype **float32**"


def _encoder_stub(decorator: str, what: str, shape: str) -> str:
    return (f"@{decorator}\n"
            "def {function}(sample_id: str, preprocess: PreprocessResponse) -> np.ndarray:\n"
            f"    # TODO: return the {what} of one sample, unbatched, as float32\n"
            f"    return np.zeros({shape}, dtype=np.float32)\n")


ROWS: list[Registrar] = [
    # --- the parts every integration has (checklist lens order) ---
    _row("tensorleap_preprocess", Kind.PREPROCESS, "", None,
         "`def preprocess() -> List[PreprocessResponse]`: no parameters; a list with training and validation responses.",
         summary="no parameters → `List[PreprocessResponse]` (training and validation at least)",
         label="preprocess", singleton=True, lens=("preprocess", "one"),
         default=("preprocess", None), looks_like=(("preprocess",), 0),
         stub='@tensorleap_preprocess()\n'
              'def {function}() -> List[PreprocessResponse]:\n'
              '    # TODO: load the sample ids of each subset (ids are str unless sample_id_type=int)\n'
              '    train_ids = [str(i) for i in range(10)]\n'
              '    val_ids = [str(i) for i in range(10, 15)]\n'
              '    return [PreprocessResponse(sample_ids=train_ids, data={{}}, state=DataStateType.training),\n'
              '            PreprocessResponse(sample_ids=val_ids, data={{}}, state=DataStateType.validation)]\n',
         stub_names="List PreprocessResponse DataStateType",
         legacy=_legacy("set_preprocess", "function", "function", None,
                        "Register `preprocess() -> List[PreprocessResponse]` (training and validation at least).",
                        snippet="${1:preprocess}", converts=True)),
    _row("tensorleap_input_encoder", Kind.INPUT, "name channel_dim model_input_index", "name",
         "`(sample_id, preprocess) -> np.ndarray` of dtype float32, unbatched. `channel_dim`: -1 (NHWC) or a positive "
         "axis of the batched tensor. `model_input_index`: which model input it feeds (0-based, unique).",
         summary=_ENCODER, label="input encoder", named=True, takes="sample", lens=("inputs", "count"),
         default=("input_encoder", "image"), looks_like=(("input", "encode", "image"), 2),
         snippet="'${1:image}', channel_dim=${2:-1}",
         stub=_encoder_stub("tensorleap_input_encoder({name!r}, channel_dim=-1)", "input", "(28, 28, 1)"),
         stub_names=_NP_SAMPLE,
         legacy=_legacy("set_input", "function name channel_dim", "function", "name",
                        "Register an input encoder `(sample_id, preprocess) -> np.ndarray[float32]`, unbatched.",
                        snippet="${1:function}, '${2:image}', channel_dim=${3:-1}", converts=True)),
    _row("tensorleap_gt_encoder", Kind.GROUND_TRUTH, "name", "name",
         "`(sample_id, preprocess) -> np.ndarray` of dtype float32, unbatched. Unlabeled data: "
         "`np.array([], dtype=np.float32)`.",
         summary=_ENCODER, label="ground-truth encoder", named=True, paired=True, takes="sample",
         lens=("ground truth", "one"), snippet="'${1:classes}'",
         default=("gt_encoder", "classes"), looks_like=(("gt", "label", "ground", "target"), 2),
         stub=_encoder_stub("tensorleap_gt_encoder({name!r})", "ground truth", "(10,)"), stub_names=_NP_SAMPLE,
         legacy=_legacy("set_ground_truth", "function name", "function", "name",
                        "Register a ground-truth encoder `(sample_id, preprocess) -> np.ndarray[float32]`, unbatched.",
                        snippet="${1:function}, '${2:classes}'", converts=True)),
    _row("tensorleap_load_model", Kind.LOAD_MODEL, "prediction_types", None,
         "`def load_model()`: no parameters; returns a Keras model or an `onnxruntime.InferenceSession`. One "
         "`PredictionTypeHandler` per model output, in order.",
         summary="no parameters → a Keras model or `onnxruntime.InferenceSession`",
         label="load_model", singleton=True, lens=("load_model", "one"),
         default=("load_model", None), creates="load_model with prediction types",
         snippet="[PredictionTypeHandler('${1:classes}', ${2:LABELS}, channel_dim=-1)]",
         stub="@tensorleap_load_model([PredictionTypeHandler('classes', [str(i) for i in range(10)], channel_dim=-1)])\n"
              'def {function}():\n'
              '    # TODO: return the model (an onnxruntime.InferenceSession or a Keras model)\n'
              '    import onnxruntime\n'
              "    return onnxruntime.InferenceSession('model.onnx')\n", stub_names="PredictionTypeHandler",
         # the legacy API has no model loader: it declares the model's outputs
         legacy=_legacy("add_prediction", "name labels channel_dim prediction_index", None, "name",
                        "Declare a model output: `add_prediction(name, labels, channel_dim=-1)`.",
                        kind=Kind.PREDICTION, label="prediction type", named=True, paired=True,
                        default=("load_model", None), creates="a prediction type",
                        summary="one model output, in output order; `labels` length = size of `channel_dim`",
                        snippet="'${1:classes}', ${2:LABELS}, channel_dim=${3:-1}",
                        stub="leap_binder.add_prediction('classes', [str(i) for i in range(10)], channel_dim=-1)  "
                             "# TODO: one per model output\n")),
    _row("tensorleap_custom_loss", Kind.LOSS, "name connects_to", "name",
         "Batched `[B, ...]` arrays in; an ndarray with ndim < 2 (`[B]`) out. `connects_to`: the encoders/predictions "
         "its arguments read, when the integration test does not show it.",
         summary="**batched** `[B, ...]` arrays by name → `[B]` ndarray",
         label="custom loss", named=True, takes="tensors", lens=("loss", "count"), snippet="'${1:name}'",
         default=("custom_loss", "loss"), looks_like=(("loss", "entropy"), 1),
         builtin_names="MeanSquaredError MeanSquaredLogarithmicError MeanAbsoluteError MeanAbsolutePercentageError "
                       "CategoricalCrossentropy BinaryCrossentropy",
         stub='@tensorleap_custom_loss({name!r})\n'
              'def {function}(gt: np.ndarray, prediction: np.ndarray) -> np.ndarray:\n'
              '    # TODO: one loss value per sample of the batch\n'
              '    return ((gt - prediction) ** 2).reshape(gt.shape[0], -1).mean(-1).astype(np.float32)\n',
         stub_names="np",
         legacy=_legacy("add_custom_loss", "function name", "function", "name",
                        "Register a custom loss: batched `[B, ...]` arrays in, a `[B]` ndarray out.",
                        snippet="${1:function}, '${2:name}'", converts=True)),
    _row("tensorleap_integration_test", Kind.INTEGRATION_TEST, "", None,
         "`def test(sample_id, preprocess)`: may only call decorated functions, the model, and index predictions once.",
         summary="`(sample_id, preprocess)`: calls decorated functions and the model only",
         label="integration test", singleton=True, lens=("integration test", "one"),
         default=("integration_test", None), looks_like=(("integration_test", "test"), 2),
         creates="an integration test wired to the encoders, the model and the loss",
         stub='@tensorleap_integration_test()\n'
              'def {function}(sample_id, preprocess):\n'
              '    # TODO: call the decorated encoders, the model, then losses/metrics/visualizers\n'
              '    pass\n'),
    _row("tensorleap_custom_metric", Kind.METRIC, "name direction compute_insights connects_to", "name",
         "Batched `[B, ...]` arrays in; a 1-D `[B]` ndarray, a list of B numbers, or a dict of those out.",
         summary="**batched** `[B, ...]` arrays by name → `[B]` ndarray, list of B numbers, or a dict of those",
         label="metric", named=True, takes="tensors", lens=("metrics", "count"),
         snippet="'${1:name}', direction=MetricDirection.${2:Upward}",
         builtin_names="MeanSquaredError MeanSquaredLogarithmicError MeanAbsoluteError MeanAbsolutePercentageError "
                       "Accuracy ConfusionMatrixClassification CategoricalCrossentropy BinaryCrossentropy",
         stub='@tensorleap_custom_metric({name!r}, direction=MetricDirection.Upward)\n'
              'def {function}(gt: np.ndarray, prediction: np.ndarray) -> np.ndarray:\n'
              '    # TODO: one value per sample of the batch\n'
              '    return (gt.argmax(-1) == prediction.argmax(-1)).astype(np.float32)\n',
         stub_names="np MetricDirection",
         legacy=_legacy("add_custom_metric", "function name direction compute_insights", "function", "name",
                        "Register a metric: batched arrays in, `[B]` ndarray / list / dict out.",
                        snippet="${1:function}, '${2:name}', direction=MetricDirection.${3:Upward}", converts=True)),
    _row("tensorleap_metadata", Kind.METADATA, "name metadata_type", "name",
         "`(sample_id, preprocess) -> int | float | str | bool | None | dict[str, scalar]`.",
         summary="`(sample_id, preprocess)` → `int | float | str | bool | None` or a flat `dict` of those",
         label="metadata", named=True, takes="sample", lens=("metadata", "count"), snippet="'${1:name}'",
         stub='@tensorleap_metadata({name!r})\n'
              'def {function}(sample_id: str, preprocess: PreprocessResponse) -> float:\n'
              '    # TODO: a scalar (or a flat dict of scalars) describing the sample\n'
              '    return 0.0\n', stub_names="PreprocessResponse",
         legacy=_legacy("set_metadata", "function name metadata_type", "function", "name",
                        "Register metadata `(sample_id, preprocess) -> int | float | str | bool | None | "
                        "dict[str, scalar]`.", snippet="${1:function}, '${2:name}'", converts=True)),
    _row("tensorleap_custom_visualizer", Kind.VISUALIZER, "name visualizer_type heatmap_function connects_to", "name",
         "Takes arrays with a leading batch axis of size 1; returns the `Leap*` class matching `visualizer_type`.",
         summary="arrays with a leading batch axis of size 1 → the `Leap*` class of its `visualizer_type`",
         label="visualizer", named=True, takes="tensors", lens=("visualizers", "count"),
         snippet="'${1:name}', LeapDataType.${2:Image}",
         builtin_names="Image Video Graph RawData HorizontalBar Text ImageMask TextMask",
         stub='@tensorleap_custom_visualizer({name!r}, LeapDataType.Image)\n'
              'def {function}(image: np.ndarray) -> LeapImage:\n'
              '    # TODO: the argument arrives with a batch axis of size 1; return uint8 0-255 pixels\n'
              '    return LeapImage((image[0] * 255).clip(0, 255).astype(np.uint8))\n',
         stub_names="np LeapImage LeapDataType",
         legacy=_legacy("set_visualizer", "function name visualizer_type heatmap_visualizer", "function", "name",
                        "Register a visualizer taking batched (leading axis 1) arrays and returning the `Leap*` class "
                        "of `visualizer_type`.", snippet="${1:function}, '${2:name}', LeapDataType.${3:Image}",
                        converts=True)),
    _row("tensorleap_unlabeled_preprocess", Kind.UNLABELED_PREPROCESS, "", None,
         "`def unlabeled() -> PreprocessResponse`: no parameters.", singleton=True,
         stub='@tensorleap_unlabeled_preprocess()\n'
              'def {function}() -> PreprocessResponse:\n'
              '    # TODO: the sample ids of the unlabeled data (its ground truths: np.array([], dtype=np.float32))\n'
              '    return PreprocessResponse(sample_ids=[str(i) for i in range(5)], data={{}}, state=DataStateType.unlabeled)\n',
         stub_names="PreprocessResponse DataStateType",
         legacy=_legacy("set_unlabeled_data_preprocess", "function", "function", None,
                        "Register `unlabeled_preprocess() -> PreprocessResponse`.", converts=True)),
    # no stub: a Keras layer needs TensorFlow, which the SDK's own tests do not install (see the stub test)
    _row("tensorleap_custom_layer", Kind.CUSTOM_LAYER, "name", "name",
         "Class decorator for a `tf.keras.layers.Layer` subclass.", label="custom layer", named=True,
         legacy=_legacy("set_custom_layer", "custom_layer name inspect_layer kernel_index use_custom_latent_space",
                        "custom_layer", "name", "Register a custom Keras layer class (it must have a `call` method).")),
    # --- the advanced registrars (issue 15): element instances, false positives, latent spaces, simulation,
    # autoregressive chains (checklist lens: counted when used) ---
    _adv("tensorleap_instances_masks_encoder", Kind.INSTANCE_MASKS, "name", "name",
         "`(sample_id, preprocess, instance_id) -> ElementInstance | None`: the mask of one element instance.",
         signature="sample_id preprocess instance_id", companions="tensorleap_element_instance_preprocess",
         lens=("instance masks", "used"),
         stub='@tensorleap_instances_masks_encoder({name!r})\n'
              'def {function}(sample_id: str, preprocess: PreprocessResponse, instance_id: int) -> ElementInstance:\n'
              '    # TODO: the mask of instance `instance_id` of the sample, float32, image-sized\n'
              '    return ElementInstance(name=f\'instance_{{instance_id}}\', mask=np.zeros((8, 8), dtype=np.float32))\n',
         stub_names="np PreprocessResponse ElementInstance",
         legacy=_legacy("set_instance_masks", "function name", "function", "name", shares=True)),
    _adv("tensorleap_instances_length_encoder", Kind.INSTANCE_LENGTH, "name", "name",
         "`(sample_id, preprocess) -> int`: how many element instances the sample has.",
         signature="sample_id preprocess", companions="tensorleap_element_instance_preprocess",
         lens=("instance length", "used"),
         stub='@tensorleap_instances_length_encoder({name!r})\n'
              'def {function}(sample_id: str, preprocess: PreprocessResponse) -> int:\n'
              '    # TODO: the number of instances (objects) in the sample\n'
              '    return 1\n', stub_names="PreprocessResponse"),
    _adv("tensorleap_element_instance_preprocess", Kind.PREPROCESS,
         "instance_length_encoder instance_mask_encoder instance_metadata_types", None,
         "`def preprocess() -> List[PreprocessResponse]`: no parameters; registers the preprocess and splits every "
         "sample into element instances with `instance_length_encoder(sample_id, preprocess) -> int` and "
         "`instance_mask_encoder(sample_id, preprocess, instance_id) -> ElementInstance`.",
         companions="tensorleap_instances_length_encoder tensorleap_instances_masks_encoder",
         stub='@tensorleap_element_instance_preprocess(instance_length_encoder={instances_length_encoder}, '
              'instance_mask_encoder={instances_masks_encoder})\n'
              'def {function}() -> List[PreprocessResponse]:\n'
              '    # TODO: the sample ids of each subset; the two encoders split each sample into its instances\n'
              '    return [PreprocessResponse(sample_ids=[str(i) for i in range(10)], data={{}}, '
              'state=DataStateType.training),\n'
              '            PreprocessResponse(sample_ids=[str(i) for i in range(10, 15)], data={{}}, '
              'state=DataStateType.validation)]\n',
         stub_names="List PreprocessResponse DataStateType"),
    _adv("tensorleap_custom_instances_metric", Kind.INSTANCE_METRIC, "name direction compute_insights connects_to",
         "name", "Batched `[B, ...]` arrays in; a dict `{instance number (int): [B] ndarray}` out.",
         companions="tensorleap_element_instance_preprocess", takes="tensors", lens=("instance metric", "used"),
         stub='@tensorleap_custom_instances_metric({name!r}, direction=MetricDirection.Upward)\n'
              'def {function}(gt: np.ndarray, prediction: np.ndarray) -> dict:\n'
              '    # TODO: {{instance number: one value per sample of the batch}}\n'
              '    return {{0: np.zeros(gt.shape[0], dtype=np.float32)}}\n', stub_names="np MetricDirection",
         legacy=_legacy("add_custom_instance_metric", "function name direction compute_insights", "function", "name",
                        shares=True)),
    _adv("tensorleap_false_positive_instances_encoder", Kind.FALSE_POSITIVE, "name instance_metadata_types", "name",
         "`(sample_id, preprocess, predictions: dict) -> List[ElementInstance]`, one per false-positive prediction. "
         "Needs a `tensorleap_false_positive_empty_gt` for every ground-truth encoder.",
         signature="sample_id preprocess predictions", companions="tensorleap_false_positive_empty_gt",
         lens=("false positive", "used"),
         stub='@tensorleap_false_positive_instances_encoder({name!r})\n'
              'def {function}(sample_id: str, preprocess: PreprocessResponse, predictions: dict) -> List[ElementInstance]:\n'
              '    # TODO: one ElementInstance per prediction that matches no ground-truth instance\n'
              '    return []\n', stub_names="List PreprocessResponse ElementInstance",
         legacy=_legacy("set_false_positive_instances", "function name", "function", "name", shares=True)),
    _adv("tensorleap_false_positive_empty_gt", Kind.FALSE_POSITIVE, "gt_name", "gt_name",
         "`(sample_id, preprocess) -> np.ndarray` shaped like the ground truth `gt_name` returns: the ground truth of "
         "a false-positive row.",
         signature="sample_id preprocess", companions="tensorleap_false_positive_instances_encoder",
         stub='@tensorleap_false_positive_empty_gt({name!r})\n'
              'def {function}(sample_id: str, preprocess: PreprocessResponse) -> np.ndarray:\n'
              '    # TODO: the same shape as the ground truth {name!r} returns, all \'no object\'\n'
              '    return np.zeros({shape}, dtype=np.float32)\n', stub_names=_NP_SAMPLE,
         legacy=_legacy("set_false_positive_empty_gt", "function gt_name", "function", "gt_name", shares=True)),
    _adv("tensorleap_false_positive_custom_latent_space", Kind.FALSE_POSITIVE, "name", "name",
         "`(sample_id, preprocess, fp_instance: ElementInstance) -> np.ndarray` 1-D, shaped like the instance custom "
         "latent space `name` returns.",
         signature="sample_id preprocess fp_instance",
         companions="tensorleap_false_positive_instances_encoder tensorleap_instance_custom_latent_space",
         stub='@tensorleap_false_positive_custom_latent_space({name!r})\n'
              'def {function}(sample_id: str, preprocess: PreprocessResponse, fp_instance: ElementInstance) -> np.ndarray:\n'
              '    # TODO: the same width as the instance latent space {name!r} returns\n'
              '    return np.zeros({shape}, dtype=np.float32)\n', stub_names="np PreprocessResponse ElementInstance",
         legacy=_legacy("set_false_positive_custom_latent_space", "function name", "function", "name", shares=True)),
    _adv("tensorleap_custom_latent_space", Kind.CUSTOM_LATENT_SPACE,
         "name use_ls_for_analysis reduce n_components channel_axis", "name",
         "Dataset-computed: `(sample_id, preprocess: PreprocessResponse) -> np.ndarray` of shape `(d,)` (the second "
         "parameter annotated `PreprocessResponse`); model-computed: annotated `np.ndarray` model tensors -> "
         "`(batch, d)`. An unannotated second parameter is ambiguous and raises at decoration.",
         lens=("custom latent space", "used"),
         stub='@tensorleap_custom_latent_space({name!r})\n'
              'def {function}(sample_id: str, preprocess: PreprocessResponse) -> np.ndarray:\n'
              '    # TODO: one vector per sample, float32, shape (d,)\n'
              '    return np.zeros(8, dtype=np.float32)\n', stub_names=_NP_SAMPLE,
         legacy=_legacy("set_custom_latent_space", "function name use_ls_for_analysis instance_aware computed_at "
                        "arg_names reduce n_components channel_axis", "function", "name", shares=True)),
    _adv("tensorleap_instance_custom_latent_space", Kind.CUSTOM_LATENT_SPACE, "name use_ls_for_analysis", "name",
         "`(sample_id, preprocess, instance_id) -> np.ndarray` of shape `(d,)`: one vector per element instance.",
         signature="sample_id preprocess instance_id", companions="tensorleap_element_instance_preprocess",
         stub='@tensorleap_instance_custom_latent_space({name!r})\n'
              'def {function}(sample_id: str, preprocess: PreprocessResponse, instance_id: int) -> np.ndarray:\n'
              '    # TODO: one vector per instance, float32, shape (d,)\n'
              '    return np.zeros(8, dtype=np.float32)\n', stub_names=_NP_SAMPLE),
    _adv("tensorleap_simulation", Kind.SIMULATION, "name sim_params", "name",
         "`def sim(<one parameter per sim_params key>, N, seed) -> PreprocessResponse` of N generated samples; "
         "`sim_params`: `{param: {'type': 'float'|'int'|'str', 'bounds': {'min': .., 'max': ..} | {'values': [...]}}}`.",
         lens=("simulation", "used"),
         stub='@tensorleap_simulation({name!r}, {{\'scale\': {{\'type\': \'float\', \'bounds\': {{\'min\': 0.5, '
              '\'max\': 1.5}}}}}})\n'
              'def {function}(scale: float, N: int, seed: int) -> PreprocessResponse:\n'
              '    # TODO: generate N samples from `scale` (deterministic for a seed), in the layout the encoders read\n'
              '    data = {preprocess}()[0].data\n'
              '    return PreprocessResponse(sample_ids=[str(i) for i in range(N)], data=data)\n',
         stub_names="PreprocessResponse",
         legacy=_legacy("set_simulation", "function name sim_config_raw", "function", "name", shares=True)),
    _adv("tensorleap_autoregressive_step", Kind.AUTOREGRESSIVE, "latent_space_aggregation", None,
         "`(sample_id, prev_inputs, prev_outputs, state, preprocess) -> (Optional[Dict[str, np.ndarray]], state)`: "
         "the hook that drives a chain; `latent_space_aggregation` is 'last_step' or 'mean'. The integration then "
         "has no input encoders, simulations, element instances or custom latent spaces, and declares prediction "
         "types.",
         signature="sample_id prev_inputs prev_outputs state preprocess", companions="tensorleap_model_loop",
         lens=("autoregressive", "used"),
         stub="@tensorleap_autoregressive_step(latent_space_aggregation='last_step')\n"
              'def {function}(sample_id, prev_inputs, prev_outputs, state, preprocess):\n'
              '    # TODO: the first model inputs (prev_inputs is None), then the next ones from prev_outputs;\n'
              '    #  (None, state) ends the chain. Same keys and shapes at every step; seed randomness from sample_id.\n'
              '    if prev_inputs is None:\n'
              "        return {{{name!r}: np.zeros({shape}, dtype=np.float32)}}, {{'steps': 1}}\n"
              "    if state['steps'] >= 3:\n"
              '        return None, state\n'
              "    return prev_inputs, {{'steps': state['steps'] + 1}}\n", stub_names="np",
         legacy=_legacy("set_autoregressive_step", "function", "function", None, shares=True)),
    _adv("tensorleap_model_loop", Kind.AUTOREGRESSIVE, "", None,
         "`(model, sample_id, preprocess) -> (final_inputs, final_outputs, final_state)`: the local rollout loop "
         "around the autoregressive step.",
         signature="model sample_id preprocess", companions="tensorleap_autoregressive_step",
         stub='@tensorleap_model_loop()\n'
              'def {function}(model, sample_id, preprocess):\n'
              '    # the platform runs this loop itself: only the step hook and the model may run in it\n'
              '    inputs, state = {autoregressive_step}(sample_id, None, None, None, preprocess)\n'
              '    while True:\n'
              '        outputs = model.run(None, {{{name!r}: inputs[{name!r}]}})  # TODO: one entry per model input\n'
              '        following, state = {autoregressive_step}(sample_id, inputs, outputs, state, preprocess)\n'
              '        if following is None:\n'
              '            return inputs, outputs, state\n'
              '        inputs = following\n'),
    _adv("tensorleap_autoregressive_metric", Kind.AUTOREGRESSIVE, "name direction compute_insights", "name",
         "Per finished chain: declares at least one of `inputs`, `outputs`, `state` (fed by the platform); other "
         "arguments are ground truths. Returns a scalar (or a dict of scalars).",
         companions="tensorleap_autoregressive_step",
         stub='@tensorleap_autoregressive_metric({name!r}, direction=MetricDirection.Downward)\n'
              'def {function}(state) -> float:\n'
              '    # TODO: one number per finished chain, from its final `inputs`, `outputs`, `state` (other arguments:\n'
              '    #  ground truths, wired by the integration test)\n'
              '    return float(len(state))\n', stub_names="MetricDirection",
         legacy=_legacy("add_autoregressive_metric", "function name", "function", "name", shares=True)),
    _adv("tensorleap_autoregressive_loss", Kind.AUTOREGRESSIVE, "name", "name",
         "Per finished chain: declares at least one of `inputs`, `outputs`, `state`; returns one scalar.",
         companions="tensorleap_autoregressive_step",
         stub='@tensorleap_autoregressive_loss({name!r})\n'
              'def {function}(outputs) -> float:\n'
              '    # TODO: one loss value per finished chain, from its final `inputs`, `outputs`, `state`\n'
              '    return float(sum(np.abs(np.asarray(o)).mean() for o in outputs.values()))\n', stub_names="np",
         legacy=_legacy("add_autoregressive_loss", "function name", "function", "name", shares=True)),
    _adv("tensorleap_autoregressive_visualizer", Kind.AUTOREGRESSIVE, "name visualizer_type", "name",
         "Per finished chain: declares at least one of `inputs`, `outputs`, `state`; returns the `Leap*` class of "
         "`visualizer_type`.",
         companions="tensorleap_autoregressive_step",
         stub='@tensorleap_autoregressive_visualizer({name!r}, LeapDataType.Text)\n'
              'def {function}(inputs) -> LeapText:\n'
              '    # TODO: show the final model inputs of the chain\n'
              '    return LeapText([f\'{{key}}: {{np.asarray(value).ravel()[:8].tolist()}}\' for key, value in inputs.items()])\n',
         stub_names="np LeapText LeapDataType",
         legacy=_legacy("add_autoregressive_visualizer", "function name visualizer_type", "function", "name",
                        shares=True)),
]
