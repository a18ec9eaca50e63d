"""Entry points of the runtime used by the CLI and the LSP layer (owner: runtime).

    dynamic_findings(root, entry, *, python=None, samples=5, timeout_s=..., memory_mb=..., progress=None,
                     env=None) -> list[Finding]
    preview_sample(root, entry, subset, sample_id, out_dir, *, python=None, ...) -> dict (summary; writes PNG/JSON/HTML)
"""
