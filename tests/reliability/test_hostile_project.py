"""A hostile project, round 3 (issue 24): the model readers, the installed-SDK reader, the files beside
the entry, New Project and the quick fixes, against the server and the CLI.

Each test reproduces an attack of the issue and fails without its fix; docs/reliability.md
("Hostile project") lists them with the limits they show.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lspproc import is_diag, start_server

from test_hostile_server import FIXTURE, _process_trust_restored, cli, project  # noqa: F401 - fixtures

HERE = Path(__file__).parent


# --- 8: the missing-part fix on a module holding a 1,000-deep expression ------------------------------
DEEP = "1" + " + 1" * 1000  # CPython compiles it; a recursive walk (ast.dump) of it raises RecursionError


def test_missing_part_fix_on_a_deeply_nested_module(project: Path) -> None:
    from tensorleap_ls.core import fixes
    from tensorleap_ls.core.engine.analysis import Analyzer

    entry = project / "leap_integration.py"
    text = entry.read_text().replace("@tensorleap_preprocess()", "", 1)
    # before the __main__ block: the insertion point is searched statement by statement
    text = text.replace("\n\n\n", f"\n\nif {DEEP}:\n    pass\n\n\n"
                                  f"def never():\n    raise NotImplementedError({DEEP})\n\n\n", 1)
    entry.write_text(text)
    (pa,) = Analyzer().analyze_file(str(entry))
    missing = [f for f in pa.findings if f.code == "TL101"]
    assert missing, [f.code for f in pa.findings]
    titles = [fix.title for f in pa.findings for fix in fixes.run_fixer(f, pa)]  # run_fixer raises what a fixer raises
    assert "Create a preprocess stub" in titles, titles


# --- 5: the installed-SDK reader and the project's .venv ----------------------------------------------
PY = f"python{sys.version_info[0]}.{sys.version_info[1]}"
DEEPEST = "x = " + "1" + " + 1" * 100_000 + "\n"  # ast.parse: RecursionError (or MemoryError)


def _venv(root: Path) -> tuple[Path, Path]:
    """A project .venv (its python, its site-packages) as the server finds it on disk, nothing run."""
    bindir, site = root / ".venv" / "bin", root / ".venv" / "lib" / PY / "site-packages"
    bindir.mkdir(parents=True)
    site.mkdir(parents=True)
    (bindir / "python").symlink_to(sys.executable)
    return bindir / "python", site


def _sdk_files(pkg: Path, version: str = "1.0.214") -> None:
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg.parent / f"code_loader-{version}.dist-info").mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text("from code_loader.leaploader import LeapLoader\n")
    (pkg / "leaploader.py").write_text("class LeapLoader:\n    def check_dataset(self, marker_of_this_copy):\n"
                                       "        pass\n")


def _check_ok(project: Path) -> dict:
    r = cli("check", "--format", "json", str(project))
    assert r.returncode in (0, 1) and "Traceback" not in r.stderr, (r.returncode, r.stderr[-2000:])
    return json.loads(r.stdout)


def test_sdk_symlinked_out_of_site_packages_is_not_walked(project: Path, tmp_path: Path) -> None:
    from tensorleap_ls.core.sdk import env

    python, site = _venv(project)
    outside = tmp_path / "usr"  # stands for /usr: a big tree that is not the project's SDK
    _sdk_files(outside)
    (outside / "generated.py").write_text(DEEPEST)
    (site / "code_loader-1.0.214.dist-info").mkdir()
    (site / "code_loader").symlink_to(outside, target_is_directory=True)
    assert env.environment(str(python)).sdk is None  # the bundled 1.0.214 table stands in for it
    _check_ok(project)


def test_a_pathological_file_inside_the_sdk_is_skipped_alone(project: Path) -> None:
    from tensorleap_ls.core.sdk import env

    python, site = _venv(project)
    _sdk_files(site / "code_loader")
    (site / "code_loader" / "generated.py").write_text(DEEPEST)
    (site / "code_loader" / "big.py").write_text("x = 1\n" * 400_000)  # 2.4 MB: over the per-file cap
    sdk = env.environment(str(python)).sdk
    assert sdk is not None and sdk.version == "1.0.214"
    assert "code_loader.leaploader" in sdk.modules
    generated = sdk.modules.get("code_loader.generated")  # its one statement is too large to parse: left out
    assert generated is None or "x" not in generated.names
    assert "code_loader.big" not in sdk.modules
    _check_ok(project)


def test_the_sdk_walk_is_bounded(project: Path) -> None:
    from tensorleap_ls.core.sdk import env

    python, site = _venv(project)
    pkg = site / "code_loader"
    _sdk_files(pkg)
    for i in range(1500):
        (pkg / f"m{i:04d}.py").write_text(f"def f{i}(a):\n    pass\n")
    sdk = env.environment(str(python)).sdk
    assert sdk is not None and "code_loader.leaploader" in sdk.modules
    assert len(sdk.modules) < 1500
    assert len(sdk.modules) <= env._SDK_FILES


def test_pth_folders_are_bounded_and_cached_by_the_files_stamps(project: Path, tmp_path: Path) -> None:
    from tensorleap_ls.core.sdk import env

    python, site = _venv(project)
    libs = tmp_path / "libs"
    for i in range(2000):
        (libs / f"d{i}").mkdir(parents=True)
    for k in range(20):  # 2,000 existing folders named by 20 .pth files
        (site / f"gen{k:02d}.pth").write_text("".join(f"{libs}/d{i}\n" for i in range(k * 100, k * 100 + 100)))
    sites = env.environment(str(python)).sites
    assert len(sites) < 2000, len(sites)
    assert len(sites) <= 1 + env._PTH_ENTRIES
    # a .pth edited in place (the folder's mtime does not change): its new folder is seen
    mine = tmp_path / "mylib"
    mine.mkdir()
    site_mtime = site.stat().st_mtime_ns
    first = site / "gen00.pth"
    first.write_text(f"{mine}\n" + first.read_text())
    os.utime(site, ns=(site_mtime, site_mtime))
    assert str(mine) in env.environment(str(python)).sites


# --- 4: the legacy model lookup and the files beside the entry ---------------------------------------
LEGACY = HERE.parents[0] / "fixtures" / "model" / "legacy"  # its local test: leap_custom_test.py


def test_legacy_model_lookup_reads_only_the_local_test(tmp_path: Path, monkeypatch) -> None:
    from tensorleap_ls.core.checks import model_file
    from tensorleap_ls.core.engine.analysis import Analyzer
    from tensorleap_ls.core.source import files

    root = tmp_path / "legacy"
    shutil.copytree(LEGACY, root, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "model").mkdir(exist_ok=True)
    (root / "model" / "mnist_classifier.onnx").write_bytes(b"onnx")
    # beside the entry, imported by nobody: a generated table, and an oversized "test" that imports the entry
    (root / "weights_table.py").write_text("from leap_binder import *\n" + "W = [" + "1.0, " * 60_000 + "]\n")
    (root / "leap_big_test.py").write_text("from leap_binder import *\n" + "x = 1\n" * 60_000)
    read: list[str] = []
    real = files.read_bytes

    def spy(path, *a, **k):
        read.append(os.path.basename(path))
        return real(path, *a, **k)

    monkeypatch.setattr(files, "read_bytes", spy)
    (pa,) = Analyzer().analyze_path(str(root))
    found = model_file.model_path(pa.bindings, pa.modules, pa.project.root)
    assert found is not None and found[0].endswith("mnist_classifier.onnx") \
        and found[1].path.endswith("leap_custom_test.py"), found
    assert "weights_table.py" not in read, read  # not named like a test: never read
    kept = {os.path.basename(p) for p in model_file._SCRIPTS}
    assert kept <= {"leap_custom_test.py"}, kept  # the oversized one is refused, nothing else is kept


# --- 1 and 2: the model reader of a trusted project ---------------------------------------------------
def _pth_venv(root: Path, log: Path) -> None:
    """A real venv in the project whose .pth file records the limits it runs under and starts a
    double-forked daemon in a session of its own (its pid in ``log/pids``)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / ".venv")], check=True, timeout=120)
    (site,) = (root / ".venv" / "lib").glob("python3*/site-packages")
    log.mkdir()
    (site / "zz_hostile.pth").write_text(
        "import os, resource, subprocess; "
        f"open({str(log / 'limits')!r}, 'a').write('%d\\n' % resource.getrlimit(resource.RLIMIT_AS)[0]); "
        f"subprocess.Popen(['sh', '-c', 'setsid sleep 300 </dev/null >/dev/null 2>&1 & echo $! >> {log / 'pids'}'])\n")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_trusted_project_s_model_reader_runs_limited_and_leaves_nothing(project: Path, tmp_path: Path) -> None:
    log = tmp_path / "log"
    _pth_venv(project, log)
    (project / "model.onnx").write_bytes(b"not really a model")  # what load_model loads
    c = start_server(str(project), init_options={"trusted": True, "memoryMb": 2048})
    pids: list[int] = []
    try:
        uri = (project / "leap_integration.py").resolve().as_uri()
        mark = c.mark()
        c.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                           "text": (project / "leap_integration.py").read_text()}})
        # the model reader ran (in the venv, which has no onnx): TL600 names why the model is not read
        c.wait_for(lambda m: is_diag(uri)(m) and any(d["code"] == "TL600" for d in m["params"]["diagnostics"]),
                   mark, timeout=120)
        pids = [int(x) for x in (log / "pids").read_text().split()]
        limits = (log / "limits").read_text().split()
        assert limits and all(int(x) == 2048 << 20 for x in limits), limits  # the runs' memory limit
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert pids and not [p for p in pids if _alive(p)], "what the venv's .pth started outlived the model read"
    finally:
        c.close()
        for p in pids:  # never leave them running, whatever the outcome
            try:
                os.kill(p, 9)
            except OSError:
                pass


