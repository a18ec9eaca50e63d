"""The installed code-loader through the real server: the project interpreter's release in a trusted
workspace, only the server's own environment in an untrusted one (its settings are not trusted)."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient

from test_diagnostics import open_doc, wait_diags
from test_dynamic_lsp import copy, trusted, untrusted  # noqa: F401 - fixtures
from sdk_versions import OLD, sdk_venv

pytestmark = pytest.mark.e2e


async def hover_on(client: LanguageClient, path: Path, prefix: str) -> str:
    lines = path.read_text().split("\n")
    line = next(i for i, ln in enumerate(lines) if ln.startswith(prefix))
    hover = await client.text_document_hover_async(lsp.HoverParams(
        text_document=lsp.TextDocumentIdentifier(uri=path.as_uri()), position=lsp.Position(line, 5)))
    return hover.contents.value


async def open_with_interpreter(client: LanguageClient, tmp_path: Path) -> tuple[Path, list]:
    client.workspace_did_change_configuration(lsp.DidChangeConfigurationParams(
        settings={"tensorleap": {"interpreter": str(sdk_venv(OLD))}}))
    root = copy(tmp_path, "decorator_mnist")
    entry = root / "leap_integration.py"
    diags = await wait_diags(client, open_doc(client, entry), lambda d: True)
    return entry, diags


async def test_trusted_workspace_reads_the_project_interpreters_release(trusted: LanguageClient, tmp_path: Path):
    entry, diags = await open_with_interpreter(trusted, tmp_path)
    assert any(d.code == "TL420" and "tensorleap_integration_test" in d.message for d in diags)
    text = await hover_on(trusted, entry, "@tensorleap_integration_test")
    assert f"Not in code-loader {OLD}" in text and "1.0.137" in text


async def test_untrusted_workspace_reads_only_the_servers_environment(untrusted: LanguageClient, tmp_path: Path):
    entry, diags = await open_with_interpreter(untrusted, tmp_path)
    assert not [d for d in diags if d.code == "TL420"]
    text = await hover_on(untrusted, entry, "@tensorleap_integration_test")
    assert "code-loader 1.0.214, installed" in text, text


async def test_definition_lands_in_the_installed_sdk(trusted: LanguageClient, tmp_path: Path):
    entry, _ = await open_with_interpreter(trusted, tmp_path)
    lines = entry.read_text().split("\n")
    line = next(i for i, ln in enumerate(lines) if ln.startswith("@tensorleap_preprocess"))
    locations = await trusted.text_document_definition_async(lsp.DefinitionParams(
        text_document=lsp.TextDocumentIdentifier(uri=entry.as_uri()), position=lsp.Position(line, 5)))
    assert len(locations) == 1
    target = Path(locations[0].uri.removeprefix("file://"))
    assert target.name == "leapbinder_decorators.py" and f"sdk-{OLD}" in str(target)
    assert target.read_text().split("\n")[locations[0].range.start.line].startswith("def tensorleap_preprocess(")
