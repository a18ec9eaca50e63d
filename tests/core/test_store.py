"""The persistent cache (core/engine/store.py): a second run of an unchanged project reads the facts of
each module text and the verdicts of compile() from disk, and says exactly what the first run said; a
corrupt entry is ignored (and removed); the folder stays bounded."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest

from tensorleap_ls.core.engine.analysis import Analyzer
from tensorleap_ls.core.engine.store import Store

FIXTURE = Path(__file__).resolve().parents[1] / "reliability" / "fixtures" / "mnist_decorator"
ENTRY = "leap_integration.py"


@pytest.fixture
def project(tmp_path: Path, monkeypatch) -> Path:
    root = tmp_path / "proj"
    shutil.copytree(FIXTURE, root)
    # what the parser accepts and compile() rejects: TL190 must survive the cache
    (root / "tensorleap" / "broken.py").write_text("def f(a):\n    return a\n\nf(a=1, a=2)\n")
    entry = root / ENTRY
    entry.write_text(entry.read_text(encoding="utf-8").replace("import os\n", "import os\nimport tensorleap.broken\n", 1))
    monkeypatch.setenv("TL_CACHE_DIR", str(tmp_path / "cache"))
    return root


def _run(root: Path) -> tuple[Analyzer, list]:
    analyzer = Analyzer(persistent=True)
    try:
        (pa,) = analyzer.analyze_file(str(root / ENTRY))
    finally:
        analyzer.close()
    return analyzer, [(f.code, f.span, f.message) for f in pa.findings]


def test_a_second_run_reads_the_cache_and_says_the_same(project: Path) -> None:
    first, findings = _run(project)
    assert first.compiler.compiled >= 3 and first._modules.store.hits == 0
    assert "TL190" in [c for c, _, _ in findings]
    second, again = _run(project)
    assert again == findings
    assert second.compiler.compiled == 0, "no module text is compiled twice"
    assert second._modules.store.hits >= 3 and second._modules.store.misses == 0


def test_an_edited_module_misses_and_the_others_hit(project: Path) -> None:
    _run(project)
    helper = project / "tensorleap" / "broken.py"
    helper.write_text("def f(a):\n    return a\n\nf(a=1)\n")
    second, findings = _run(project)
    assert second.compiler.compiled == 1 and second._modules.store.misses == 1
    assert "TL190" not in [c for c, _, _ in findings]


def test_a_corrupt_entry_is_ignored_and_removed(project: Path, tmp_path: Path) -> None:
    _, findings = _run(project)
    every = {e: json.loads(e.read_text()) for e in sorted((tmp_path / "cache").rglob("*.json"))}
    entries = [e for e, data in every.items() if "module" in data]  # the modules' entries
    closures = [e for e, data in every.items() if "resolved" in data]  # and the closure's
    assert len(entries) >= 4 and len(closures) == 1
    closures[0].write_text(json.dumps({**every[closures[0]], "resolved": [["a", "b"]]}))
    entries[0].write_text("{not json")
    entries[1].write_text(json.dumps({"digest": "someone else's"}))
    entries[2].write_text(json.dumps({"digest": json.loads(entries[3].read_text())["digest"], "module": {"imports": 3}}))
    second, again = _run(project)
    assert again == findings
    for entry in entries[:3]:  # removed, then written again whole by the second run
        data = json.loads(entry.read_text())
        assert isinstance(data["module"]["imports"], list), entry
    assert second.stats["closures_built"] == 1 and json.loads(closures[0].read_text()) == every[closures[0]]


def test_the_cache_is_bounded(tmp_path: Path) -> None:
    store = Store(tmp_path / "c", limit=20_000)
    for i in range(200):
        store.put(f"d{i}", {"module": {"pad": "x" * 200}})
    store.flush()
    store.trim()
    size = sum(p.stat().st_size for p in (tmp_path / "c").rglob("*.json"))
    assert size <= 20_000
    assert store.get("d199") is not None, "the newest entries stay"


def test_entries_are_written_on_flush_and_read_back_before(tmp_path: Path) -> None:
    store = Store(tmp_path / "c")
    store.put("d1", {"module": {"n": 1}})
    assert store.get("d1")["module"] == {"n": 1}, "read back before it is written"
    assert not list((tmp_path / "c").rglob("*.json")), "nothing written before flush (the server answers first)"
    assert store.flush() == 1 and store.flush() == 0
    assert Store(tmp_path / "c").get("d1")["module"] == {"n": 1}


def test_concurrent_writers_leave_whole_entries(tmp_path: Path) -> None:
    stores = [Store(tmp_path / "c") for _ in range(4)]
    threads = [threading.Thread(target=lambda s=s: [s.put(f"d{i}", {"module": {"n": i}}) or s.flush() for i in range(50)])
               for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(Store(tmp_path / "c").get(f"d{i}")["module"] == {"n": i} for i in range(50))
    assert not list((tmp_path / "c").rglob(".tmp-*"))


def test_a_second_run_parses_only_the_modules_the_checks_read_nodes_of(tmp_path: Path, monkeypatch) -> None:
    """The per-text facts the checks declare ``stored`` (module names, what module-level code reads, namespace
    writes, top-level names, needle verdicts) come from the cache: the import-time checks and the model-path
    search no longer parse every library module of a vendored project, only the entry and the helpers its
    registered functions reach."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    import projects  # bench/projects.py

    monkeypatch.setenv("TL_CACHE_DIR", str(tmp_path / "cache"))
    entry = projects.vendored(str(tmp_path / "proj"), modules=40, lines=12_000)

    def run() -> tuple[Analyzer, object]:
        analyzer = Analyzer(persistent=True)
        try:
            (pa,) = analyzer.analyze_file(entry)
        finally:
            analyzer.close()
        return analyzer, pa

    first, pa1 = run()
    second, pa2 = run()
    assert [(f.code, f.span, f.message) for f in pa2.findings] == [(f.code, f.span, f.message) for f in pa1.findings]
    assert len(pa2.modules) > 40
    trees = [m for m in pa2.modules.values() if m.loaded]
    assert len(trees) <= 8, sorted(m.name for m in trees)  # the entry and a few helpers, not the library
    assert second._modules.store.misses == 0


