"""Long runs the user can see and stop, honest summaries, the user code's output (issue 26, items 1, 4
and 5), over stdio with the real server and the real code-loader:

- a run started with a workDoneToken (as the VS Code extension sends it) reports a cancellable
  progress with a sample counter and the call that runs; window/workDoneProgress/cancel stops it;
- the per-call limit (timeoutSeconds) is the limit the user reads in every message, from the child's
  alarm and from the server's watchdog alike, and a function that exceeded it is not called again;
- a run's summary says how many samples of how many it checked, and checks again the sample a
  preview saw fail (never "no problem found" right after a failure);
- what the user's code prints reaches the client (tensorleap/output) and the preview."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient, client_capabilities

from test_diagnostics import open_doc, wait_diags
from test_dynamic_lsp import CONFIG, copy

pytestmark = [pytest.mark.e2e, pytest.mark.dynamic]

ENCODER = "    return preprocess.data['images'][idx - preprocess.data['offset']].astype(np.float32)\n"


async def _session(client: LanguageClient, **options) -> None:
    client.feature(lsp.CLIENT_REGISTER_CAPABILITY)(lambda params: None)
    client.outputs = []
    client.feature("tensorleap/output")(lambda params: client.outputs.append(params))
    client.panel = []
    client.feature("tensorleap/preview")(lambda params: client.panel.append(params))
    await client.initialize_session(lsp.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"),
        initialization_options={"debounceMs": 0, "trusted": True, **options}))


@pytest_lsp.fixture(config=CONFIG)
async def client(lsp_client: LanguageClient):
    await _session(lsp_client, timeoutSeconds=2.0, samplesPerSubset=3)
    yield
    await lsp_client.shutdown_session()


def plant(root: Path, body: str) -> None:
    """Code before the encoder's return (the decorator example's input encoder)."""
    f = root / "mnist_tl" / "encoders.py"
    text = f.read_text()
    assert ENCODER in text
    f.write_text(text.replace(ENCODER, body + ENCODER, 1))


async def planted(client: LanguageClient, tmp_path: Path, body: str) -> tuple[Path, str]:
    """The decorator example with ``body`` planted in its input encoder, its entry open and analysed."""
    root = copy(tmp_path, "decorator_mnist")
    plant(root, body)
    u = open_doc(client, root / "leap_integration.py")
    await wait_diags(client, u, lambda d: True)
    return root, u


async def command(client: LanguageClient, name: str, args: dict, token: str | None = None):
    if token is not None:
        client.progress_reports.setdefault(token, [])  # the client made it: no create request
    return await client.workspace_execute_command_async(lsp.ExecuteCommandParams(
        command=name, arguments=[args], work_done_token=token))


def text_of(outputs) -> str:
    return "".join(o.text if hasattr(o, "text") else o["text"] for o in outputs)


async def test_checks_report_a_cancellable_progress_with_a_sample_counter(client: LanguageClient, tmp_path: Path):
    root, u = await planted(client, tmp_path, "    import time; time.sleep(0.3)\n")
    res = await command(client, "tensorleap.runChecks", {"uri": u}, token="run-1")
    reports = client.progress_reports["run-1"]
    begin, end = reports[0], reports[-1]
    assert isinstance(begin, lsp.WorkDoneProgressBegin) and begin.cancellable is True
    counted = [r for r in reports if isinstance(r, lsp.WorkDoneProgressReport) and "samples" in (r.message or "")]
    assert counted, reports
    assert any("/6 samples" in r.message for r in counted), [r.message for r in counted]  # 3 per subset, 2 subsets
    assert all(r.percentage is not None and 0 <= r.percentage <= 100 for r in counted)
    assert any("input 'image'" in (r.message or "") for r in counted), [r.message for r in counted]
    assert isinstance(end, lsp.WorkDoneProgressEnd) and end.message == res["summary"]


async def test_cancel_from_the_progress_stops_the_run_and_the_next_one_works(client: LanguageClient, tmp_path: Path):
    root, u = await planted(client, tmp_path, "    import time; time.sleep(1.5)\n")
    client.progress_reports.setdefault("run-2", [])
    task = asyncio.ensure_future(command(client, "tensorleap.runChecks", {"uri": u}, token="run-2"))
    for _ in range(600):  # until the run is inside the user's code
        if any(isinstance(r, lsp.WorkDoneProgressReport) and "input 'image'" in (r.message or "")
               for r in client.progress_reports["run-2"]):
            break
        await asyncio.sleep(0.05)
    client.protocol.notify(lsp.WINDOW_WORK_DONE_PROGRESS_CANCEL, lsp.WorkDoneProgressCancelParams(token="run-2"))
    res = await asyncio.wait_for(task, 30)
    assert res["cancelled"] is True
    assert client.progress_reports["run-2"][-1].message == "cancelled"
    (root / "mnist_tl" / "encoders.py").write_text((root / "mnist_tl" / "encoders.py").read_text()
                                                   .replace("    import time; time.sleep(1.5)\n", ""))
    client.workspace_did_change_watched_files(lsp.DidChangeWatchedFilesParams(changes=[lsp.FileEvent(
        uri=(root / "mnist_tl" / "encoders.py").as_uri(), type=lsp.FileChangeType.Changed)]))
    res = await command(client, "tensorleap.runChecks", {"uri": u})
    assert res["ok"] is True and res["findings"] == 0, res


async def test_a_cancelled_preview_is_not_shown_as_a_failure(client: LanguageClient, tmp_path: Path):
    root, u = await planted(client, tmp_path, "    import time; time.sleep(1.5)\n")
    await command(client, "tensorleap.preview", {"uri": u, "subset": "training", "sampleId": 1})  # warm
    shown = len(client.panel)
    client.progress_reports.setdefault("pv-1", [])
    task = asyncio.ensure_future(command(client, "tensorleap.preview", {"uri": u, "subset": "training", "sampleId": 3},
                                         token="pv-1"))
    for _ in range(600):
        if any(isinstance(r, lsp.WorkDoneProgressReport) and "training sample 3" in (r.message or "")
               for r in client.progress_reports["pv-1"]):
            break
        await asyncio.sleep(0.05)
    client.protocol.notify(lsp.WINDOW_WORK_DONE_PROGRESS_CANCEL, lsp.WorkDoneProgressCancelParams(token="pv-1"))
    res = await asyncio.wait_for(task, 30)
    assert res["cancelled"] is True and client.progress_reports["pv-1"][-1].message == "cancelled"
    assert len(client.panel) == shown  # no "Preview failed: the run was cancelled" for the panel


async def test_a_slow_encoder_is_stopped_at_the_per_call_limit_and_not_waited_for_on_every_sample(client: LanguageClient, tmp_path: Path):
    root, u = await planted(client, tmp_path, "    import time; time.sleep(60)\n")
    res = await command(client, "tensorleap.runChecks", {"uri": u})
    eu = (root / "mnist_tl" / "encoders.py").as_uri()
    diags = await wait_diags(client, eu, lambda d: any(x.code == "TL530" for x in d))
    msg = next(x.message for x in diags if x.code == "TL530")
    assert "exceeded the 2 s time limit of one call (setting tensorleap.timeoutSeconds)" in msg, msg
    assert "CallTimeout" not in msg and "training sample 0" in msg, msg
    # it exceeded the limit on samples 0 and 30: not called again on the 4 other samples of the run
    assert res["stats"]["not_called"] == 4, res["stats"]
    assert "call(s) skipped" in res["summary"], res["summary"]
    # the preview says the same, in words (not the class of our alarm), and names what it did not run
    pv = await command(client, "tensorleap.preview", {"uri": u, "subset": "training", "sampleId": 1})
    problem = next(p for p in pv["problems"] if p.get("code") == "TL530")
    assert problem["message"].startswith("exceeded the 2 s time limit of one call"), problem
    assert "tensorleap_ls_child" not in str(pv["problems"])
    whys = {s["name"]: s["why"] for s in pv.get("skipped") or []}
    assert "exceeded its time limit" in " ".join(whys.values()), whys


async def test_a_hang_the_alarm_cannot_interrupt_names_the_same_limit(client: LanguageClient, tmp_path: Path):
    root, u = await planted(client, tmp_path, "    if idx == 59:\n        import signal, time\n        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])\n"
                "        time.sleep(60)\n")
    await command(client, "tensorleap.runChecks", {"uri": u})
    eu = (root / "mnist_tl" / "encoders.py").as_uri()
    diags = await wait_diags(client, eu, lambda d: any(x.code == "TL530" for x in d))
    msg = next(x.message for x in diags if x.code == "TL530")
    assert "2 s time limit (setting tensorleap.timeoutSeconds)" in msg, msg
    assert "input_encoder()" in msg and "training sample 59" in msg, msg


async def test_the_summary_counts_samples_and_rechecks_what_a_preview_saw_fail(client: LanguageClient, tmp_path: Path):
    root, u = await planted(client, tmp_path, "    if idx == 2:\n        raise KeyError('missing label file')\n")
    pv = await command(client, "tensorleap.preview", {"uri": u, "subset": "training", "sampleId": 2})
    assert any(p.get("code") == "TL501" for p in pv["problems"]), pv["problems"]
    # 3 samples per subset are 0, 30 and 59: sample 2 is not among them, it is checked because it failed
    res = await command(client, "tensorleap.runChecks", {"uri": u})
    assert res["findings"] >= 1 and "TL501" in res["codes"], res
    assert res["summary"].startswith("1 problem found on 7 of 80 samples (training 4 of 60, validation 3 of 20)"), res["summary"]
    assert "training sample 2 still fails" in res["summary"], res["summary"]
    # fixed: the next run says it passes now, and still how much it looked at
    f = root / "mnist_tl" / "encoders.py"
    f.write_text(f.read_text().replace("    if idx == 2:\n        raise KeyError('missing label file')\n", ""))
    client.workspace_did_change_watched_files(lsp.DidChangeWatchedFilesParams(changes=[lsp.FileEvent(
        uri=f.as_uri(), type=lsp.FileChangeType.Changed)]))
    res = await command(client, "tensorleap.runChecks", {"uri": u})
    assert res["findings"] == 0, res
    assert res["summary"].startswith("no problem found on 7 of 80 samples"), res["summary"]
    assert "3 per subset (setting tensorleap.samplesPerSubset, 0 = all)" in res["summary"]
    assert "training sample 2, which failed earlier (TL501" in res["summary"] and "passes now" in res["summary"]
    # and then it is forgotten: the next summary is about the picked samples only
    res = await command(client, "tensorleap.runChecks", {"uri": u})
    assert res["summary"].startswith("no problem found on 6 of 80 samples"), res["summary"]
    assert "sample 2" not in res["summary"]


async def test_what_the_user_code_prints_reaches_the_client_and_the_preview(client: LanguageClient, tmp_path: Path):
    root, u = await planted(client, tmp_path, "    print(f'encoding sample {idx}')\n    import sys; print('a warning on stderr', file=sys.stderr)\n")
    pv = await command(client, "tensorleap.preview", {"uri": u, "subset": "training", "sampleId": 5})
    assert "encoding sample 5" in pv["output"] and "a warning on stderr" in pv["output"], pv.get("output")
    shown = client.panel[-1]  # what the panel gets (the notification), not only the command's answer
    assert "encoding sample 5" in (shown.output if hasattr(shown, "output") else shown["output"])
    for _ in range(100):
        if "encoding sample 5" in text_of(client.outputs):
            break
        await asyncio.sleep(0.05)
    assert "encoding sample 5" in text_of(client.outputs)
    first = client.outputs[0]
    assert (first.uri if hasattr(first, "uri") else first["uri"]) == u
    client.outputs.clear()
    res = await command(client, "tensorleap.runChecks", {"uri": u})
    assert res["output"] is True
    t0 = time.monotonic()
    while "encoding sample 59" not in text_of(client.outputs) and time.monotonic() - t0 < 5:
        await asyncio.sleep(0.05)
    assert "encoding sample 59" in text_of(client.outputs)  # the last training sample of the run


async def test_a_request_that_comes_during_a_preview_leaves_it_its_progress_and_output(client: LanguageClient, tmp_path: Path):
    # the editor asks for the Test Explorer's items (the project's subsets: the same child) while a preview runs:
    # what the preview's code prints and the calls it starts afterwards are still the preview's
    root, u = await planted(client, tmp_path, "    import time; time.sleep(1.5)\n    print(f'encoded sample {idx}')\n")
    client.progress_reports.setdefault("pv-2", [])
    task = asyncio.ensure_future(command(client, "tensorleap.preview", {"uri": u, "subset": "training", "sampleId": 3},
                                         token="pv-2"))
    for _ in range(600):
        if any("input 'image' on training sample 3" in (getattr(r, "message", None) or "") for r in client.progress_reports["pv-2"]):
            break
        await asyncio.sleep(0.05)
    items = await command(client, "tensorleap.testItems", {"uri": u})
    pv = await asyncio.wait_for(task, 60)
    assert items["subsets"] == ["training", "validation"], items
    reports = [getattr(r, "message", None) or "" for r in client.progress_reports["pv-2"]]
    assert any("ground truth 'classes' on training sample 3" in m for m in reports), reports
    assert "encoded sample 3" in (pv.get("output") or ""), pv.get("output")
    shown = client.panel[-1]
    assert "encoded sample 3" in ((shown.output if hasattr(shown, "output") else shown.get("output")) or "")
