"""The project: closure of local modules, name resolution across them, leap.yaml, bindings."""