def test_a_second_run_runs_pyflakes_only_where_a_name_was_unbound(project: Path, monkeypatch) -> None:
    """"No unbound name" is stored per (text, bodies checked): a second run does not run pyflakes on the modules
    where the first found none, and still reports an unbound name where there is one."""
    from tensorleap_ls.core.facts import scopes

    helper = project / "tensorleap" / "slip.py"
    helper.write_text("import os\n\nVALUE = os.path.join(ROOT, 'x')\n")
    entry = project / ENTRY
    entry.write_text(entry.read_text(encoding="utf-8").replace("import os\n", "import os\nimport tensorleap.slip\n", 1))
    checked: list[str] = []
    real = scopes._unbound

    def counted(mod, keep):
        checked.append(mod.path)
        return real(mod, keep)

    monkeypatch.setattr(scopes, "_unbound", counted)
    _, findings = _run(project)
    assert "TL113" in [c for c, _, _ in findings] and str(helper) in checked
    first = set(checked)
    clean = {p for p in first if p != str(helper) and p != str(entry)}  # (the entry's star imports bind names)
    assert clean
    checked.clear()
    _, again = _run(project)
    assert again == findings
    assert str(helper) in checked and not clean & set(checked), checked


def test_the_scan_of_site_packages_is_stored(project: Path, monkeypatch) -> None:
    """Which distribution provides which module (every RECORD of site-packages) is read once per folder and its
    modification time: a second run reads it from the store."""
    from tensorleap_ls.core.project import requirements
    from tensorleap_ls.core.sdk import env as sdk_env

    scanned: list[str] = []
    real = requirements._site.__wrapped__  # (no per-process memo: each run is a new process in real use)

    def counted(site, stamp):
        scanned.append(site)
        return real(site, stamp)

    monkeypatch.setattr(requirements, "_site", counted)

    def run() -> list:
        analyzer = Analyzer(env_for=lambda root: sdk_env.environment(None, analyzer.store), persistent=True)
        try:
            (pa,) = analyzer.analyze_file(str(project / ENTRY))
        finally:
            analyzer.close()
        return [(f.code, f.span, f.message) for f in pa.findings]

    findings = run()
    assert scanned
    scanned.clear()
    assert run() == findings
    assert scanned == []


