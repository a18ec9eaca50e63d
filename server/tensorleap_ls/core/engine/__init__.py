"""The analysis engine: the one API the LSP layer and the CLI use, and what it caches between edits."""
