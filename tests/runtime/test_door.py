"""One runtime door: ``lsp/`` and ``cli.py`` reach the runtime only through ``runtime/api.py``
(imports read from the source, TYPE_CHECKING blocks and function bodies included)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

SERVER = Path(__file__).resolve().parents[2] / "server" / "tensorleap_ls"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DOOR = "tensorleap_ls.runtime.api"


def imports_of(path: Path) -> list[tuple[int, str]]:
    return runtime_imports(path.read_text(encoding="utf-8"), "tensorleap_ls." + ".".join(path.relative_to(SERVER).parent.parts))


def runtime_imports(source: str, package: str) -> list[tuple[int, str]]:
    """(line, module) of every runtime module ``source`` (a module of ``package``) imports, however it is spelt."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against the file's package
                parts = package.rstrip(".").split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            # `from tensorleap_ls.runtime import api` imports the module tensorleap_ls.runtime.api
            out += [(node.lineno, f"{base}.{a.name}" if base == "tensorleap_ls.runtime" else base) for a in node.names]
    return [(line, m) for line, m in out if m == "tensorleap_ls.runtime" or m.startswith("tensorleap_ls.runtime.")]


def test_lsp_and_cli_reach_the_runtime_only_through_its_api():
    files = sorted((SERVER / "lsp").glob("*.py")) + [SERVER / "cli.py"]
    wrong = [f"{p.relative_to(SERVER)}:{line} imports {m}" for p in files for line, m in imports_of(p) if m != DOOR]
    assert not wrong, "lsp/ and cli.py import the runtime only through runtime/api.py:\n" + "\n".join(wrong)
    # the door is used: the scan reads the imports it is meant to read
    assert any(m == DOOR for _, m in imports_of(SERVER / "lsp" / "dynamic.py"))
    assert any(m == DOOR for _, m in imports_of(SERVER / "cli.py"))


def test_the_scan_sees_every_spelling():
    source = ("from tensorleap_ls.runtime import interpreter, api\n"
              "import tensorleap_ls.runtime.runner\n"
              "if True:\n    from ..runtime.model_info import read\n"
              "def f():\n    from tensorleap_ls.runtime.api import Runner\n")
    found = [m for _, m in runtime_imports(source, "tensorleap_ls.lsp")]
    assert found == ["tensorleap_ls.runtime.interpreter", DOOR, "tensorleap_ls.runtime.runner",
                     "tensorleap_ls.runtime.model_info", DOOR]


def test_a_static_check_imports_no_runtime_machinery_and_no_lsp_stack(tmp_path):
    """``tensorleap-ls check`` (no --dynamic, no model file to read) starts fast: of the runtime it imports the
    door and what the door's static helpers need (choosing the project's interpreter, the model-file reader,
    which imports the runner only when it reads a file); no runner, child protocol, debug, scan or render, and
    nothing of the server (pygls, lsprotocol, lsp/). Cold (no persistent cache) and warm."""
    code = ("import json, sys\nfrom tensorleap_ls.cli import main\n"
            "code = main(['check', '--format', 'json', sys.argv[1]])\n"
            "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path), "TL_DISABLE_ANALYTICS": "1"}
    for _ in ("cold", "warm"):
        r = subprocess.run([sys.executable, "-c", code, str(EXAMPLES / "legacy_mnist")], capture_output=True,
                           text=True, env=env, timeout=120)
        assert json.loads(r.stdout)["projects"][0]["bindings"], r.stderr  # it did check the project
        modules = json.loads(r.stderr.strip().splitlines()[-1])
        runtime = {m for m in modules if m.startswith("tensorleap_ls.runtime.")}
        assert DOOR in runtime
        assert runtime <= {DOOR, "tensorleap_ls.runtime.interpreter", "tensorleap_ls.runtime.model_info"}, runtime
        server = [m for m in modules if m.split(".")[0] in ("pygls", "lsprotocol") or m.startswith("tensorleap_ls.lsp")]
        assert not server, server
