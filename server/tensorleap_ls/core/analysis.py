"""Orchestrator of the static analysis: the one API the LSP layer and the CLI use.

    analyzer = Analyzer()                        # holds the caches; one per server / CLI run
    analyzer.set_overlay(path, text)             # an editor buffer shadows the file on disk
    analyzer.set_overlay(path, None)             # buffer closed: read the disk again
    analyzer.invalidate(path)                    # the file changed on disk
    for pa in analyzer.analyze_file(path):       # every project whose closure holds `path`
        pa.project.root, pa.bindings, pa.findings_for(some_path), pa.files
    analyzer.analyze_path(folder_or_file)        # CLI: the project(s) at a folder or of a file

Work is incremental: a module is parsed and scanned once per text (cache keyed by path and
content), the import closure and leap.yaml are cached until a file they depend on changes.
"""
