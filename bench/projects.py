"""Generators of the projects the engine is measured on (bench/engine.py) and tested on
(tests/core/test_scaling.py).

    python bench/projects.py OUT_DIR vendored            # 100 modules, ~50,000 lines, a ~300-line entry
    python bench/projects.py OUT_DIR star_cycles --n 40  # one adversarial project

``vendored``: the shape of the largest public integrations (bench/../shared/sdk/real-projects.md): a
detection framework vendored as a package of 100 modules (sub-packages ``models``, ``utils``,
``data``, ``nn``, ``loggers``...), each ~500 lines of classes and functions, importing each other
absolutely and relatively, through ``__init__`` re-exports and star imports, with optional back-ends
under ``try/except ImportError`` and imports inside functions; a YAML config read at import; an entry
of ~300 lines in the decorator style that registers against that library.

The adversarial projects take a size ``n`` (the scaling test doubles it):

- ``star_cycles``: a helpers module that star-imports itself, pairs of modules that star-import each
  other, a ring of ``n`` star-importing modules, an entry that star-imports them all and looks up
  names defined at the far end of the ring, or nowhere.
- ``reexport_chains``: ``n`` chains of 30 modules, each re-exporting the previous one's function
  (``from .m3 import f``) and an ``__init__`` re-export over a submodule of the same name.
- ``many_modules``: ``n`` modules (500 in the benchmark) in a random import DAG, some cycles.
- ``many_bindings``: ``n`` registrations (10,000 in the benchmark) in loops, decorators and legacy calls,
  spread over modules of 100.
- ``recursive_helpers``: helpers that call each other in a ring (at import time, from factories and
  from the integration test), module-level values defined in terms of each other with fan-out
  (``A0 = [A1, A1]``, ... ``An = [A0]``), config paths joined from each other, YAML read ``n`` times.
"""

from __future__ import annotations

import argparse
import os
import random
import textwrap

LEAP_YAML = "entryFile: leap_integration.py\ninclude:\n  - leap_integration.py\n  - requirements.txt\n  - '{pkg}/**/*.py'\n  - '*.yaml'\npythonVersion: py39\n"
REQUIREMENTS = "code-loader==1.0.214\nnumpy\nonnxruntime\npyyaml\n"


def _write(root: str, rel: str, text: str) -> str:
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


# --- the vendored detection library --------------------------------------------------------------

SUBPACKAGES = ("models", "utils", "data", "nn", "loggers", "engine", "ops", "trackers", "export", "cfg")

_FUNC = '''\
def {name}({params}):
    """{doc}"""
    {v0} = {expr0}
    if {v0} is None:
        return None
    {v1} = []
    for i, item in enumerate({p0}):
        if i % {k} == 0:
            {v1}.append(item * {k})
        elif isinstance(item, (list, tuple)):
            {v1}.extend({helper}(x, {k}) for x in item)
        else:
            {v1}.append(item)
    try:
        {v2} = np.asarray({v1}, dtype=np.float32)
    except (TypeError, ValueError):
        LOGGER.warning("{name}: could not convert %s", type({v1}))
        {v2} = np.zeros(({k},), dtype=np.float32)
    {v2} = np.clip({v2}, {lo}, {hi}) / max({k}, 1)
    return {v2}


'''

_CLASS = '''\
class {name}({base}):
    """{doc}"""

    default_size = {k}

    def __init__(self, c1, c2, k={k}, s=1, p=None, act=True):
        super().__init__()
        self.c1 = c1
        self.c2 = c2
        self.k = k
        self.stride = s
        self.pad = autopad(k, p)
        self.act = act
        self.weights = np.zeros((c2, c1, k, k), dtype=np.float32)
        self.cache = {{}}

    def forward(self, x):
        key = (id(x), self.k)
        if key in self.cache:
            return self.cache[key]
        y = {helper}(x, self.k)
        if self.act:
            y = np.maximum(y, 0)
        for _ in range(self.stride):
            y = y[::2] if len(y) > 1 else y
        self.cache[key] = y
        return y

    def fuse(self):
        """Fuses the layers of the block for inference ({doc_short})."""
        if torch is None:
            raise ImportError("{name}.fuse needs torch: pip install torch")
        self.weights = self.weights * 0.5
        return self

    @staticmethod
    def scale(shape, gain={k}):
        return tuple(int(s * gain) for s in shape)


'''