def test_the_closure_is_restored_while_nothing_it_depends_on_changed(project: Path) -> None:
    """A new run takes the closure the last one stored (no import resolved again) while every module's text, the
    probed files' folders and the unreadable files are as they were; a module created where an import looked
    for it, or an edited import, builds it again; each time the analysis says what a fresh one says."""
    def run() -> tuple[Analyzer, list, set]:
        analyzer = Analyzer(persistent=True)
        try:
            (pa,) = analyzer.analyze_file(str(project / ENTRY))
        finally:
            analyzer.close()
        fresh = Analyzer()
        (full,) = fresh.analyze_file(str(project / ENTRY))
        assert sorted(pa.modules) == sorted(full.modules) and pa.project.resolved == full.project.resolved
        assert pa.project.executed == full.project.executed and pa.project.by_name == full.project.by_name
        assert [(f.code, f.span, f.message) for f in pa.findings] == [(f.code, f.span, f.message) for f in full.findings]
        return analyzer, [(f.code, f.span, f.message) for f in pa.findings], set(pa.modules)

    first, findings, modules = run()
    assert first.stats["closures_built"] == 1 and first.stats["closures_restored"] == 0
    second, again, same = run()
    assert second.stats["closures_restored"] == 1 and second.stats["closures_built"] == 0
    assert again == findings and same == modules
    # a module appears where an import of the entry looked for one: the closure grows
    entry = project / ENTRY
    entry.write_text(entry.read_text(encoding="utf-8").replace("import os\n", "import os\nimport extra_helpers\n", 1))
    third, _, with_import = run()
    assert third.stats["closures_built"] == 1 and with_import == modules
    (project / "extra_helpers.py").write_text("VALUE = 1\n")
    fourth, _, grown = run()
    assert fourth.stats["closures_built"] == 1 and grown == modules | {str(project / "extra_helpers.py")}
    fifth, _, kept = run()
    assert fifth.stats["closures_restored"] == 1 and kept == grown


def test_a_buffer_typed_and_undone_is_parsed_reusing_its_last_tree_not_rebuilt_from_the_store(project: Path) -> None:
    """Typing `x` and deleting it brings back a text the store holds; the edited buffer is still parsed from its
    last tree (its unchanged statements shared, and what is kept on them), not rebuilt unparsed from the store and
    then parsed whole by the first check that reads a node."""
    entry = project / ENTRY
    text = entry.read_text(encoding="utf-8") + "".join(
        f"\n\n@tensorleap_metadata('extra_{i}')\ndef extra_{i}(idx: int, preprocess: PreprocessResponse) -> int:\n"
        f"    return idx + {i}\n" for i in range(40))
    entry.write_text(text, encoding="utf-8")
    typed = text.replace("'extra_3'", "'extra_3x'")
    analyzer = Analyzer(persistent=True)
    try:
        analyzer.analyze_file(str(entry))
        first = {d: n for d, n in analyzer._modules.get(str(entry), "leap_integration", text).defs.items()}
        for buffer in (typed, text, typed, text):  # each text is in the store after its first analysis
            analyzer.set_overlay(str(entry), buffer)
            (pa,) = analyzer.analyze_file(str(entry))
            mod = pa.project.modules[str(entry)]
            assert mod.defs["extra_20"] is first["extra_20"], "the unchanged statement is shared, not parsed again"
            assert mod.stored is not None and "verdict" in mod.stored  # what the store holds is still used
        assert mod.loads == 0
    finally:
        analyzer.close()


