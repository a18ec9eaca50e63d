"""One runtime door: ``lsp/`` and ``cli.py`` reach the runtime only through ``runtime/api.py``
(imports read from the source, TYPE_CHECKING blocks and function bodies included)."""

from __future__ import annotations

import ast
from pathlib import Path

SERVER = Path(__file__).resolve().parents[2] / "server" / "tensorleap_ls"
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
