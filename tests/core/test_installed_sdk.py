"""The installed code-loader, read statically from disk (core/sdk/env.py, checks/sdk_api.py).

Two real releases side by side: 1.0.214 (the test venv's) and 1.0.100 (installed by this test into a
bare venv, cached between runs), which lacks `tensorleap_integration_test` (first in 1.0.137). The same
project gets TL420 with one and not with the other, the real SDK fails where TL420 says it does, and
hover / completion / signature help describe the installed release.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tensorleap_ls.core import assist

from tensorleap_ls.core.sdk import env as sdk_env
from tensorleap_ls.core.engine.analysis import Analyzer

from sdk_versions import OLD, sdk_venv

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
POETRY = '[tool.poetry.dependencies]\npython = "^3.8"\ncode-loader = {}\n'


@pytest.fixture(scope="module")
def old_python() -> Path:
    return sdk_venv(OLD)


def check_json(project: Path, python: Path | str) -> dict:
    out = subprocess.run([sys.executable, "-m", "tensorleap_ls", "check", "--format", "json", "--python", str(python),
                          str(project)], capture_output=True, text=True)
    assert out.returncode in (0, 1), out.stderr
    return json.loads(out.stdout)["projects"][0]


def project(tmp_path: Path, base: str = "decorator_mnist") -> Path:
    dst = tmp_path / base
    shutil.copytree(EXAMPLES / base, dst, ignore=shutil.ignore_patterns("__pycache__"))
    return dst


def test_reads_the_installed_release_from_disk(old_python):
    new = sdk_env.load(sys.executable)
    old = sdk_env.load(str(old_python))
    assert (new.version, old.version) == ("1.0.214", OLD)
    assert new.function("tensorleap_integration_test") is not None and old.function("tensorleap_integration_test") is None
    assert "model_input_index" in new.function("tensorleap_input_encoder").params
    assert "set_input" in old.binder_methods() and "Image" in old.enum("LeapDataType")


def test_same_project_needs_a_newer_release_only_with_the_old_one(tmp_path, old_python):
    root = project(tmp_path)
    with_old = [d for d in check_json(root, old_python)["diagnostics"] if d["code"] == "TL420"]
    assert with_old and all(d["severity"] == "error" for d in with_old)
    first = next(d for d in with_old if "tensorleap_integration_test" in d["message"])
    assert "first appears in code-loader 1.0.137" in first["message"] and OLD in first["message"]
    assert first["file"] == "leap_integration.py"
    assert not [d for d in check_json(root, sys.executable)["diagnostics"] if d["code"] == "TL420"]


def test_the_real_old_sdk_fails_where_tl420_says(tmp_path, old_python):
    """The oracle: importing the entry with code-loader 1.0.100 raises on the name TL420 names."""
    root = project(tmp_path)
    old_site = next(Path(p) for p in sdk_env.site_packages(str(old_python)))
    deps = sysconfig.get_paths()["purelib"]  # numpy & co. from the test venv; code_loader from the old release
    code = ("import sys, runpy; sys.path.insert(0, '.'); runpy.run_path('leap_integration.py')")
    run = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": f"{old_site}{os.pathsep}{deps}", "TL_DISABLE_ANALYTICS": "1"})
    assert run.returncode != 0
    assert "ImportError" in run.stderr and "tensorleap_integration_test" in run.stderr, run.stderr[-2000:]


def test_keyword_typo_enum_member_and_binder_method(tmp_path):
    root = project(tmp_path)
    enc = root / "mnist_tl" / "encoders.py"
    enc.write_text(enc.read_text().replace("@tensorleap_input_encoder('image', channel_dim=-1)",
                                           "@tensorleap_input_encoder('image', channel_dim=-1, modle_input_index=0)"))
    viz = root / "mnist_tl" / "visualizers.py"
    viz.write_text(viz.read_text().replace("LeapDataType.Image)", "LeapDataType.Imagee)", 1))
    legacy = project(tmp_path, "legacy_mnist")
    lb = legacy / "leap_binder.py"
    lb.write_text(lb.read_text() + "\nleap_binder.set_inputt(encode_image, 'image2')\n")
    env = sdk_env.environment(sys.executable)
    found = [f for p in (root, legacy) for pa in Analyzer(env_for=lambda r: env).analyze_path(str(p))
             for f in pa.findings if f.code == "TL420"]
    messages = sorted(f.message for f in found)
    assert len(found) == 3, messages
    assert any("`modle_input_index`" in m and "did you mean `model_input_index`?" in m for m in messages)
    assert any("`LeapDataType.Imagee`" in m and "did you mean `Image`?" in m for m in messages)
    assert any("`leap_binder.set_inputt`" in m and "did you mean `set_input`?" in m for m in messages)


@pytest.mark.parametrize("file, text, warned, line", [
    ("requirements.txt", "numpy\ncode-loader==1.0.150\n", True, 2),
    ("requirements.txt", "numpy\ncode-loader>=1.0.150\n", False, 0),
    ("requirements.txt", "code-loader==1.0.214\n", False, 0),
    ("requirements.txt", "code_loader~=1.0.100\n", False, 0),
    ("pyproject.toml", POETRY.format('"^1.0.145"'), False, 0),
    ("pyproject.toml", POETRY.format('"1.0.150"'), True, 3),
    ("pyproject.toml", POETRY.format('"^1.1.0"'), True, 3),
    ("pyproject.toml", POETRY.format('{version = "~1.0.200", optional = false}'), False, 0),
    ("pyproject.toml", POETRY.format('"*"'), False, 0),
])
def test_pin_against_the_installed_release(tmp_path, file, text, warned, line):
    root = project(tmp_path)
    if file == "pyproject.toml":  # the platform resolves a pyproject only when there is no requirements.txt
        (root / "requirements.txt").unlink()
    (root / file).write_text(text)
    found = [d for d in check_json(root, sys.executable)["diagnostics"] if d["code"] == "TL421"]
    assert [(d["file"], d["line"], d["severity"]) for d in found] == ([(file, line, "information")] if warned else [])


def test_help_describes_the_installed_release(old_python):
    old, new = sdk_env.load(str(old_python)), sdk_env.load(sys.executable)
    word = "tensorleap_element_instance_preprocess"  # its `instance_length_encoder` came after 1.0.100
    hover_old, hover_new = assist.hover(word, [], sdk=old), assist.hover(word, [], sdk=new)
    assert f"code-loader {OLD}, installed" in hover_old and "instance_length_encoder" not in hover_old
    assert "instance_length_encoder" in hover_new and "1.0.214, installed" in hover_new
    assert "Not in code-loader 1.0.100" in assist.hover("tensorleap_integration_test", [], sdk=old)
    assert "first appears in code-loader 1.0.137" in assist.hover("tensorleap_integration_test", [], sdk=old)
    assert assist.BUNDLED_NOTE in assist.hover("tensorleap_input_encoder", [])
    decorators_old = {i.label for i in assist.complete("@tensorleap_", 12, [], sdk=old)}
    decorators_new = {i.label for i in assist.complete("@tensorleap_", 12, [], sdk=new)}
    assert "tensorleap_integration_test" in decorators_new - decorators_old
    line = f"@{word}("
    assert "instance_length_encoder" not in assist.signature(line, len(line), sdk=old).params
    assert "instance_length_encoder" in assist.signature(line, len(line), sdk=new).params


def test_site_packages_layouts(tmp_path):
    posix = tmp_path / "venv"
    (posix / "lib" / "python3.9" / "site-packages").mkdir(parents=True)
    (posix / "bin").mkdir()
    (posix / "bin" / "python").write_text("")
    assert sdk_env.site_packages(str(posix / "bin" / "python")) == [str(posix / "lib" / "python3.9" / "site-packages")]
    win = tmp_path / "winvenv"
    (win / "Lib" / "site-packages").mkdir(parents=True)
    (win / "Scripts").mkdir()
    assert sdk_env.site_packages(str(win / "Scripts" / "python.exe")) == [str(win / "Lib" / "site-packages")]
    link = tmp_path / "shim" / "python3"
    link.parent.mkdir()
    link.symlink_to(posix / "bin" / "python")
    assert sdk_env.site_packages(str(link)) == [str(posix / "lib" / "python3.9" / "site-packages")]
    assert sdk_env.load(str(posix / "bin" / "python")) is None  # no code-loader there: no SDK, no TL420


def test_a_pyproject_beside_requirements_is_not_what_the_platform_installs(tmp_path):
    root = project(tmp_path)
    (root / "pyproject.toml").write_text(POETRY.format('"1.0.150"'))
    assert not [d for d in check_json(root, sys.executable)["diagnostics"] if d["code"] == "TL421"]


def test_the_walk_of_the_sdk_stays_inside_its_folder(tmp_path):
    """A file or folder of the installed package that is a symlink out of it is not read; a link inside it is."""
    from tensorleap_ls.core.sdk.env import _sdk_files

    outside = tmp_path / "outside"
    (outside / "sub").mkdir(parents=True)
    (outside / "secret.py").write_text("X = 1\n")
    (outside / "sub" / "m.py").write_text("Y = 1\n")
    pkg = tmp_path / "site" / "code_loader"
    (pkg / "contract").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "contract" / "enums.py").write_text("Z = 1\n")
    (pkg / "leak.py").symlink_to(outside / "secret.py")
    (pkg / "alias.py").symlink_to(pkg / "contract" / "enums.py")
    (pkg / "linked").symlink_to(outside / "sub", target_is_directory=True)
    names = [dotted for _, dotted, _, _ in _sdk_files(str(pkg))]
    assert names == ["code_loader", "code_loader.alias", "code_loader.contract.enums"]


def _installed() -> tuple[str, str]:
    found = sdk_env.installed_version(sdk_env.site_packages(None))
    assert found is not None, "the test environment installs code-loader"
    return found


def test_the_shipped_release_is_what_the_installed_package_says():
    """core/sdk/releases/<version>.json (scripts/ship_sdk_release.py) must say what the package's files say:
    regenerate it when this fails."""
    version, package_dir = _installed()
    files = sdk_env._sdk_files(package_dir)
    shipped = sdk_env.shipped(version, package_dir, files)
    assert shipped is not None, f"no shipped API for the installed code-loader {version}"
    assert sdk_env._encode(shipped) == sdk_env._encode(sdk_env.read_package(package_dir, version, files))


def test_a_changed_package_is_read_from_its_files_not_the_shipped_release(tmp_path):
    version, package_dir = _installed()
    copy = tmp_path / "site" / "code_loader"
    shutil.copytree(package_dir, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert sdk_env.shipped(version, str(copy), sdk_env._sdk_files(str(copy))) is not None, "(a copy is the same release)"
    init = copy / "__init__.py"
    init.write_text(init.read_text() + "\n\ndef patched_in_place(x):\n    return x\n")
    files = sdk_env._sdk_files(str(copy))
    assert sdk_env.shipped(version, str(copy), files) is None
    api = sdk_env.read_package(str(copy), version, files)
    assert api.function("patched_in_place") is not None
    shutil.copy2(Path(package_dir) / "__init__.py", init)
    assert sdk_env.shipped(version, str(copy), sdk_env._sdk_files(str(copy))) is not None, "(restored)"
    text = init.read_text()
    init.write_text(text[:-2] + ("#" if text[-2] != "#" else " ") + text[-1:])  # one byte changed, same size
    assert sdk_env.shipped(version, str(copy), sdk_env._sdk_files(str(copy))) is None, "same sizes, other bytes"