def _module_text(rng: random.Random, pkg: str, sub: str, idx: int, mods: list[tuple[str, str, int]], lines: int) -> str:
    """~``lines`` lines of one vendored module; ``mods`` is (dotted name, sub-package, index) of the earlier modules."""
    out = [f'"""{pkg}.{sub}: part {idx} of the vendored framework (generated for the benchmark)."""\n\n',
           "import logging\nimport math\nimport os\nfrom pathlib import Path\nfrom typing import List, Optional, Tuple\n\n",
           "import numpy as np\n\n"]
    # optional back-ends, as vendored detection libraries do
    out.append("try:\n    import torch\n    import torch.nn as nn\nexcept ImportError:  # optional back-end\n"
               "    torch = None\n    nn = None\n\n")
    if idx % 3 == 0:
        out.append("try:\n    import thop  # for FLOPs computation\nexcept ImportError:\n    thop = None\n\n")
    imported: list[str] = []
    if mods:
        # the previous module and a few random earlier ones: the top module reaches the whole library
        deps = [mods[-1]] + rng.sample(mods[:-1], min(len(mods) - 1, rng.randint(1, 3)))
        for dotted_name, other_sub, other in deps:
            short = dotted_name.rsplit(".", 1)[-1]
            fn = f"m{other}_fn0"
            if other_sub == sub and rng.random() < 0.5:
                out.append(f"from .{short} import {fn}\n")
            else:
                out.append(f"from {dotted_name} import {fn}\n")
            imported.append(fn)
        if rng.random() < 0.25:
            out.append(f"from {pkg}.utils import *  # noqa: F403\n")
    out.append("\nLOGGER = logging.getLogger(__name__)\n")
    out.append(f"ROOT = Path(__file__).resolve().parents[1]\nNUM_THREADS = min(8, max(1, os.cpu_count() or 1))\n")
    out.append(f"DEFAULT_{idx} = {{'size': {rng.randint(32, 1024)}, 'iou': 0.{rng.randint(1, 9)}, 'names': "
               f"['person', 'car', 'dog']}}\n\n\n")
    out.append("def autopad(k, p=None):\n    if p is None:\n        p = k // 2 if isinstance(k, int) else [x // 2 for x in k]\n"
               "    return p\n\n\n")
    count = sum(s.count("\n") for s in out)
    short = f"{sub}{idx}"
    f_i = c_i = 0
    names: list[str] = ["autopad"]
    while count < lines - 10:
        helper = rng.choice(imported + names) if (imported or names) and rng.random() < 0.7 else "autopad"
        if rng.random() < 0.55:
            name = f"{short}_fn{f_i}" if f_i else f"m{idx}_fn0"
            f_i += 1
            text = _FUNC.format(name=name, params="x, k=3, scale=1.0", doc=f"Step {f_i} of {sub}.", v0="data",
                                expr0=f"x if x is not None else DEFAULT_{idx}['names']", v1="out", v2="arr",
                                p0="data", k=rng.randint(2, 9), helper=helper, lo=rng.randint(0, 3),
                                hi=rng.randint(10, 99))
        else:
            name = f"Block{idx}_{c_i}"
            c_i += 1
            text = _CLASS.format(name=name, base="object", doc=f"A block of {sub} ({idx}/{c_i}).",
                                 doc_short=sub, k=rng.randint(1, 7), helper=helper)
        names.append(name)
        out.append(text)
        count += text.count("\n")
    if idx % 4 == 1:  # an import inside a function (loaded lazily, if ever)
        out.append(f"def lazy_backend_{idx}():\n    from {pkg}.export import export0\n    return export0\n\n\n")
    out.append(f"__all__ = {sorted(n for n in names if not n.startswith('_'))!r}\n")
    return "".join(out)


