"""Registered functions and helpers defined outside the closure: in an installed package (a real wheel,
built here and installed with pip into a bare venv) and in a sibling folder put on the path by a
``.pth`` file (what ``pip install -e ../shared_lib`` leaves). Their contracts are checked like local
ones and reported at the registration; a helper's visible result type is reported through it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from sdk_versions import CACHE, PYVER

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

ACME = {  # the installed company library
    "acme_encoders/__init__.py": "from .image import encode_image, make_labels, make_array, make_name\n",
    "acme_encoders/image.py": (
        "import numpy as np\n\n\n"
        "def encode_image(idx):\n    return np.zeros((28, 28, 1), np.float32)\n\n\n"
        "def make_labels(idx):\n    out = []\n    out.append(float(idx))\n    return out\n\n\n"
        "def make_array(idx) -> np.ndarray:\n    return np.zeros(10, np.float32)\n\n\n"
        "def make_name(idx) -> str:\n    return str(idx)\n"),
}
SIBLING = {  # a sibling folder of the project, on the path through a .pth file
    "common_enc/__init__.py": "",
    "common_enc/masks.py": "def encode_mask(sample_id, preprocess, scale):\n    return None\n",
}


def wheel(tmp: Path, name: str, version: str, files: dict[str, str]) -> Path:
    """A minimal, valid wheel (PEP 427) holding ``files``."""
    dist = f"{name}-{version}.dist-info"
    meta = {f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
            f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    everything = {**files, **meta}
    record = []
    for path, text in everything.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{dist}/RECORD,,")
    out = tmp / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(out, "w") as z:
        for path, text in everything.items():
            z.writestr(path, text)
        z.writestr(f"{dist}/RECORD", "\n".join(record) + "\n")
    return out


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> tuple[Path, Path]:
    """(python of a venv with acme_encoders installed and the sibling folder on its path, sibling folder)."""
    tmp = tmp_path_factory.mktemp("outside")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = venv / "lib" / PYVER / "site-packages"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
                    "--target", str(site), str(wheel(tmp, "acme_encoders", "0.1", ACME))], check=True)
    shared = tmp / "shared_lib"
    for rel, text in SIBLING.items():
        (shared / rel).parent.mkdir(parents=True, exist_ok=True)
        (shared / rel).write_text(text)
    (site / "shared_lib.pth").write_text(f"# an editable install\nimport sys; sys.stdout.write('never run')\n{shared}\n")
    return venv / "bin" / "python", shared


def legacy_project(tmp_path: Path, extra: str) -> Path:
    root = tmp_path / "legacy_mnist"
    shutil.copytree(EXAMPLES / "legacy_mnist", root, ignore=shutil.ignore_patterns("__pycache__"))
    entry = root / "leap_binder.py"
    entry.write_text(entry.read_text().replace("if __name__ == '__main__':", extra + "\nif __name__ == '__main__':"))
    return root


def check(root: Path, python: Path) -> list[dict]:
    out = subprocess.run([sys.executable, "-m", "tensorleap_ls", "check", "--format", "json", "--python", str(python),
                          str(root)], capture_output=True, text=True)
    assert out.returncode in (0, 1), out.stderr
    assert "never run" not in out.stdout + out.stderr
    return json.loads(out.stdout)["projects"][0]


def line_of(root: Path, text: str) -> int:
    return next(i for i, ln in enumerate((root / "leap_binder.py").read_text().split("\n"), 1) if text in ln)


def test_contracts_of_installed_and_sibling_functions_at_the_registration(tmp_path, env):
    python, shared = env
    root = legacy_project(tmp_path, (
        "from acme_encoders import encode_image as acme_image\nfrom common_enc.masks import encode_mask\n"
        "leap_binder.set_input(acme_image, 'acme')\nleap_binder.set_input(encode_mask, 'mask')\n"))
    doc = check(root, python)
    tl202 = sorted((d["line"], d["message"]) for d in doc["diagnostics"] if d["code"] == "TL202")
    assert [line for line, _ in tl202] == [line_of(root, "'acme'"), line_of(root, "'mask'")]
    assert "image.py:4" in tl202[0][1] and f"{shared / 'common_enc' / 'masks.py'}:1" in tl202[1][1]
    acme = next(b for b in doc["bindings"] if b["name"] == "acme")
    assert acme["def_file"].endswith("acme_encoders/image.py") and acme["def_line"] == 4
    # the same registrations without the environment: nothing can be said, nothing is said
    bare = check(root, Path(sys.executable))
    assert not [d for d in bare["diagnostics"] if d["code"] == "TL202"]


def test_helper_results_are_reported_through_the_helper(tmp_path, env):
    python, _ = env
    root = legacy_project(tmp_path, (
        "import numpy as np\nfrom acme_encoders import make_labels, make_array, make_name\n\n\n"
        "def local_none(idx):\n    print(idx)\n\n\n"
        "def local_tuple(idx):\n    return (1.0, 2.0)\n\n\n"
        "def local_array(idx):\n    return np.zeros(3, np.float32)\n\n\n"
        "def gt_list(idx, preprocess):\n    return make_labels(idx)\n\n\n"
        "def in_array(idx, preprocess):\n    return make_array(idx)\n\n\n"
        "def in_name(idx, preprocess):\n    value = make_name(idx)\n    return value\n\n\n"
        "def in_none(idx, preprocess):\n    return local_none(idx)\n\n\n"
        "def gt_none(idx, preprocess):\n    return local_none(idx)\n\n\n"
        "def in_tuple(idx, preprocess):\n    return local_tuple(idx)\n\n\n"
        "def in_local_array(idx, preprocess):\n    return local_array(idx)\n\n\n"
        "leap_binder.set_ground_truth(gt_list, 'gt_list')\nleap_binder.set_input(in_array, 'in_array')\n"
        "leap_binder.set_input(in_name, 'in_name')\nleap_binder.set_input(in_none, 'in_none')\n"
        "leap_binder.set_ground_truth(gt_none, 'gt_none')\nleap_binder.set_input(in_tuple, 'in_tuple')\n"
        "leap_binder.set_input(in_local_array, 'in_local_array')\n"))
    doc = check(root, python)
    found = {(d["code"], d["line"]): d["message"] for d in doc["diagnostics"] if d["code"] in ("TL222", "TL224")}
    expected = {("TL224", line_of(root, "return make_labels(idx)")): "`make_labels()`, which returns a list (image.py:8)",
                ("TL224", line_of(root, "return value")): "`make_name()`, which returns a str (image.py:18)",
                ("TL224", line_of(root, "return local_none(idx)")): "`local_none()`, which returns None",
                ("TL222", line_of(root, "return local_none(idx)") + 4): "`local_none()`, which returns None",
                ("TL224", line_of(root, "return local_tuple(idx)")): "`local_tuple()`, which returns a tuple"}
    assert set(found) == set(expected), found
    for key, text in expected.items():
        assert text in found[key], found[key]
