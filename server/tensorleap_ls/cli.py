"""Command line: ``tensorleap-ls check | preview | debug-sample | scan | serve``.

``check`` imports only the analysis core (no pygls, no lsprotocol) so it starts fast in CI.
Exit codes: 0 no errors, 1 errors found, 2 usage or internal failure (a clear message, never
a traceback: arguments are validated at the edge, and an internal error is reported in one line;
``TL_DEBUG=1`` adds its traceback).

Editors start the server through ``tensorleap_ls/_boot/serve.py`` (see there), not ``-m``.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys

from tensorleap_ls import __version__


def _bounded(attr: str, kind: type):
    """argparse type: a number inside the bounds the server's settings use too."""
    def parse(text: str):
        from tensorleap_ls.lsp.settings import out_of_bounds

        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        why = out_of_bounds(attr, value)
        if why:
            raise argparse.ArgumentTypeError(f"{text} {why.replace('must', 'is not valid: it must', 1)}")
        return value

    parse.__name__ = kind.__name__
    return parse


def _whole(low: int, high: int, allowed: str):
    """argparse type: a whole number in [low, high] (``allowed`` says which in the message)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is not valid: it must be {allowed}")
        return value

    parse.__name__ = "int"
    return parse


_samples = _whole(0, 1_000_000, "0 (all samples) or between 1 and 1000000")


def _host_port(text: str) -> str:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT with a port between 1 and 65535, got {text!r}")
    return text


def _columns() -> int:
    """``shutil.get_terminal_size().columns`` (what argparse wraps its help to), without importing shutil and its
    archive modules on every start: argparse builds a formatter for each argument it is given."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class _Formatter(argparse.HelpFormatter):
    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None):
        super().__init__(prog, indent_increment, max_help_position, _columns() - 2 if width is None else width)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    partial = False  # built with one command's parser only (``_parser(only)``): the usage names them all

    def error(self, message: str) -> None:  # argparse exits 2 too; keep its message short
        (_parser() if self.partial else self).print_usage(sys.stderr)
        print(f"tensorleap-ls: error: {message}", file=sys.stderr)
        raise SystemExit(2)


_COMMANDS = ("check", "preview", "debug-sample", "scan", "serve")


def _parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line; ``only``: with that command's parser alone (its arguments parse the same: the others
    are not built, a tenth of a warm `check`'s start)."""
    p = _Parser(prog="tensorleap-ls", description="Static and dynamic checks for Tensorleap integration scripts.")
    p.add_argument("--version", action="version", version=f"tensorleap-ls {__version__}")
    p.partial = only is not None
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    if only in (None, "check"):
        _check_parser(sub)
    if only in (None, "preview"):
        _preview_parser(sub)
    if only in (None, "debug-sample"):
        _debug_parser(sub)
    if only in (None, "scan"):
        _scan_parser(sub)
    if only in (None, "serve"):
        s = sub.add_parser("serve", help="run the language server (stdio by default)")
        s.add_argument("--tcp", metavar="HOST:PORT", type=_host_port)
        s.add_argument("--trusted", action="store_true", help="allow running user code (dynamic checks, previews)")
    return p


def _check_parser(sub) -> None:
    c = sub.add_parser("check", help="check projects (folders holding leap.yaml) or files")
    c.add_argument("paths", nargs="*", default=["."], metavar="PATH")
    c.add_argument("--format", choices=["text", "json"], default="text")
    c.add_argument("--no-color", action="store_true")
    c.add_argument("--dynamic", action="store_true", help="also run the integration on real samples (child process)")
    c.add_argument("--samples", type=_samples, default=5, help="samples per subset for --dynamic (0 = all)")
    c.add_argument("--python", help="the project's interpreter: its code-loader is read (from disk) for the checks; "
                   "given explicitly (or with --dynamic) it also reads the model file and runs --dynamic "
                   "(default: the project's .venv/venv, else this one; a plain check runs none of them)")
    c.add_argument("--timeout", type=_bounded("timeout_s", float), default=30.0, help="seconds per call for --dynamic")
    c.add_argument("--preprocess-timeout", type=_bounded("preprocess_timeout_s", float), default=300.0,
                   help="seconds for the import of the entry and for preprocess, for --dynamic")
    c.add_argument("--memory-mb", type=_bounded("memory_mb", int), default=4096,
                   help="memory limit of the child for --dynamic, and of the model reader")
    c.add_argument("--no-model", action="store_true", help="do not read the model file for the model checks (TL6xx)")