def test_a_model_over_the_size_cap_is_not_read(project: Path, tmp_path: Path) -> None:
    marker = tmp_path / "reader-ran"
    python = tmp_path / "python"
    python.write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    with open(project / "model.onnx", "wb") as f:  # sparse: 3 GB long, a few KB on disk
        f.truncate(3 * 1024 ** 3)
    r = cli("check", "--format", "json", "--python", str(python), str(project))
    assert r.returncode in (0, 1) and "Traceback" not in r.stderr, r.stderr[-2000:]
    diags = json.loads(r.stdout)["projects"][0]["diagnostics"]
    unread = [d for d in diags if d["code"] == "TL600"]
    assert unread and "over the 2 GB" in unread[0]["message"], diags
    assert not marker.exists(), "the reader was started on a 3 GB model file"


# --- 6: New Project writes only regular paths inside the chosen folder ---------------------------------
def test_new_project_writes_nothing_through_symlinks_and_says_so(tmp_path: Path) -> None:
    folder, outside = tmp_path / "cloned", tmp_path / "outside"
    (outside / "modeldir").mkdir(parents=True)
    folder.mkdir()
    (folder / "model").symlink_to(outside / "modeldir", target_is_directory=True)
    (folder / "requirements.txt").symlink_to(tmp_path / "nowhere" / "requirements.txt")  # dangling
    # trusted, with an interpreter that has onnx: the server builds a model for model/model.onnx
    c = start_server(str(folder), init_options={"trusted": True, "interpreter": sys.executable})
    try:
        _, resp = c.request("workspace/executeCommand", {"command": "tensorleap.newProjectFiles",
                                                         "arguments": [{"folder": folder.as_uri()}]}, timeout=180)
    finally:
        c.close()
    res = resp["result"]
    assert res["ok"], res
    assert "model/model.onnx" not in res["binary"] and res["model"] is False, sorted(res["binary"])
    assert "requirements.txt" not in res["files"] and "leap_integration.py" in res["files"], sorted(res["files"])
    assert "TODO" in res["files"]["leap_integration.py"]  # the load_model stub: no model file to load
    skipped = res["skipped"]
    assert "symlink" in skipped["model/model.onnx"] and "symlink" in skipped["requirements.txt"], skipped
    assert not any((outside / "modeldir").iterdir())


