"""The scan's cache and the keys it is read by: what a function's results depend on, and a bounded file."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tensorleap_ls.core.engine.analysis import Analyzer
from tensorleap_ls.runtime.scan.cache import Cache, sample_key
from tensorleap_ls.runtime.scan.keys import Keys

ENTRY = '''\
import numpy as np
from code_loader.inner_leap_binder.leapbinder_decorators import tensorleap_input_encoder, tensorleap_metadata

from helpers.io import load_image
from helpers import labels

SCALE = 255.0
OFFSET = 1


def _norm(x):
    return x / SCALE


@tensorleap_input_encoder('image')
def encode_image(idx, preprocess):
    return _norm(load_image(idx)).astype(np.float32)


@tensorleap_metadata('label')
def meta_label(idx, preprocess):
    return labels.NAMES[idx % 3]


@tensorleap_metadata('index')
def meta_index(idx, preprocess):
    return idx + OFFSET
'''


def project(tmp_path: Path) -> Path:
    (tmp_path / "helpers").mkdir()
    (tmp_path / "helpers" / "__init__.py").write_text("")
    (tmp_path / "helpers" / "io.py").write_text("import numpy as np\n\ndef load_image(i):\n    return np.zeros((2, 2))\n")
    (tmp_path / "helpers" / "labels.py").write_text("NAMES = ['a', 'b', 'c']\n")
    (tmp_path / "leap.yaml").write_text("entryFile: leap_integration.py\n")
    (tmp_path / "leap_integration.py").write_text(ENTRY)
    return tmp_path / "leap_integration.py"


def keys_of(entry: Path) -> dict[str, str]:
    pa = Analyzer().analyze_file(str(entry))[0]
    k = Keys.of_project(pa.project)
    lines = entry.read_text().split("\n")
    where = {name: [str(entry), next(i + 1 for i, line in enumerate(lines) if line.startswith(f"def {name}("))]
             for name in ("encode_image", "meta_label", "meta_index")}
    return {name: k.key(w, "pre") for name, w in where.items()}


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_a_key_follows_what_its_function_uses(tmp_path):
    entry = project(tmp_path)
    base = keys_of(entry)
    assert len(set(base.values())) == 3
    steps = [  # (file, old, new, the functions whose key changes)
        (entry, "    return idx + OFFSET\n", "    return idx + OFFSET + 0\n", {"meta_index"}),  # its own body
        (entry, "OFFSET = 1\n", "OFFSET = 2\n", {"meta_index"}),  # a constant it reads
        (entry, "    return x / SCALE\n", "    return x / SCALE / 1\n", {"encode_image"}),  # a helper it calls
        (entry, "SCALE = 255.0\n", "SCALE = 256.0\n", {"encode_image"}),  # what the helper reads
        (tmp_path / "helpers" / "io.py", "(2, 2)", "(3, 3)", {"encode_image"}),  # a local module it imports from
        (tmp_path / "helpers" / "labels.py", "'c'", "'d'", {"meta_label"}),
        (entry, "import numpy as np\n", "import numpy as np  # numerical\n", {"encode_image"}),  # an import it uses
    ]
    for path, old, new, changed in steps:
        edit(path, old, new)
        now = keys_of(entry)
        assert {n for n in now if now[n] != base[n]} == changed, (old, new)
        base = now
    # preprocess's key is in every key
    pa = Analyzer().analyze_file(str(entry))[0]
    k = Keys.of_project(pa.project)
    assert k.key([str(entry), 21], "pre") != k.key([str(entry), 21], "pre2")


def test_cache_round_trip_and_bound(tmp_path):
    cache = Cache(str(tmp_path), limit_mb=1)
    assert (tmp_path / ".tensorleap" / ".gitignore").read_text().splitlines()[-1] == "*"
    rec = [0.001, [[28, 28, 1], "float32", 0.0, 1.0, None]]
    cache.write([("k1", "training", sample_key(i), rec) for i in range(100)])
    cache.write([("k1", "training", sample_key("1"), [0.5, "str id"])])  # 1 and "1" are two samples
    got = {s: r for _, s, r in cache.read(["k1"], "training")}
    assert len(got) == 101 and got["1"] == rec and got['"1"'] == [0.5, "str id"]
    assert list(cache.read(["k1"], "validation")) == []
    # older keys go first when the file is over its limit; this scan's keys go last
    big = [0.0, "x" * 2000]
    for key in ("old", "older", "new"):
        cache.write([(key, "training", sample_key(i), big) for i in range(100)])
        cache.used([key])
    cache.used(["k1"])
    dropped = cache.trim(keep={"new"})
    assert cache.size() <= 1 << 20
    left = {fn for fn, _, _ in cache.read(["k1", "old", "older", "new"], "training")}
    assert "new" in left and "old" not in left and dropped >= 1
    cache.close()
