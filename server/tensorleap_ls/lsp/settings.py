"""Server settings: typed, defaulted, read from initializationOptions and didChangeConfiguration.

Keys are the camelCase names clients send (VS Code settings `tensorleap.*`). An invalid value
falls back to its default and is reported once in the log; it never stops the server.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

_KEYS = {  # camelCase key -> (attribute, type, minimum)
    "debounceMs": ("debounce_ms", int, 0),
    "interpreter": ("interpreter", str, None),
    "dynamicOnSave": ("dynamic_on_save", bool, None),
    "samplesPerSubset": ("samples_per_subset", int, 1),
    "timeoutS": ("timeout_s", float, 0.1),
    "preprocessTimeoutS": ("preprocess_timeout_s", float, 0.1),
    "memoryMb": ("memory_mb", int, 64),
    "logLevel": ("log_level", str, None),
    "trusted": ("trusted", bool, None),
    "authSecret": ("auth_secret", str, None),
}


@dataclass(frozen=True)
class Settings:
    debounce_ms: int = 100
    interpreter: str | None = None
    dynamic_on_save: bool = False
    samples_per_subset: int = 5
    timeout_s: float = 30.0
    preprocess_timeout_s: float = 300.0
    memory_mb: int = 4096
    log_level: str = "info"
    trusted: bool = False
    # Passed to the child as AUTH_SECRET; never logged (repr hides it).
    auth_secret: str | None = field(default=None, repr=False)

    def merged(self, options: Any) -> tuple["Settings", list[str]]:
        """A copy with ``options`` applied, and the problems found in them."""
        if options is None:
            return self, []
        if not isinstance(options, dict):
            return self, [f"settings must be an object, got {type(options).__name__}"]
        if isinstance(options.get("tensorleap"), dict):
            options = {**options, **options["tensorleap"]}
        changes: dict[str, Any] = {}
        problems = []
        for key, value in options.items():
            spec = _KEYS.get(key)
            if spec is None:
                continue
            attr, typ, minimum = spec
            if value is None and attr in ("interpreter", "auth_secret"):
                changes[attr] = None
                continue
            ok = isinstance(value, typ) and not (typ is int and isinstance(value, bool))
            if typ is float and isinstance(value, int) and not isinstance(value, bool):
                ok, value = True, float(value)
            if ok and minimum is not None and value < minimum:
                ok = False
            if not ok:
                problems.append(f"ignored setting {key}={value!r}: expected {typ.__name__}"
                                + (f" >= {minimum}" if minimum is not None else ""))
                continue
            changes[attr] = value
        return replace(self, **changes), problems


SETTING_NAMES = tuple(f.name for f in fields(Settings))
