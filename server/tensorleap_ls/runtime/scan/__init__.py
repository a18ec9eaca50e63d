"""The data-set scan: every sample of every subset through every input, ground-truth and metadata function
(visualizers on request), in parallel, incremental, on Ray when one machine is not enough.

    run.py       the scan from start to end: plan, cache, shards on a backend, failures and statistics
    backends.py  where the shards run: N local children of the project interpreter, or Ray tasks
    keys.py      what a function's cached results depend on (its source, what it uses, preprocess)
    cache.py     the records per (function key, subset, sample id), SQLite under the project's .tensorleap/
    stats.py     the failures (one per sample and function) and the statistics, over the whole data set
    report.py    the JSON document, the diagnostics it feeds, summary.json and report.html (Vega-Lite charts)
    assets/      Vega, Vega-Lite and vega-embed, vendored (scripts/vendor_vega.sh) and inlined in report.html

The child's side is ``tensorleap_ls_child/scan.py`` (the per-sample work, reusing samples.py's checks),
``shards.py`` (the shards and the loop that runs them, shared with the Ray driver) and ``rayscan.py``.
"""