# --- 7: the extension's "is this interpreter inside the workspace" test ----------------------------------
EXTENSION = HERE.parents[1] / "vscode-extension"


def test_the_extension_tells_a_workspace_interpreter_however_its_path_is_spelled() -> None:
    """The check lives in the extension (vscode-extension/src/interpreter.ts ``inside``): its mocha case
    (``//``, ``x/..``, macOS case, symlinks both ways), compiled and run here."""
    if not (EXTENSION / "node_modules" / ".bin" / "mocha").exists():  # scripts/editor_tests.sh installs them too
        subprocess.run(["npm", "ci", "--no-fund", "--no-audit", "-s"], cwd=EXTENSION, check=True, timeout=900)
    subprocess.run(["npx", "tsc", "-p", "tsconfig.test.json"], cwd=EXTENSION, check=True, timeout=300)
    r = subprocess.run(["npx", "mocha", "out/test/interpreter.test.js", "-g", "however its path is spelled"],
                       cwd=EXTENSION, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "1 passing" in r.stdout, r.stdout + r.stderr


def test_a_large_sdk_file_is_parsed_in_pieces_with_the_same_api() -> None:
    """One ast.parse of a large file holds the GIL (and the server's event loop) for its whole length:
    code-loader's 221 KB decorators module is parsed a statement group at a time, to the same API."""
    import ast
    import glob

    from tensorleap_ls.core.sdk import env

    pkg = next(p for p in env.site_packages(sys.executable) if os.path.isdir(os.path.join(p, "code_loader")))
    big = [p for p in glob.glob(os.path.join(pkg, "code_loader", "**", "*.py"), recursive=True)
           if os.path.getsize(p) > env._PIECE_BYTES]
    assert big, "code-loader has no file over the piece size: the test shows nothing"
    for path in big:
        text = Path(path).read_text(encoding="utf-8")
        whole, pieces = env._module_api(ast.parse(text), path), env._module_api(env.parse_in_pieces(text), path)
        assert (whole.names, whole.funcs, whole.methods, whole.enums) == \
            (pieces.names, pieces.funcs, pieces.methods, pieces.enums), path


def test_an_installed_package_linked_out_of_site_packages_is_not_read(project: Path, tmp_path: Path) -> None:
    from tensorleap_ls.core.project.external import ExternalIndex

    _python, site = _venv(project)
    outside = tmp_path / "usr" / "lib"
    outside.mkdir(parents=True)
    (outside / "__init__.py").write_text("def encoder(idx, preprocess):\n    return 1\n")
    (site / "extlib").symlink_to(outside, target_is_directory=True)
    (site / "mylib").mkdir()
    (site / "mylib" / "__init__.py").write_text("def encoder(idx, preprocess):\n    return 1\n")
    index = ExternalIndex([str(site)])
    assert index.module_file("mylib") is not None  # control: a package of the environment is read
    assert index.module_file("extlib") is None and index.find_def("extlib", "encoder") is None
