"""The server's state is declared in one place and feature modules are typed against ``lsp/session.py``:
no lsp module but the entry points imports ``lsp.server``, each lsp module imports alone, feature
modules add no attribute to the server, and the server has everything ``Session`` promises."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tensorleap_ls.lsp import session

LSP = Path(__file__).resolve().parents[2] / "server" / "tensorleap_ls" / "lsp"
MODULES = sorted(p.stem for p in LSP.glob("*.py") if p.stem not in ("__init__", "__main__"))
ENTRY_POINTS = {"server", "__main__"}  # they start the server: they import it


def _tree(name: str) -> ast.Module:
    return ast.parse((LSP / f"{name}.py").read_text(encoding="utf-8"))


def _imported(tree: ast.Module) -> set[str]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return out


def test_no_feature_module_imports_the_server():
    assert {"dynamic", "model", "navigation", "documents", "actions", "assist", "session"} <= set(MODULES)
    wrong = [m for m in MODULES if m not in ENTRY_POINTS and "tensorleap_ls.lsp.server" in _imported(_tree(m))]
    assert not wrong, f"these lsp modules import lsp.server (type them against lsp.session.Session): {wrong}"


@pytest.mark.parametrize("name", MODULES)
def test_each_lsp_module_imports_alone(name: str):
    out = subprocess.run([sys.executable, "-c", f"import tensorleap_ls.lsp.{name}"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]


def _session_names() -> set[str]:
    """Everything Session declares: its state and its methods."""
    return set(session.Session.__annotations__) | {n for n, v in vars(session.Session).items()
                                                   if not n.startswith("_") and (callable(v) or isinstance(v, property))}


def test_feature_modules_set_only_declared_session_state():
    """``ls.x = ...`` in a feature module only for state the session declares; no ``setattr``/``getattr``
    on the server (state added on the fly is what this design ends)."""
    declared = set(session.Session.__annotations__)
    wrong = []
    for name in MODULES:
        if name in ENTRY_POINTS:
            continue
        for node in ast.walk(_tree(name)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] \
                if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else []
            for t in targets:
                if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id in ("ls", "server") \
                        and t.attr not in declared:
                    wrong.append(f"{name}.py:{t.lineno} sets {t.value.id}.{t.attr}")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "setattr") \
                    and node.args and isinstance(node.args[0], ast.Name) and node.args[0].id in ("ls", "server"):
                wrong.append(f"{name}.py:{node.lineno} {node.func.id}({node.args[0].id}, ...)")
    assert not wrong, "\n".join(wrong)


def test_the_server_is_a_session():
    from tensorleap_ls.lsp.server import build

    server = build()
    # on the class or the instance (pygls's `workspace` property raises before initialize)
    missing = [n for n in _session_names() if not hasattr(type(server), n) and n not in vars(server)]
    assert not missing, f"TensorleapServer lacks what Session promises: {missing}"
    state = set(session.Session.__annotations__) - {"workspace", "protocol", "client_capabilities", "work_done_progress"}
    assert state <= set(vars(server)), "the session's state is declared in TensorleapServer.__init__"


def test_blocking_work_leaves_the_loop_through_one_helper():
    """Handlers hand blocking work to ``session.off_loop`` (visible, greppable); no lsp module starts a
    process itself (the runtime's door does, through the trust gate). protocol.py's stdin reader is the
    transport, not a handler."""
    wrong = []
    for name in MODULES:
        for node in ast.walk(_tree(name)):
            if isinstance(node, ast.Attribute) and node.attr == "run_in_executor" and name not in ("session", "protocol"):
                wrong.append(f"{name}.py:{node.lineno} calls run_in_executor (use session.off_loop)")
        if "subprocess" in {m.split(".")[0] for m in _imported(_tree(name))}:
            wrong.append(f"{name}.py imports subprocess (start processes through runtime/api.py)")
    assert not wrong, "\n".join(wrong)
    uses = [name for name in MODULES if "tensorleap_ls.lsp.session.off_loop" in _imported(_tree(name))]
    assert {"server", "dynamic", "navigation"} <= set(uses), uses
