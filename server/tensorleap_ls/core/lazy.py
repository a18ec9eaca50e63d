"""A module imported at its first attribute read, for what some paths need and a static ``check`` does not
(its start-up is measured: bench/engine.py; tests/runtime/test_door.py keeps the runtime out of it).

    subprocess = lazy.Module("subprocess")   # at the top of a module; ``subprocess.Popen`` in its functions

Each read goes through ``importlib.import_module`` (a dict hit once imported; the import system's own lock
makes the first one thread-safe), so keep it out of hot loops. ``from m import name`` cannot be lazy.
"""

from __future__ import annotations

import importlib
from typing import Any


class Module:
    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._name), attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"