VENDORED_ENTRY_HEAD = '''\
"""Tensorleap integration of the detector (vendored framework in yolo/)."""
import os
from typing import List

import numpy as np
import yaml
from code_loader import leap_binder
from code_loader.contract.datasetclasses import PreprocessResponse, PredictionTypeHandler
from code_loader.contract.enums import DataStateType, LeapDataType, MetricDirection
from code_loader.contract.visualizer_classes import LeapImage, LeapHorizontalBar, LeapImageWithBBox
from code_loader.inner_leap_binder.leapbinder_decorators import (
    tensorleap_preprocess, tensorleap_input_encoder, tensorleap_gt_encoder, tensorleap_metadata,
    tensorleap_custom_visualizer, tensorleap_custom_metric, tensorleap_custom_loss,
    tensorleap_load_model, tensorleap_integration_test)

from yolo.{top_sub}.{top} import m{top_i}_fn0 as postprocess
from yolo.utils.general import m{g}_fn0 as decode_boxes
from yolo.models import m{m}_fn0 as build_model
from yolo.data.m{d} import m{d}_fn0 as letterbox
from yolo.utils import *  # noqa: F403

with open(os.path.join(os.path.dirname(__file__), 'project_config.yaml')) as f:
    CONFIG = yaml.safe_load(f)

LABELS = CONFIG['names']
IMAGE_SIZE = CONFIG['image_size']


@tensorleap_preprocess()
def preprocess() -> List[PreprocessResponse]:
    ids = list(range(CONFIG['samples']))
    split = int(len(ids) * 0.8)
    return [PreprocessResponse(sample_ids=ids[:split], sample_id_type=int, state=DataStateType.training),
            PreprocessResponse(sample_ids=ids[split:], sample_id_type=int, state=DataStateType.validation)]


@tensorleap_input_encoder('image', channel_dim=-1)
def input_image(idx: int, preprocess: PreprocessResponse) -> np.ndarray:
    rng = np.random.default_rng(idx)
    image = rng.random((IMAGE_SIZE, IMAGE_SIZE, 3)).astype(np.float32)
    return letterbox(image)


@tensorleap_gt_encoder('boxes')
def gt_boxes(idx: int, preprocess: PreprocessResponse) -> np.ndarray:
    boxes = np.zeros((CONFIG['max_boxes'], 5), dtype=np.float32)
    boxes[: idx % 5, 4] = idx % len(LABELS)
    return boxes


@tensorleap_custom_loss('yolo_loss')
def yolo_loss(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    decoded = postprocess(decode_boxes(pred))
    return np.abs(decoded.sum(-1) - gt.sum(-1)).astype(np.float32)


@tensorleap_load_model([PredictionTypeHandler('boxes', ['x', 'y', 'w', 'h', 'conf'], channel_dim=-1)])
def load_model():
    import onnxruntime as ort
    return ort.InferenceSession(os.path.join(os.path.dirname(__file__), 'model.onnx'))


# deliberate error: the annotation does not match LeapDataType.Image (TL213)
@tensorleap_custom_visualizer('image_viz', LeapDataType.Image)
def image_viz(image: np.ndarray) -> LeapHorizontalBar:
    return LeapImage((image[0] * 255).astype(np.uint8))


'''

VENDORED_BLOCK = '''\
@tensorleap_metadata('meta_{i}')
def meta_{i}(idx: int, preprocess: PreprocessResponse) -> float:
    # metadata number {i}: boxes of one class
    boxes = gt_boxes(idx, preprocess)
    return float((boxes[:, 4] == {i} % len(LABELS)).sum())


@tensorleap_custom_metric('metric_{i}', direction=MetricDirection.Upward)
def metric_{i}(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    decoded = decode_boxes(pred, {k})
    return (np.abs(decoded.sum(-1) - gt.sum(-1)) < {i}).astype(np.float32)


@tensorleap_custom_visualizer('bbox_{i}', LeapDataType.ImageWithBBox)
def bbox_{i}(image: np.ndarray, pred: np.ndarray) -> LeapImageWithBBox:
    return LeapImageWithBBox(data=(image[0] * 255).astype(np.uint8), bounding_boxes=[])


'''

