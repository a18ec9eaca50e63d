"""The command line: exit codes, the linter-style text format, the JSON schema, bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SHARED = ROOT / "tests" / "fixtures" / "shared_examples"  # the two scripts of shared/sdk/examples.md


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tensorleap_ls", *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=120)


def test_bundled_examples_have_no_finding():
    r = cli("check", "--no-color", "examples/decorator_mnist", "examples/legacy_mnist")
    assert r.returncode == 0, r.stdout
    # the legacy example pins code-loader 1.0.188 (the last release that pushes a legacy script without an
    # integration test): one information, the local checks ran with the installed 1.0.214 (TL421)
    assert r.stdout.strip().splitlines()[-1] == "2 project(s) checked: 0 error(s), 0 warning(s), 1 info, 0 hint(s)"
    assert "TL421" in r.stdout


@pytest.mark.parametrize("style", ["legacy", "decorator"])
def test_shared_sdk_examples_have_no_error(style):
    r = cli("check", "--format", "json", str(SHARED / style))
    assert r.returncode == 0, r.stdout
    diags = json.loads(r.stdout)["projects"][0]["diagnostics"]
    assert [d for d in diags if d["severity"] == "error"] == []


def test_errors_give_exit_1_and_linter_lines(tmp_path):
    root = tmp_path / "p"
    shutil.copytree(EXAMPLES / "decorator_mnist", root, ignore=shutil.ignore_patterns("__pycache__"))
    viz = root / "mnist_tl" / "visualizers.py"
    viz.write_text(viz.read_text().replace("-> LeapImage:", "-> LeapHorizontalBar:"))
    r = cli("check", "--no-color", str(root), cwd=tmp_path)
    assert r.returncode == 1
    lines = viz.read_text().split("\n")
    n = next(i for i, ln in enumerate(lines) if "-> LeapHorizontalBar" in ln)
    col = lines[n].index("LeapHorizontalBar") + 1
    assert r.stdout.splitlines()[0].startswith(f"p/mnist_tl/visualizers.py:{n + 1}:{col}: error TL213 ")
    assert "\x1b[" not in r.stdout


def test_json_schema_is_exact(tmp_path):
    r = cli("check", "--format", "json", "examples/legacy_mnist")
    doc = json.loads(r.stdout)
    assert set(doc) == {"version", "projects"} and doc["version"] == 1
    (proj,) = doc["projects"]
    assert set(proj) == {"root", "entry", "bindings", "diagnostics"}
    assert proj["entry"] == "leap_binder.py" and Path(proj["root"]).is_absolute()
    for b in proj["bindings"]:
        assert set(b) == {"kind", "name", "function", "file", "line", "def_file", "def_line", "style"}
        assert isinstance(b["line"], int) and b["line"] >= 1 and b["style"] in ("legacy", "decorator")
        assert b["name"] is None or isinstance(b["name"], str)
    kinds = {(b["kind"], b["name"]) for b in proj["bindings"]}
    assert ("input", "image") in kinds and ("prediction", "classes") in kinds
    root = tmp_path / "p"
    shutil.copytree(EXAMPLES / "legacy_mnist", root, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "leap.yaml").write_text((root / "leap.yaml").read_text().replace("py311", "3.11"))
    d = json.loads(cli("check", "--format", "json", str(root)).stdout)["projects"][0]["diagnostics"][0]
    assert set(d) == {"file", "line", "column", "end_line", "end_column", "severity", "code", "message"}
    lines = (root / "leap.yaml").read_text().split("\n")
    n = next(i for i, ln in enumerate(lines) if ln.startswith("pythonVersion"))
    assert (d["file"], d["code"], d["severity"], d["line"], d["column"]) == (
        "leap.yaml", "TL409", "warning", n + 1, lines[n].index("3.11") + 1)


@pytest.mark.parametrize("args,needle", [
    (["check", "/no/such/folder"], "no such file or folder"),
    (["check", "--format", "xml", "."], "invalid choice"),
    (["preview", "examples/legacy_mnist"], "required"),
])
def test_bad_input_exit_2_without_traceback(args, needle):
    r = cli(*args)
    assert r.returncode == 2
    assert needle in r.stderr and "Traceback" not in r.stderr


def test_folder_without_integration_is_a_usage_error(tmp_path):
    r = cli("check", str(tmp_path))
    assert r.returncode == 2 and "no integration found" in r.stderr


def test_version():
    r = cli("--version")
    assert r.returncode == 0 and r.stdout.startswith("tensorleap-ls ")


def test_a_static_check_runs_no_cyclic_collection_and_freezes_what_it_leaves(tmp_path):
    """`check` (static) is one short run: the collector does not walk its objects, neither while it runs nor at exit
    (what is alive is frozen); the collector's state is given back to an in-process caller."""
    code = ("import gc, json, sys\nfrom tensorleap_ls.cli import main\n"
            "before = [s['collections'] for s in gc.get_stats()]\n"
            "main(['check', '--format', 'json', sys.argv[1]])\n"
            "after = [s['collections'] for s in gc.get_stats()]\n"
            "print(json.dumps([gc.isenabled(), gc.get_freeze_count(), [a - b for a, b in zip(after, before)]]),"
            " file=sys.stderr)\n")
    env = {**__import__("os").environ, "TL_CACHE_DIR": str(tmp_path / "cache"), "TL_DISABLE_ANALYTICS": "1"}
    r = subprocess.run([sys.executable, "-c", code, str(EXAMPLES / "legacy_mnist")], capture_output=True, text=True,
                       env=env, timeout=120)
    assert json.loads(r.stdout)["projects"][0]["bindings"], r.stderr
    enabled, frozen, collections = json.loads(r.stderr.strip().splitlines()[-1])
    assert enabled and frozen > 10_000 and collections[2] == 0  # (young ones may run while the arguments are parsed)


def test_an_unknown_option_of_a_command_shows_the_usage_of_every_command(capsys):
    """The command line is built with the named command's parser alone (start-up); an error the top level reports
    still shows the usage that names every command."""
    from tensorleap_ls.cli import _parser, main

    assert set(_parser("check")._subparsers._group_actions[0].choices) == {"check"}
    with pytest.raises(SystemExit) as e:
        main(["check", "--bogus", "."])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "{check,preview,debug-sample,scan,serve}" in err and "unrecognized arguments: --bogus" in err
