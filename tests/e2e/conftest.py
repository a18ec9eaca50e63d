"""The real server over stdio, driven by pytest-lsp."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

import tensorleap_ls

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """A fresh copy of the decorator example (several modules, config YAML, leap.yaml)."""
    dst = tmp_path / "decorator_mnist"
    shutil.copytree(EXAMPLES / "decorator_mnist", dst, ignore=shutil.ignore_patterns("__pycache__"))
    return dst


@pytest_lsp.fixture(config=ClientServerConfig(
    # the launcher, as editors start it (tensorleap_ls/_boot/serve.py): nothing of the cwd is importable
    server_command=[sys.executable, str(Path(tensorleap_ls.__file__).parent / "_boot" / "serve.py")],
    server_env={**os.environ, "TL_DISABLE_ANALYTICS": "1"},  # server_env replaces the environment
))
async def client(lsp_client: LanguageClient):
    @lsp_client.feature(lsp.CLIENT_REGISTER_CAPABILITY)
    def register_capability(params: lsp.RegistrationParams) -> None:
        lsp_client.registrations = getattr(lsp_client, "registrations", []) + list(params.registrations)

    # Record every publish (uri, version, codes) on top of pytest-lsp's own bookkeeping.
    lsp_client.published = []
    features = lsp_client.protocol.fm.features
    original = features[lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS]

    def record(params: lsp.PublishDiagnosticsParams):
        lsp_client.published.append((params.uri, params.version, {d.code for d in params.diagnostics}))
        return original(params)

    features[lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = record
    await lsp_client.initialize_session(lsp.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"),
        initialization_options={"debounceMs": 20},
    ))
    yield
    await lsp_client.shutdown_session()
