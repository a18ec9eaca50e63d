"""Facts about one module, computed from its text alone (parse, imports, top-level names)."""
