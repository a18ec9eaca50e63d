"""The project interpreter (issue 26, item 3): the install line is pinned from the project's requirements and
works in a venv without pip; a project with no interpreter of its own is offered a .venv (a warning with the
command that creates it), not an install into the server's interpreter; a .venv created while the server
runs is used by the next run without a restart."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tensorleap_ls.core.model import Severity
from tensorleap_ls.core.project.requirements import install_args
from tensorleap_ls.runtime import api, interpreter

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "decorator_mnist"


def read(path: str) -> str | None:
    return Path(path).read_text() if os.path.isfile(path) else None


def test_install_args_follow_the_project_pins(tmp_path: Path):
    (tmp_path / "requirements.txt").write_text("code-loader==1.0.213\nnumpy<2\n")
    assert install_args(str(tmp_path), read, "1.0.214") == ["-r", str(tmp_path / "requirements.txt")]
    (tmp_path / "requirements.txt").write_text("onnxruntime\n")  # the SDK not listed: pinned to the known release
    assert install_args(str(tmp_path), read, "1.0.214") == ["-r", str(tmp_path / "requirements.txt"), "code-loader==1.0.214"]
    (tmp_path / "requirements.txt").unlink()
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = ["code-loader==1.0.210", "pillow>=9"]\n')
    assert install_args(str(tmp_path), read, "1.0.214") == ["code-loader==1.0.210", "pillow>=9"]
    (tmp_path / "pyproject.toml").write_text('[tool.poetry.dependencies]\npython = "^3.9"\nnumpy = "^1.24"\nonnx = "1.15.0"\n')
    assert install_args(str(tmp_path), read, "1.0.214") == ["code-loader==1.0.214", "numpy>=1.24", "onnx==1.15.0"]
    (tmp_path / "pyproject.toml").unlink()
    assert install_args(str(tmp_path), read, "1.0.214") == ["code-loader==1.0.214"]


def test_a_venv_without_pip_gets_ensurepip_first(tmp_path: Path):
    venv = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    interpreter.has_pip.cache_clear()
    assert interpreter.has_pip(python) is False
    assert interpreter.has_pip(sys.executable) is True
    line = interpreter.install_line(python, str(EXAMPLE), windows=False)
    assert line == (f"{python} -m ensurepip --upgrade && {python} -m pip install -r {EXAMPLE / 'requirements.txt'}")
    # and the line really gives that venv pip (the install itself is not run: no network in unit tests)
    subprocess.run(line.split(" && ")[0].split(), check=True, capture_output=True)
    interpreter.has_pip.cache_clear()
    assert interpreter.has_pip(python) is True


def test_a_project_without_an_interpreter_of_its_own_is_offered_a_venv(tmp_path: Path, monkeypatch):
    root = tmp_path / "p"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("__pycache__"))
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    # the server runs in an interpreter without code-loader, and the project has no .venv: the fallback
    monkeypatch.setattr(sys, "executable", str(bare / "bin" / "python"))
    interpreter.problem.cache_clear()
    python, source = api.chosen(str(root))
    assert (python, source) == (str(bare / "bin" / "python"), "fallback")
    failure = api.interpreter_failure(python, str(root), str(root / "leap_integration.py"), source)
    assert failure is not None
    reply, finding = failure
    venv_line = interpreter.venv_line(str(root))
    assert reply["reason"]["source"] == "fallback" and reply["reason"]["create_venv"] == venv_line
    assert venv_line.endswith(f"-m venv {root / '.venv'} && {root / '.venv' / 'bin' / 'python'} -m pip install -r "
                              f"{root / 'requirements.txt'}"), venv_line
    assert finding.code == "TL534" and finding.effective_severity == Severity.WARNING
    assert "no interpreter of its own" in finding.message and "Create a .venv" in finding.message
    assert finding.data.install == venv_line and finding.data.venv is True
    assert "-m pip install code-loader" not in finding.message  # no install into the server's interpreter
    # a .venv created afterwards is the next run's interpreter, no restart needed
    (root / ".venv" / "bin").mkdir(parents=True)
    os.symlink(str(bare / "bin" / "python"), root / ".venv" / "bin" / "python")
    assert api.chosen(str(root)) == (str(root / ".venv" / "bin" / "python"), "venv")


@pytest.mark.parametrize("source", ["setting", "venv"])
def test_a_chosen_interpreter_without_code_loader_stays_an_error_with_the_pinned_line(tmp_path: Path, source):
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    python = str(bare / "bin" / "python")
    interpreter.problem.cache_clear()
    interpreter.has_pip.cache_clear()
    reply, finding = api.interpreter_failure(python, str(EXAMPLE), str(EXAMPLE / "leap_integration.py"), source)
    line = f"{python} -m ensurepip --upgrade && {python} -m pip install -r {EXAMPLE / 'requirements.txt'}"
    assert reply["reason"]["install"] == line and reply["reason"]["create_venv"] is None
    assert finding.effective_severity == Severity.ERROR and finding.data.install == line