def _vendored(tmp_path: Path) -> Path:
    """A small project of the vendored shape whose leap.yaml has a finding (an unknown key), an `exclude` that
    leaves a module out of the bundle, and a code-loader pin the installed release does not satisfy."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    import projects  # bench/projects.py

    root = Path(projects.vendored(str(tmp_path / "proj"), modules=12, lines=3_000)).parent
    yaml_text = (root / "leap.yaml").read_text(encoding="utf-8")
    (root / "leap.yaml").write_text(yaml_text + "exclude:\n  - 'yolo/utils/*.py'\nprojectID: 7\n", encoding="utf-8")
    (root / "requirements.txt").write_text("code-loader==1.0.150\nnumpy\npyyaml\n", encoding="utf-8")
    return root


def _check_json(root: Path, capsys) -> dict:
    from tensorleap_ls.cli import main

    main(["check", "--format", "json", str(root)])
    return json.loads(capsys.readouterr().out)


def test_a_warm_check_imports_no_yaml_glob_or_version_library(tmp_path: Path) -> None:
    """What a check asks PyYAML (leap.yaml), wcmatch (include/exclude) and packaging (the SDK pin) is stored by the
    texts it comes from: a second `check` of an unchanged project says the same without importing them."""
    import subprocess
    import sys

    root = _vendored(tmp_path)
    code = ("import json, sys\nfrom tensorleap_ls.cli import main\n"
            "main(['check', '--format', 'json', sys.argv[1]])\n"
            "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n")
    env = {**__import__("os").environ, "TL_CACHE_DIR": str(tmp_path / "cache"), "TL_DISABLE_ANALYTICS": "1"}
    runs = []
    for _ in ("cold", "warm"):
        r = subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True, text=True, env=env,
                           timeout=120)
        runs.append((json.loads(r.stdout), json.loads(r.stderr.strip().splitlines()[-1])))
    (cold, cold_modules), (warm, warm_modules) = runs
    assert warm == cold
    codes = {f["code"] for p in cold["projects"] for f in p["diagnostics"]}
    assert {"TL402", "TL405", "TL421"} <= codes, codes  # the stored answers are not all empty ones
    libraries = ("yaml", "wcmatch", "packaging")
    assert {m.split(".")[0] for m in cold_modules} >= set(libraries)
    # nor what only an unusual path needs: a near name (difflib), argparse's terminal width (shutil), pathlib
    assert not [m for m in warm_modules if m.split(".")[0] in libraries + ("difflib", "shutil", "pathlib")]


def test_a_stored_answer_is_not_used_once_its_text_changed(tmp_path: Path, monkeypatch, capsys) -> None:
    """leap.yaml, its globs and the pin are recomputed when the text they come from changes: each warm check says
    what a check without the persistent cache says."""
    root = _vendored(tmp_path)
    monkeypatch.setenv("TL_DISABLE_ANALYTICS", "1")

    def both() -> dict:
        monkeypatch.setenv("TL_CACHE_DIR", "off")
        fresh = _check_json(root, capsys)
        monkeypatch.setenv("TL_CACHE_DIR", str(tmp_path / "cache"))
        assert _check_json(root, capsys) == fresh
        assert _check_json(root, capsys) == fresh  # warm
        return fresh

    def codes(out: dict) -> set:
        return {f["code"] for p in out["projects"] for f in p["diagnostics"]}

    assert {"TL402", "TL405", "TL421"} <= codes(both())
    ly = root / "leap.yaml"
    ly.write_text(ly.read_text(encoding="utf-8").replace("projectID: 7\n", "").replace("yolo/utils/*.py", "none/*.py"),
                  encoding="utf-8")
    assert not {"TL402", "TL405"} & codes(both())
    ly.write_text(ly.read_text(encoding="utf-8").replace("'yolo/**/*.py'", "'yolo/models/*.py'"), encoding="utf-8")
    assert "TL405" in codes(both())
    (root / "requirements.txt").write_text("code-loader>=1.0.100\nnumpy\npyyaml\n", encoding="utf-8")
    assert "TL421" not in codes(both())


def test_the_code_digest_is_kept_by_the_sources_stamps(tmp_path: Path, monkeypatch) -> None:
    """The key's digest of core/ is read back while no source changed (time or size), computed again otherwise."""
    from tensorleap_ls.core.engine import store as store_mod

    reads = []
    real_open = open

    def spy(path, *a, **k):
        if str(path).endswith(".py"):
            reads.append(path)
        return real_open(path, *a, **k)

    monkeypatch.setattr("builtins.open", spy)
    first = store_mod._code_digest(str(tmp_path))
    assert reads, "the first run reads the sources"
    reads.clear()
    assert store_mod._code_digest(str(tmp_path)) == first and not reads
    (memo,) = (tmp_path / "code").iterdir()
    memo.write_text("not a digest")
    assert store_mod._code_digest(str(tmp_path)) == first and reads
    assert store_mod._code_digest(None) == first