VENDORED_FOOTER = '''\
@tensorleap_integration_test()
def integration_test(idx, preprocess):
    image = input_image(idx, preprocess)
    gt = gt_boxes(idx, preprocess)
    model = load_model()
    pred = model.run(None, {{'image': image}})[0]
    image_viz(image)
    yolo_loss(gt, pred)
{calls}

if __name__ == '__main__':
    responses = preprocess()
    integration_test(0, responses[0])
'''


def vendored_entry(entry_lines: int = 300, g: int = 1, m: int = 0, d: int = 2, top: tuple = ("utils", "general", 1)) -> str:
    body = [VENDORED_ENTRY_HEAD.format(g=g, m=m, d=d, top_sub=top[0], top=top[1], top_i=top[2])]
    calls = []
    count = body[0].count("\n") + 12
    i = 0
    per_block = VENDORED_BLOCK.count("\n")
    while count + per_block <= entry_lines or i == 0:
        body.append(VENDORED_BLOCK.format(i=i, k=i % 5 + 1))
        calls.append(f"    bbox_{i}(image, pred)\n    metric_{i}(gt, pred)\n    meta_{i}(idx, preprocess)")
        count += per_block
        i += 1
    body.append(VENDORED_FOOTER.format(calls="\n".join(calls)))
    return "".join(body)


PROJECT_CONFIG = "names: [person, car, dog]\nimage_size: 64\nsamples: 100\nmax_boxes: 20\n"