def _preview_parser(sub) -> None:
    v = sub.add_parser("preview", help="render one sample as the platform would (PNG + JSON + HTML)")
    v.add_argument("path", metavar="PATH")
    v.add_argument("--subset", default="training")
    v.add_argument("--sample", required=True, help="sample id")
    v.add_argument("--out", required=True, help="output folder")
    v.add_argument("--python")
    v.add_argument("--timeout", type=_bounded("timeout_s", float), default=30.0)
    v.add_argument("--preprocess-timeout", type=_bounded("preprocess_timeout_s", float), default=300.0)


def _debug_parser(sub) -> None:
    d = sub.add_parser("debug-sample", help="run one sample under debugpy and wait for a DAP client (any editor)")
    d.add_argument("path", metavar="PATH")
    d.add_argument("--subset", default="training")
    d.add_argument("--sample", required=True, help="sample id")
    d.add_argument("--python", help="the project's interpreter (default: the project's .venv/venv, else this one)")
    d.add_argument("--listen", required=True, metavar="HOST:PORT", type=_host_port,
                   help="where debugpy waits for the client (attach with connect host/port)")
    d.add_argument("--function", action="append", default=[], metavar="NAME",
                   help="run only this encoder / metadata / visualizer (Python or registered name; repeatable)")
    d.add_argument("--no-integration-test", action="store_true", help="do not run the integration test on the sample")


class _OneLineErrors(logging.Formatter):
    """Internal errors logged by the analysis (a check that crashed) as one line, not a traceback."""

    def format(self, record: logging.LogRecord) -> str:
        text = f"tensorleap-ls: {record.levelname.lower()}: {record.getMessage()}"
        if record.exc_info and record.exc_info[1] is not None:
            e = record.exc_info[1]
            text += f" ({type(e).__name__}: {str(e)[:200]}; set TL_DEBUG=1 for the traceback)"
        return text