def test_a_check_that_reuses_nothing_computes_no_fingerprint_and_says_the_same(tmp_path: Path, monkeypatch) -> None:
    """The CLI's analyzer (``incremental=False``): one analysis per project, so the fingerprints that let a next
    analysis reuse the bindings' findings are not computed; the findings are those of an incremental analyzer."""
    from tensorleap_ls.core.engine import deps

    root = _vendored(tmp_path)
    monkeypatch.setenv("TL_CACHE_DIR", "off")
    calls = []
    real = deps.Fingerprints.of
    monkeypatch.setattr(deps.Fingerprints, "of", lambda self, b: calls.append(b) or real(self, b))

    from tensorleap_ls.core.sdk import env as sdk_env

    def findings(**kw) -> list:
        (pa,) = Analyzer(env_for=lambda r: sdk_env.environment(None), **kw).analyze_path(str(root))
        return [(f.code, f.span, f.message, repr(f.data), f.related) for f in pa.findings]

    incremental = findings()
    assert calls and len(incremental) > 3
    calls.clear()
    assert findings(incremental=False) == incremental and not calls


def test_a_yaml_config_is_parsed_once_per_text(tmp_path: Path, monkeypatch) -> None:
    """A YAML config the analysis reads (project/config_files.py) is kept by its text: read back while the text is
    the same, parsed again once it changed; a value JSON would not give back the same (a date) is not kept."""
    import yaml

    from tensorleap_ls.core.model import UNKNOWN
    from tensorleap_ls.core.project.config_files import _parsed

    store = Store(tmp_path / "c")
    loads = []
    real = yaml.safe_load
    monkeypatch.setattr(yaml, "safe_load", lambda text: loads.append(text) or real(text))
    text = "names: [cat, dog]\nimage_size: 640\n"
    assert _parsed(text, store) == {"names": ["cat", "dog"], "image_size": 640} and len(loads) == 1
    assert _parsed(text, store) == {"names": ["cat", "dog"], "image_size": 640} and len(loads) == 1
    assert _parsed(text.replace("640", "320"), store)["image_size"] == 320 and len(loads) == 2
    assert _parsed("a: [b\n", store) is UNKNOWN and _parsed("a: [b\n", store) is UNKNOWN and len(loads) == 3
    dated = "when: 2024-01-02\n"
    assert _parsed(dated, store) == _parsed(dated, store) and len(loads) == 5  # a date: parsed each time


def test_a_warm_check_of_a_project_reading_a_yaml_config_imports_no_yaml(tmp_path: Path) -> None:
    import subprocess
    import sys

    root = tmp_path / "proj"
    shutil.copytree(Path(__file__).resolve().parents[1] / "fixtures" / "real_patterns" / "config_loop_globals", root)
    code = ("import json, sys\nfrom tensorleap_ls.cli import main\n"
            "main(['check', '--format', 'json', sys.argv[1]])\n"
            "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n")
    env = {**__import__("os").environ, "TL_CACHE_DIR": str(tmp_path / "cache"), "TL_DISABLE_ANALYTICS": "1"}
    runs = [subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True, text=True, env=env,
                           timeout=120) for _ in ("cold", "warm")]
    assert json.loads(runs[1].stdout) == json.loads(runs[0].stdout)
    assert "yaml" in json.loads(runs[0].stderr.strip().splitlines()[-1])  # the config is read by the analysis
    assert "yaml" not in json.loads(runs[1].stderr.strip().splitlines()[-1])