def vendored(root: str, modules: int = 100, lines: int = 50_000, entry_lines: int = 300, seed: int = 7,
             library: bool = True) -> str:
    """The vendored-library project; returns the entry's path. ``library=False`` writes the same entry
    alone (the one-module project an entry edit is compared with)."""
    rng = random.Random(seed)
    pkg = "yolo"
    per_module = max(40, (lines - entry_lines) // max(1, modules))
    mods: list[tuple[str, str, int]] = []
    placed: dict[str, list[str]] = {s: [] for s in SUBPACKAGES}
    first = {}
    if library:
        _write(root, f"{pkg}/__init__.py", f'"""Vendored detection framework."""\n__version__ = "8.0.{modules}"\n')
        for i in range(modules):
            sub = SUBPACKAGES[i % len(SUBPACKAGES)]
            # utils/general.py and models/yolo.py exist as in the real libraries
            fname = {1: "general", 0: "yolo"}.get(i) or f"m{i}"
            _write(root, f"{pkg}/{sub}/{fname}.py", _module_text(rng, pkg, sub, i, mods, per_module))
            mods.append((f"{pkg}.{sub}.{fname}", sub, i))
            placed[sub].append(fname)
            first.setdefault(sub, (fname, i))
        for sub in SUBPACKAGES:
            fname, i = first[sub]
            # re-exports of the package's main module, a star re-export in utils (as forks often do)
            lines_init = [f'"""{pkg}.{sub}."""\n', f"from .{fname} import m{i}_fn0\n"]
            if sub == "utils":
                lines_init.append(f"from .{fname} import *  # noqa: F403\n")
            _write(root, f"{pkg}/{sub}/__init__.py", "".join(lines_init))
        if "export" in placed and placed["export"]:
            _write(root, f"{pkg}/export/__init__.py",
                   f"from .{placed['export'][0]} import m{first['export'][1]}_fn0 as export0\n")
    g = first.get("utils", ("general", 1))[1]
    d = first.get("data", ("m2", 2))[1]
    top = (mods[-1][0].split(".")[1], mods[-1][0].rsplit(".", 1)[1], mods[-1][2]) if mods else ("utils", "general", 1)
    entry = _write(root, "leap_integration.py", vendored_entry(entry_lines, g=g, m=0, d=d, top=top))
    _write(root, "project_config.yaml", PROJECT_CONFIG)
    _write(root, "leap.yaml", LEAP_YAML.format(pkg=pkg))
    _write(root, "requirements.txt", REQUIREMENTS)
    return entry


def vendored_helper(root: str) -> str:
    """The helper module an edit of the benchmark touches (yolo/utils/general.py)."""
    return os.path.join(root, "yolo", "utils", "general.py")


# --- adversarial projects ----------------------------------------------------------------------

_DECO_IMPORTS = ("from code_loader.contract.datasetclasses import PreprocessResponse\n"
                 "from code_loader.contract.enums import DataStateType, LeapDataType\n"
                 "from code_loader.inner_leap_binder.leapbinder_decorators import (\n"
                 "    tensorleap_preprocess, tensorleap_input_encoder, tensorleap_metadata, tensorleap_integration_test)\n"
                 "from code_loader import leap_binder\n")

_PREPROCESS = '''
@tensorleap_preprocess()
def preprocess():
    return [PreprocessResponse(sample_ids=[0, 1], sample_id_type=int, state=DataStateType.training)]


@tensorleap_input_encoder('image', channel_dim=-1)
def image(idx, preprocess):
    return np.zeros((4, 4, 1), dtype=np.float32)

'''


def _base(root: str, pkg: str) -> None:
    _write(root, "leap.yaml", LEAP_YAML.format(pkg=pkg))
    _write(root, "requirements.txt", REQUIREMENTS)


def star_cycles(root: str, n: int = 40) -> str:
    pkg = "pkg"
    _base(root, pkg)
    _write(root, f"{pkg}/__init__.py", "")
    # the real case: a helpers module that star-imports itself, two modules that star-import each other
    _write(root, f"{pkg}/helpers.py", f"from {pkg}.helpers import *  # noqa: F403\nfrom {pkg}.mutual_a import *\n\n"
                                       "def helper_value():\n    return 1\n")
    _write(root, f"{pkg}/mutual_a.py", f"from {pkg}.mutual_b import *\n\nA_NAME = 'a'\n")
    _write(root, f"{pkg}/mutual_b.py", f"from {pkg}.mutual_a import *\nfrom {pkg}.helpers import *\n\nB_NAME = 'b'\n")
    # a ring of n modules: each star-imports itself, the next and the one after (fan-out 2)
    for i in range(n):
        nxt, after = (i + 1) % n, (i + 2) % n
        _write(root, f"{pkg}/ring{i}.py", f"from {pkg}.ring{i} import *\nfrom {pkg}.ring{nxt} import *\n"
                                          f"from .ring{after} import *\nfrom {pkg}.helpers import *\n\n"
                                          f"RING_{i} = 'ring_{i}'\n\n\ndef ring_fn_{i}(x):\n    return x + {i}\n")
    body = [_DECO_IMPORTS, "import numpy as np\n"]
    body += [f"from {pkg}.ring{i} import *  # noqa: F403\n" for i in range(0, n, max(1, n // 4))]
    body.append(f"from {pkg}.helpers import *\nfrom {pkg}.mutual_b import *\n")
    body.append(_PREPROCESS)
    for i in range(n):
        # a name defined at the far end of the ring, and one defined nowhere (a full search each)
        body.append(f"\n@tensorleap_metadata(RING_{i})\ndef meta_{i}(idx, preprocess):\n    return ring_fn_{i}(idx)\n\n")
        body.append(f"\n@tensorleap_metadata(NOWHERE_{i})\ndef meta_missing_{i}(idx, preprocess):\n    return helper_value()\n\n")
    body.append("\n@tensorleap_integration_test()\ndef integration_test(idx, preprocess):\n    image(idx, preprocess)\n"
                + "".join(f"    meta_{i}(idx, preprocess)\n" for i in range(n)))
    return _write(root, "leap_integration.py", "".join(body))


def reexport_chains(root: str, n: int = 20, depth: int = 30) -> str:
    pkg = "chains"
    _base(root, pkg)
    _write(root, f"{pkg}/__init__.py", "")
    imports = []
    for c in range(n):
        sub = f"{pkg}/c{c}"
        _write(root, f"{sub}/m0.py", f"NAME_{c} = 'chain_{c}'\n\n\ndef fn_{c}(idx, preprocess):\n    return float(idx)\n")
        for k in range(1, depth):
            _write(root, f"{sub}/m{k}.py", f"from .m{k - 1} import fn_{c}, NAME_{c}\n")
        # a package re-exporting a function over the submodule of the same name
        _write(root, f"{sub}/fn_{c}.py", f"def fn_{c}(idx, preprocess):\n    return 0.0\n")
        _write(root, f"{sub}/__init__.py", f"from .m{depth - 1} import fn_{c}, NAME_{c}\n")
        imports.append(f"from {pkg}.c{c} import fn_{c}, NAME_{c}\n")
    body = [_DECO_IMPORTS, "import numpy as np\n", *imports, _PREPROCESS]
    for c in range(n):
        body.append(f"\ntensorleap_metadata(NAME_{c})(fn_{c})\n")
    return _write(root, "leap_integration.py", "".join(body))


def many_modules(root: str, n: int = 500, seed: int = 3) -> str:
    pkg = "lib"
    _base(root, pkg)
    rng = random.Random(seed)
    _write(root, f"{pkg}/__init__.py", "")
    for i in range(n):
        deps = rng.sample(range(n), min(n, 3))  # a random graph: cycles included
        imports = "".join(f"from {pkg}.mod{j} import value_{j}\n" if j < i else f"from {pkg} import mod{j}\n"
                          for j in deps if j != i)
        _write(root, f"{pkg}/mod{i}.py", f"{imports}\nvalue_{i} = {i}\n\n\ndef fn_{i}(x):\n    return x * {i}\n")
    body = [_DECO_IMPORTS, "import numpy as np\n", f"from {pkg} import " + ", ".join(f"mod{i}" for i in range(0, n, 7)) + "\n",
            f"from {pkg}.mod0 import fn_0\n", _PREPROCESS,
            "\n@tensorleap_metadata('m0')\ndef m0(idx, preprocess):\n    return fn_0(idx)\n"]
    return _write(root, "leap_integration.py", "".join(body))


def many_bindings(root: str, n: int = 10_000, per_module: int = 100) -> str:
    pkg = "regs"
    _base(root, pkg)
    _write(root, f"{pkg}/__init__.py", "")
    mods = max(1, n // per_module)
    imports = []
    for m in range(mods):
        third = per_module // 3
        lines = [_DECO_IMPORTS, f"\nNAMES_{m} = {[f'loop_{m}_{k}' for k in range(third)]!r}\n\n\n",
                 "def _value(idx, preprocess):\n    return float(idx)\n\n\n",
                 f"for name in NAMES_{m}:\n    leap_binder.set_metadata(_value, name)\n\n"]
        for k in range(third):
            lines.append(f"\n@tensorleap_metadata('deco_{m}_{k}')\ndef deco_{m}_{k}(idx, preprocess):\n    return 1.0\n\n")
        for k in range(per_module - 2 * third):
            lines.append(f"leap_binder.set_metadata(_value, 'legacy_{m}_{k}')\n")
        _write(root, f"{pkg}/r{m}.py", "".join(lines))
        imports.append(f"import {pkg}.r{m}\n")
    body = [_DECO_IMPORTS, "import numpy as np\n", *imports, _PREPROCESS,
            "\n@tensorleap_integration_test()\ndef integration_test(idx, preprocess):\n    image(idx, preprocess)\n"]
    return _write(root, "leap_integration.py", "".join(body))


def recursive_helpers(root: str, n: int = 40) -> str:
    pkg = "rec"
    _base(root, pkg)
    _write(root, f"{pkg}/__init__.py", "")
    _write(root, f"{pkg}/config.yaml", "names: [a, b, c]\nenabled: true\n")
    # module-level values in terms of each other, with fan-out and a cycle back to the start
    vals = [f"A{i} = [A{i + 1}, A{i + 1}, '{i}']\n" for i in range(n - 1)] + [f"A{n - 1} = [A0, 'end']\n"]
    paths = [f"P{i} = os.path.join(P{i + 1}, P{i + 1})\n" for i in range(n - 1)] + [f"P{n - 1} = os.path.join(P0, 'x')\n"]
    _write(root, f"{pkg}/values.py", "import os\n\n" + "".join(vals) + "".join(paths)
           + "sys_path_probe = P0\n")
    # helpers calling each other in a ring; every one registers (a factory) and calls the next
    funcs = []
    for i in range(n):
        nxt = (i + 1) % n
        after = (i + 2) % n
        funcs.append(f"def helper_{i}(key, depth=0):\n"
                     f"    leap_binder.set_metadata(lambda idx, p: 1.0, f'h_{i}_{{key}}')\n"
                     f"    helper_{nxt}(key, depth + 1)\n    helper_{after}(key, depth + 2)\n    return helper_{nxt}\n\n\n")
    _write(root, f"{pkg}/helpers.py", "from code_loader import leap_binder\nfrom rec.values import *\n\n\n"
           + "".join(funcs))
    # YAML configs read many times, at module level and through a `with open(...) as f`
    reads = "".join(f"CFG_{i} = yaml.safe_load(open(os.path.join(os.path.dirname(__file__), 'config.yaml')))\n"
                    for i in range(n))
    withs = "".join(f"with open(os.path.join(os.path.dirname(__file__), 'config.yaml')) as f{i}:\n"
                    f"    W_{i} = yaml.safe_load(f{i})\n" for i in range(n))
    _write(root, f"{pkg}/configs.py", "import os\n\nimport yaml\n\n" + reads + withs
           + "".join(f"if CFG_{i}['enabled']:\n    ENABLED_{i} = W_{i}['names']\n" for i in range(n)))
    body = [_DECO_IMPORTS, "import numpy as np\n", f"from {pkg}.helpers import *\nfrom {pkg}.configs import *\n",
            f"from {pkg}.values import A0, P0\n", _PREPROCESS,
            "helper_0('import_time')\n",
            "\n@tensorleap_metadata(A0[2])\ndef meta_a(idx, preprocess):\n    return 1.0\n\n"]
    for i in range(n):
        body.append(f"\n@tensorleap_metadata(ENABLED_{i}[{i % 3}] + '_{i}')\ndef meta_cfg_{i}(idx, preprocess):\n"
                    f"    return helper_{i}('x')\n\n")
    body.append("\n@tensorleap_integration_test()\ndef integration_test(idx, preprocess):\n    image(idx, preprocess)\n"
                + "".join(f"    helper_{i}('k{i}')\n" for i in range(0, n, 3)))
    return _write(root, "leap_integration.py", "".join(body))


ADVERSARIAL = {
    # name -> (generator, size in the benchmark, size the scaling test starts from)
    "star_cycles": (star_cycles, 200, 20),
    "reexport_chains": (reexport_chains, 20, 4),
    "many_modules": (many_modules, 500, 60),
    "many_bindings": (many_bindings, 10_000, 600),
    "recursive_helpers": (recursive_helpers, 200, 20),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir")
    ap.add_argument("kind", choices=["vendored", "single", *ADVERSARIAL])
    ap.add_argument("--n", type=int, default=None)
    args = ap.parse_args()
    if args.kind == "vendored":
        entry = vendored(args.out_dir)
    elif args.kind == "single":
        entry = vendored(args.out_dir, library=False)
    else:
        gen, size, _ = ADVERSARIAL[args.kind]
        entry = gen(args.out_dir, args.n or size)
    total = 0
    for d, _, fs in os.walk(args.out_dir):
        for f in fs:
            if f.endswith(".py"):
                with open(os.path.join(d, f), encoding="utf-8") as fh:
                    total += sum(1 for _ in fh)
    print(entry, total, "lines of Python")


if __name__ == "__main__":
    main()
