"""Debugging a sample and the Test Explorer's runs over LSP (the real server, child, code-loader and
debugpy): the "Debug sample" lens, "Debug this sample" on a run-time finding, ``tensorleap.debugSample``
attached to by a DAP client, ``tensorleap.testItems`` and ``tensorleap.runTests`` for part of the project."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient

from dap import DapClient
from test_diagnostics import open_doc, wait_diags
from test_dynamic_lsp import copy, execute, trusted, untrusted  # noqa: F401 - fixtures

pytestmark = [pytest.mark.e2e, pytest.mark.dynamic]


def float64_encoder(root: Path) -> Path:
    """The input encoder returns float64 on every sample (TL504, the run's finding names the sample)."""
    enc = root / "mnist_tl" / "encoders.py"
    enc.write_text(enc.read_text().replace(".astype(np.float32)", ".astype(np.float64)"))
    return enc


def command_of(action) -> dict | None:
    """The command of a code action as sent. lsprotocol 2025.0.0's client-side hook parses any code action
    holding a ``command`` as a ``Command`` (whose ``command`` becomes the text of the object): undone here."""
    if isinstance(action, lsp.Command):
        return ast.literal_eval(action.command) if action.command.startswith("{") else \
            {"command": action.command, "arguments": action.arguments}
    c = action.command
    return None if c is None else {"command": c.command, "arguments": c.arguments}


async def lenses(client: LanguageClient, u: str) -> list[lsp.CodeLens]:
    return await client.text_document_code_lens_async(lsp.CodeLensParams(text_document=lsp.TextDocumentIdentifier(u)))


async def test_debug_lens_beside_preview_and_only_when_trusted(trusted: LanguageClient, untrusted: LanguageClient, tmp_path: Path):
    root = copy(tmp_path, "decorator_mnist")
    enc = root / "mnist_tl" / "encoders.py"
    u = open_doc(trusted, enc)
    got = await lenses(trusted, u)
    debug = [lens for lens in got if lens.command.command == "tensorleap.debugSample"]
    preview = [lens for lens in got if lens.command.command == "tensorleap.preview"]
    assert len(debug) == len(preview) == 4
    assert {lens.range.start.line for lens in debug} == {lens.range.start.line for lens in preview}
    first = min(debug, key=lambda lens: lens.range.start.line)
    assert first.command.title.endswith("Debug sample")
    assert first.command.arguments[0]["functions"] == ["input_encoder"]
    u2 = open_doc(untrusted, enc)
    assert not [lens for lens in await lenses(untrusted, u2) if lens.command.command == "tensorleap.debugSample"]
    refused = await execute(untrusted, "tensorleap.debugSample", {"uri": u2, "subset": "training", "sampleId": 0})
    assert not refused["ok"] and refused["reason"] == {"kind": "untrusted"}


async def test_debug_this_sample_on_a_finding_then_a_dap_client_stops_in_the_encoder(trusted: LanguageClient, tmp_path: Path):
    root = copy(tmp_path, "decorator_mnist")
    enc = float64_encoder(root)
    u = open_doc(trusted, enc)
    await execute(trusted, "tensorleap.runChecks", {"uri": u})
    diags = await wait_diags(trusted, u, lambda ds: any(d.code == "TL504" for d in ds), timeout=60)
    d = next(d for d in diags if d.code == "TL504")
    actions = await trusted.text_document_code_action_async(lsp.CodeActionParams(
        text_document=lsp.TextDocumentIdentifier(u), range=d.range, context=lsp.CodeActionContext(diagnostics=[d])))
    debug = [(a.title, command_of(a)) for a in actions]
    debug = [(title, c) for title, c in debug if c and c["command"] == "tensorleap.debugSample"]
    assert len(debug) == 1 and debug[0][0] == "Debug this sample (training sample 0)", [a.title for a in actions]
    args = debug[0][1]["arguments"][0]
    assert (args["subset"], args["sampleId"]) == ("training", 0)
    # the command starts the harness; a DAP client attaches where it listens and stops in the encoder
    started = await execute(trusted, "tensorleap.debugSample", {**args, "integrationTest": False})
    assert started["ok"], started
    client = DapClient(started["host"], started["port"])
    try:
        line = next(i for i, t in enumerate(enc.read_text().split("\n"), 1) if "astype(np.float64)" in t)
        client.attach({str(enc): [line]})
        thread, frame, values = client.stopped_frame()
        assert (frame["name"], frame["line"]) == ("input_encoder", line)
        assert values["idx"] == "0"
        client.request("continue", threadId=thread)
        client.event("terminated")
    finally:
        client.close()


async def test_the_test_explorer_runs_one_function_on_one_subset(trusted: LanguageClient, tmp_path: Path):
    root = copy(tmp_path, "decorator_mnist")
    enc = float64_encoder(root)
    u = open_doc(trusted, enc)
    listed = await execute(trusted, "tensorleap.testItems", {"uri": u})
    assert listed["ok"] and listed["subsets"] == ["training", "validation"]
    kinds = {i["function"]: i["kind"] for i in listed["items"]}
    assert kinds == {"input_encoder": "input", "gt_encoder": "ground_truth", "metadata_label": "metadata",
                     "metadata_stats": "metadata", "image_visualizer": "visualizer", "prediction_bar": "visualizer",
                     "integration_test": "integration_test"}
    # the whole run: TL504 on the encoder
    await execute(trusted, "tensorleap.runChecks", {"uri": u})
    await wait_diags(trusted, u, lambda ds: any(d.code == "TL504" for d in ds), timeout=60)
    # one metadata function on the validation subset: it passes, the encoder's finding stays published
    res = await execute(trusted, "tensorleap.runTests", {"uri": u, "functions": ["metadata_label"], "subsets": ["validation"]})
    assert res["ok"] and [(i["function"], i["subset"], i["ok"]) for i in res["items"]] == [("metadata_label", "validation", True)]
    assert res["stats"]["samples"] == 5  # the validation subset only
    await wait_diags(trusted, u, lambda ds: any(d.code == "TL504" for d in ds), timeout=10)
    # the encoder on both subsets: fails on each, with the finding at the encoder's line
    res = await execute(trusted, "tensorleap.runTests", {"uri": u, "functions": ["input_encoder"]})
    items = {(i["function"], i["subset"]): i for i in res["items"]}
    assert set(items) == {("input_encoder", "training"), ("input_encoder", "validation")}
    bad = items[("input_encoder", "training")]
    assert not bad["ok"] and bad["problems"][0]["code"] == "TL504" and "float64" in bad["problems"][0]["message"]
    line = next(i for i, t in enumerate(enc.read_text().split("\n")) if "def input_encoder" in t)
    assert bad["problems"][0]["range"]["start"]["line"] == line
    # fixed on disk and saved: the same item passes
    enc.write_text(enc.read_text().replace(".astype(np.float64)", ".astype(np.float32)"))
    trusted.text_document_did_save(lsp.DidSaveTextDocumentParams(text_document=lsp.TextDocumentIdentifier(u)))
    res = await execute(trusted, "tensorleap.runTests", {"uri": u, "functions": ["input_encoder"], "subsets": ["training"]})
    assert [(i["function"], i["ok"]) for i in res["items"]] == [("input_encoder", True)], res
