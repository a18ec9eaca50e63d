"""One settings schema: the VS Code extension's package.json (contributes.configuration) names every
user setting with its type, default and minimum; the server's lsp/settings.py must agree key by key
(settings.ts reads package.json itself and is checked by the extension's mocha tests). And the
settings do what they say: samplesPerSubset 0 checks every sample, logLevel debug logs more."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from tensorleap_ls.lsp.settings import BOUNDS, LOG_LEVELS, WIRE_KEYS, Settings

ROOT = Path(__file__).resolve().parents[2]
PROPS = json.loads((ROOT / "vscode-extension" / "package.json").read_text())["contributes"]["configuration"]["properties"]
SCHEMA = {k.removeprefix("tensorleap."): v for k, v in PROPS.items()}
EXTENSION_ONLY = {"serverInterpreter"}  # chooses the server's own interpreter: the server never sees it
CLIENT_ONLY = {"trusted", "authSecret"}  # sent by the client, not user settings
TYPES = {"integer": int, "number": float, "boolean": bool, "string": str}


def test_every_setting_has_one_spelling_on_both_sides():
    assert set(SCHEMA) - EXTENSION_ONLY == set(WIRE_KEYS) - CLIENT_ONLY


@pytest.mark.parametrize("key", sorted(set(SCHEMA) - EXTENSION_ONLY))
def test_default_type_minimum_and_values_match_the_schema(key):
    spec, attr = SCHEMA[key], WIRE_KEYS[key]
    default = getattr(Settings(), attr)
    assert default == (spec["default"] or None if spec["type"] == "string" and not spec.get("enum") else spec["default"])
    good = spec["default"] if spec["default"] != "" else "/some/python"
    assert Settings().merged({key: good}) == (Settings(**{attr: good}), [])
    wrong = {"integer": "1", "number": "x", "boolean": 1, "string": 3}[spec["type"]]
    assert Settings().merged({key: wrong})[1], f"{key} accepted {wrong!r}"
    if "minimum" in spec:
        lowest = TYPES[spec["type"]](spec["minimum"])
        assert getattr(Settings().merged({key: lowest})[0], attr) == lowest
        below = lowest - (1 if spec["type"] == "integer" else 0.01)
        settings, problems = Settings().merged({key: below})
        assert problems and getattr(settings, attr) == default
    if "maximum" in spec:  # the server's bounds (shared with the CLI) are the schema's
        assert BOUNDS[attr] == (TYPES[spec["type"]](spec["minimum"]), TYPES[spec["type"]](spec["maximum"]))
        above = TYPES[spec["type"]](spec["maximum"]) + 1
        assert Settings().merged({key: above})[1] and getattr(Settings().merged({key: above})[0], attr) == default
    if "enum" in spec:
        assert tuple(spec["enum"]) == LOG_LEVELS
        assert Settings().merged({key: "loud"})[1]


def test_a_rejected_value_is_not_echoed():
    _, problems = Settings().merged({"authSecret": ["s3cr3t-token"], "memoryMb": "lots"})
    assert len(problems) == 2 and not any("s3cr3t" in p or "lots" in p for p in problems)


CONFIG = ClientServerConfig(server_command=[sys.executable, "-m", "tensorleap_ls", "serve"],
                            server_env={**os.environ, "TL_DISABLE_ANALYTICS": "1"})


async def _session(client: LanguageClient, options: dict) -> None:
    client.feature(lsp.CLIENT_REGISTER_CAPABILITY)(lambda params: None)
    await client.initialize_session(lsp.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"), initialization_options={"debounceMs": 0, **options}))


def _example(tmp_path: Path) -> Path:
    dst = tmp_path / "decorator_mnist"
    shutil.copytree(ROOT / "examples" / "decorator_mnist", dst, ignore=shutil.ignore_patterns("__pycache__"))
    return dst


async def _open_and_wait(client: LanguageClient, path: Path) -> None:
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(text_document=lsp.TextDocumentItem(
        uri=path.as_uri(), language_id="python", version=1, text=path.read_text())))
    await client.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)


@pytest_lsp.fixture(config=CONFIG, params=["debug", "info"])
async def client_at_level(lsp_client: LanguageClient, request):
    await _session(lsp_client, {"logLevel": request.param})
    lsp_client.level = request.param
    yield
    await lsp_client.shutdown_session()


async def test_log_level_debug_changes_what_the_server_logs(client_at_level: LanguageClient, tmp_path: Path):
    await _open_and_wait(client_at_level, _example(tmp_path) / "leap_integration.py")
    debug = [m.message for m in client_at_level.log_messages if m.type == lsp.MessageType.Log]
    if client_at_level.level == "debug":
        assert any(m.startswith("analysed ") and " ms" in m for m in debug), debug
        assert any(m.startswith("settings: Settings(") and "log_level='debug'" in m for m in debug), debug
    else:
        assert debug == []
        assert any("ready" in m.message for m in client_at_level.log_messages)


@pytest_lsp.fixture(config=CONFIG)
async def client_error_level(lsp_client: LanguageClient):
    await _session(lsp_client, {"logLevel": "error", "memoryMb": "lots"})
    yield
    await lsp_client.shutdown_session()


async def test_log_level_error_keeps_only_errors(client_error_level: LanguageClient, tmp_path: Path):
    await _open_and_wait(client_error_level, _example(tmp_path) / "leap_integration.py")
    assert [m.type for m in client_error_level.log_messages if m.type != lsp.MessageType.Error] == []


@pytest_lsp.fixture(config=CONFIG, params=[0, 5])
async def client_samples(lsp_client: LanguageClient, request):
    await _session(lsp_client, {"trusted": True, "samplesPerSubset": request.param,
                                "interpreter": str(Path(sys.executable))})
    lsp_client.samples = request.param
    yield
    await lsp_client.shutdown_session()


@pytest.mark.dynamic
async def test_samples_per_subset_zero_checks_every_sample(client_samples: LanguageClient, tmp_path: Path):
    root = _example(tmp_path)
    await _open_and_wait(client_samples, root / "leap_integration.py")
    res = await client_samples.workspace_execute_command_async(lsp.ExecuteCommandParams(
        command="tensorleap.runChecks", arguments=[{"uri": (root / "leap_integration.py").as_uri()}]))
    assert res["ok"], res
    # the example's config.yaml: 60 training + 20 validation samples
    assert res["stats"]["samples"] == (80 if client_samples.samples == 0 else 10), res["stats"]