def _setup_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    if not os.environ.get("TL_DEBUG"):
        handler.setFormatter(_OneLineErrors())
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parser(argv[0] if argv and argv[0] in _COMMANDS else None).parse_args(argv)
    try:
        if args.command != "serve":
            _setup_logging()  # the server configures its own log (stderr = the editor's output panel)
        return _run(args)
    except KeyboardInterrupt:
        return 2
    except _UsageError as e:
        print(f"tensorleap-ls: {e}", file=sys.stderr)
        return 2
    except RecursionError:
        print("tensorleap-ls: error: an expression is too deeply nested to analyse", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - the safety net: a message, never a traceback
        if os.environ.get("TL_DEBUG"):
            raise
        print(f"tensorleap-ls: internal error ({type(e).__name__}: {str(e)[:300]}). This is a bug of "
              "tensorleap-ls; set TL_DEBUG=1 for the traceback and report it.", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.command == "check":
        return _check(args)
    if args.command == "preview":
        return _preview(args)
    if args.command == "debug-sample":
        return _debug_sample(args)
    if args.command == "scan":
        return _scan(args)
    if args.command == "serve":
        # Under `python -m` the working directory (an editor's workspace) is on sys.path: clean it before
        # the server's lazy imports. Editors use the launcher, which cleans it before any import.
        import tensorleap_ls._boot.serve  # noqa: F401
        from tensorleap_ls.lsp.server import start

        return start(tcp=args.tcp, trusted=args.trusted)
    _parser().print_help()
    return 2


class _UsageError(Exception):
    pass


def _check_path(path: str) -> None:
    from tensorleap_ls.core.source import files

    try:
        exists = os.path.exists(path)
    except ValueError:  # a NUL byte in the argument
        exists = False
    if not exists:
        raise _UsageError(f"no such file or folder: {path!r}")
    if not os.path.isdir(path) and not files.is_regular(path):
        raise _UsageError(f"{path}: not a regular file or a folder (a FIFO, a device...): not read")


def _check(args: argparse.Namespace) -> int:
    # A static check is one short run that leaves no cyclic garbage worth collecting (the analysis itself runs
    # without the collector): no collection while it imports and reports, and what it leaves alive is frozen at the
    # end, so neither the next collection nor the interpreter's last one at exit walks it (~7% of a warm check,
    # as mypy exits without that collection). A --dynamic run, long, keeps the collector.
    if args.dynamic:
        return _check_with(args)
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _check_with(args)
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def _check_with(args: argparse.Namespace) -> int:
    from tensorleap_ls.core.sdk import env as sdk_env
    from tensorleap_ls.core.engine.analysis import Analyzer
    from tensorleap_ls.runtime import api

    # The installed SDK is read from the interpreter's site-packages on disk: nothing runs.
    # Not incremental: the findings of one analysis are never reused by a next one here (the one with the model's
    # facts changes what every binding's checks read)
    analyzer = Analyzer(env_for=lambda root: sdk_env.environment(api.choose(root, args.python), analyzer.store),
                        spawn=api.popen, persistent=True, incremental=False)
    try:
        return _report(analyzer, args)
    finally:
        analyzer.close()  # its compile worker; writes the persistent cache after the report


def _report(analyzer, args: argparse.Namespace) -> int:
    from tensorleap_ls.core import report

    projects = []
    all_findings = []
    color = not args.no_color and args.format == "text" and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    for path in args.paths:
        _check_path(path)
        analyses = analyzer.analyze_path(path)
        if not args.no_model and any([_model_facts(analyzer, pa, args) for pa in analyses]):
            analyses = analyzer.analyze_path(path)  # again, with the model's facts (TL6xx)
        if not analyses:
            raise _UsageError(f"{path}: no integration found (no leap.yaml, leap_integration.py or leap_binder.py, "
                              "and no file using code_loader)")
        for pa in analyses:
            findings = list(pa.findings)
            if args.dynamic:
                findings.extend(_dynamic(pa, args))
            projects.append(report.project_json(pa.project.root, pa.project.entry, pa.bindings, findings))
            all_findings.extend(findings)
    if args.format == "json":
        print(report.to_json(projects))
    else:
        for f in report.sort_findings(all_findings):
            print(report.text_line(f, color))
        print(report.summary(all_findings, len(projects)))
    return 1 if any(f.effective_severity == 1 for f in all_findings) else 0


def _model_facts(analyzer, pa, args: argparse.Namespace) -> bool:
    """A plain ``check`` runs nothing of the project: the model file is read by this interpreter, and
    only formats that hold no code (ONNX). The project's interpreter reads it (Keras, TorchScript...)
    only when the user chose to run the project: ``--python`` or ``--dynamic``."""
    from tensorleap_ls.runtime import api

    if args.python or args.dynamic:
        return api.model_facts(analyzer, pa, api.choose(pa.project.root, args.python), trusted=True,
                               memory_mb=args.memory_mb)
    return api.model_facts(analyzer, pa, sys.executable, trusted=False, memory_mb=args.memory_mb)


def _dynamic(pa, args: argparse.Namespace) -> list:
    from tensorleap_ls.runtime.api import dynamic_findings

    def progress(msg: str) -> None:
        if args.format == "text" and sys.stderr.isatty():
            print(f"\r[dynamic] {msg}", end="", file=sys.stderr, flush=True)

    return dynamic_findings(pa.project.root, pa.project.entry, python=args.python, samples=args.samples,
                            timeout_s=args.timeout, preprocess_timeout_s=args.preprocess_timeout,
                            memory_mb=args.memory_mb, progress=progress)


def _preview(args: argparse.Namespace) -> int:
    from tensorleap_ls.core.engine.analysis import Analyzer
    from tensorleap_ls.runtime import api
    from tensorleap_ls.runtime.api import preview_sample

    _check_path(args.path)
    analyzer = Analyzer(spawn=api.popen)
    try:
        analyses = analyzer.analyze_path(args.path)
    finally:
        analyzer.close()
    if not analyses:
        raise _UsageError(f"{args.path}: no integration found")
    pa = analyses[0]
    sample: object = args.sample
    result = preview_sample(pa.project.root, pa.project.entry, args.subset, sample, args.out, python=args.python,
                            timeout_s=args.timeout, preprocess_timeout_s=args.preprocess_timeout)
    for line in result.get("lines", []):
        print(line)
    print(f"preview written to {os.path.join(args.out, 'index.html')}")
    return 1 if result.get("errors") else 0


def _debug_sample(args: argparse.Namespace) -> int:
    """Listens until a DAP client attaches, runs the sample, and ends with the session (the client's
    disconnect, or the sample's end); Ctrl-C ends the harness and everything it started."""
    from tensorleap_ls.core.engine.analysis import Analyzer
    from tensorleap_ls.runtime import api

    _check_path(args.path)
    analyses = Analyzer().analyze_path(args.path)
    if not analyses:
        raise _UsageError(f"{args.path}: no integration found")
    pa = analyses[0]
    host, _, port = args.listen.rpartition(":")
    try:
        run = api.debug_sample(api.choose(pa.project.root, args.python), pa.project.root, pa.project.entry,
                               args.subset, args.sample, host=host or "127.0.0.1", port=int(port),
                               functions=args.function, integration_test=not args.no_integration_test,
                               on_output=lambda line: print(line, flush=True))
    except api.DebugFailed as e:
        raise _UsageError(str(e)) from None
    print(f"tensorleap-ls: {args.subset} sample {args.sample} of {pa.project.entry}: debugpy waits for a DAP client "
          f"on {run.host}:{run.port} (request \"attach\", connect {{host, port}})", flush=True)
    try:
        return run.wait()
    except KeyboardInterrupt:
        run.stop()
        return 130



# --- scan: every sample of the data set -----------------------------------------------------------------------
def _scan_parser(sub) -> None:
    c = sub.add_parser("scan", help="run every sample of the data set through every function (parallel, cached)")
    c.add_argument("path", nargs="?", default=".", metavar="PATH")
    c.add_argument("--subset", action="extend", nargs="+", metavar="S", help="only these subsets (default: all)")
    c.add_argument("--workers", type=_whole(1, 1024, "between 1 and 1024"), help="parallel workers (default: the cores available; Ray: the cluster's CPUs)")
    c.add_argument("--backend", choices=["local", "ray"], default="local",
                   help="local: children of the project interpreter; ray: Ray tasks (ray installed in the project interpreter)")
    c.add_argument("--ray-address", metavar="ADDR", help="a running Ray cluster (default: a local one, started for the scan)")
    c.add_argument("--python", help="the project's interpreter (default: the project's .venv/venv, else this one)")
    c.add_argument("--format", choices=["text", "json"], default="text")
    c.add_argument("--out", metavar="DIR", help="where summary.json and report.html go (default: PROJECT/.tensorleap/scan)")
    c.add_argument("--visualizers", action="store_true", help="also run the visualizers fed by inputs and ground truths")
    c.add_argument("--no-cache", action="store_true", help="run every function on every sample (the cache is not read or written)")
    c.add_argument("--cache-mb", type=_bounded("memory_mb", int), default=512, help="size limit of the cache")
    c.add_argument("--timeout", type=_bounded("timeout_s", float), default=30.0, help="seconds per call")
    c.add_argument("--preprocess-timeout", type=_bounded("preprocess_timeout_s", float), default=300.0)
    c.add_argument("--memory-mb", type=_bounded("memory_mb", int), default=4096, help="memory limit of each worker")
    c.add_argument("--no-color", action="store_true")


def _scan(args: argparse.Namespace) -> int:
    import threading

    from tensorleap_ls.core import report
    from tensorleap_ls.core.engine.analysis import Analyzer
    from tensorleap_ls.runtime import api

    if args.ray_address and args.backend != "ray":
        raise _UsageError("--ray-address needs --backend ray")
    _check_path(args.path)
    analyses = Analyzer().analyze_path(args.path)
    if not analyses:
        raise _UsageError(f"{args.path}: no integration found")
    pa = analyses[0]
    options = api.ScanOptions(subsets=args.subset, workers=args.workers, backend=args.backend,
                              ray_address=args.ray_address, visualizers=args.visualizers, cache=not args.no_cache,
                              cache_mb=args.cache_mb, limits=api.Limits(timeout_s=args.timeout, memory_mb=args.memory_mb,
                                                                        preprocess_timeout_s=args.preprocess_timeout))
    bar = _progress_bar()
    cancel = threading.Event()
    box: dict = {}

    def work() -> None:
        try:
            box["result"] = api.scan(pa.project.root, pa.project.entry, options, python=args.python, project=pa.project,
                                     progress=bar.update, cancel=cancel, out=args.out)
        except BaseException as e:  # noqa: BLE001 - re-raised in the main thread
            box["error"] = e

    thread = threading.Thread(target=work, name="scan", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.2)
    except KeyboardInterrupt:  # stop the workers; what was scanned stays in the cache
        cancel.set()
        thread.join()
    finally:
        bar.close()
    if "error" in box:
        if isinstance(box["error"], ValueError):
            raise _UsageError(str(box["error"]))
        raise box["error"]
    result = box["result"]
    if args.format == "json":
        print(report.to_json([api.scan_report.document(result)]))
    else:
        color = not args.no_color and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        findings = api.scan_findings(result)
        for f in report.sort_findings(findings):
            print(report.text_line(f, color))
        print(_scan_summary(result, api.scan_report.errors(result)))
    if cancel.is_set() or result.cancelled:
        return 2
    return 1 if api.scan_report.errors(result) or result.error else 0


def _scan_summary(result, errors: int) -> str:
    failing = len({(f.get("subset"), f.get("index")) for f in result.failures if f.get("index") is not None})
    text = (f"{result.samples:,} sample(s) scanned in {result.seconds:.1f} s ({result.backend}, {result.workers} worker(s); "
            f"{result.cached:,} record(s) from the cache, {result.computed:,} computed): {len(result.failures):,} failure(s) "
            f"on {failing:,} sample(s), {errors:,} error(s)")
    if result.cancelled:
        text += "; cancelled before the end"
    if result.report:
        text += f"\nreport: {result.report[-1]}"
    return text


class _NoBar:
    def update(self, done: int, total: int) -> None:
        pass

    def close(self) -> None:
        pass


class _Bar:
    """tqdm on stderr (samples/s, ETA), fed with (done, total) from the scan's threads."""

    def __init__(self) -> None:
        import threading

        from tqdm import tqdm

        self.bar = tqdm(total=0, unit="sample", unit_scale=True, dynamic_ncols=True, file=sys.stderr, desc="scan")
        self.lock = threading.Lock()

    def update(self, done: int, total: int) -> None:
        with self.lock:
            if self.bar.total != total:
                self.bar.total = total
                self.bar.refresh()
            if done > self.bar.n:
                self.bar.update(done - self.bar.n)

    def close(self) -> None:
        self.bar.close()


def _progress_bar():
    return _Bar() if sys.stderr.isatty() and not os.environ.get("TL_NO_PROGRESS") else _NoBar()


if __name__ == "__main__":
    raise SystemExit(main())
