"""Server settings: typed, defaulted, read from initializationOptions and didChangeConfiguration.

Keys are the camelCase names clients send (VS Code settings `tensorleap.*`). An invalid value
falls back to its default and is reported once in the log; it never stops the server.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any

# Sane bounds of the numeric limits, shared with the CLI's arguments: finite, positive, and
# below what would mean "never" (a timeout of 1e300 s is a typo, not a wish).
BOUNDS = {
    "debounce_ms": (0, 60_000),
    "samples_per_subset": (1, 1_000_000),
    "timeout_s": (0.1, 86_400.0),
    "preprocess_timeout_s": (0.1, 86_400.0),
    "memory_mb": (64, 1_048_576),
}
SECRET_KEYS = {"authSecret"}  # never echoed in a message

_KEYS = {  # camelCase key -> (attribute, type)
    "debounceMs": ("debounce_ms", int),
    "interpreter": ("interpreter", str),
    "dynamicOnSave": ("dynamic_on_save", bool),
    "samplesPerSubset": ("samples_per_subset", int),
    "timeoutS": ("timeout_s", float),
    "preprocessTimeoutS": ("preprocess_timeout_s", float),
    "memoryMb": ("memory_mb", int),
    "logLevel": ("log_level", str),
    "trusted": ("trusted", bool),
    "authSecret": ("auth_secret", str),
}


def out_of_bounds(attr: str, value: float) -> str | None:
    """Why ``value`` is not acceptable for the limit ``attr`` (None when it is)."""
    low, high = BOUNDS[attr]
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number between {low} and {high}"
    if not low <= value <= high:
        return f"must be between {low} and {high}"
    return None


@dataclass(frozen=True, slots=True)
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
            attr, typ = spec
            if value is None and attr in ("interpreter", "auth_secret"):
                changes[attr] = None
                continue
            ok = isinstance(value, typ) and not (typ is int and isinstance(value, bool))
            if typ is float and isinstance(value, int) and not isinstance(value, bool):
                ok, value = True, float(value)
            shown = " (value not shown)" if key in SECRET_KEYS else f"={value!r}"[:80]
            if not ok:
                problems.append(f"ignored setting {key}{shown}: expected a {typ.__name__}")
                continue
            why = out_of_bounds(attr, value) if attr in BOUNDS else None
            if why:
                problems.append(f"ignored setting {key}{shown}: it {why}; the default stays")
                continue
            changes[attr] = value
        return replace(self, **changes), problems


SETTING_NAMES = tuple(f.name for f in fields(Settings))
