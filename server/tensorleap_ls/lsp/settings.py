"""Server settings: typed, defaulted, read from initializationOptions and didChangeConfiguration.

The schema of the user settings is the VS Code extension's ``package.json``
(``contributes.configuration``): the keys clients send are its names without the ``tensorleap.``
prefix, and the defaults and minima below equal it (a test compares them). ``trusted`` and
``authSecret`` are sent by the client but are not user settings. An invalid value falls back to
its default and is reported once in the log (never with the value itself); it never stops the server.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any, Optional

LOG_LEVELS = ("error", "warning", "info", "debug")

# Bounds of the numeric limits, shared with the CLI's arguments (package.json's minimum/maximum say
# the same, checked by tests/compat/test_settings_schema.py): finite, and below what would mean
# "never" (a timeout of 1e300 s is a typo, not a wish). samplesPerSubset 0 means every sample.
BOUNDS = {
    "debounce_ms": (0, 60_000),
    "samples_per_subset": (0, 1_000_000),
    "timeout_s": (0.1, 86_400.0),
    "preprocess_timeout_s": (0.1, 86_400.0),
    "memory_mb": (64, 1_048_576),
}

_KEYS = {  # wire key -> (attribute, type, allowed values)
    "debounceMs": ("debounce_ms", int, None),
    "interpreter": ("interpreter", str, None),
    "dynamicChecksOnSave": ("dynamic_on_save", bool, None),
    "samplesPerSubset": ("samples_per_subset", int, None),  # 0 = all samples
    "timeoutSeconds": ("timeout_s", float, None),
    "preprocessTimeoutSeconds": ("preprocess_timeout_s", float, None),
    "memoryMb": ("memory_mb", int, None),
    "logLevel": ("log_level", str, LOG_LEVELS),
    "trusted": ("trusted", bool, None),
    "authSecret": ("auth_secret", str, None),
    "inlayHints": ("inlay_hints", bool, None),
}
_NULLABLE = ("interpreter", "auth_secret")  # None or "" = not set


def out_of_bounds(attr: str, value: float) -> str | None:
    """Why ``value`` is not acceptable for the limit ``attr`` (None when it is)."""
    low, high = BOUNDS[attr]
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number between {low} and {high}"
    if not low <= value <= high:
        return f"must be between {low} and {high}"
    return None


@dataclass(frozen=True)
class Settings:
    debounce_ms: int = 0
    interpreter: Optional[str] = None  # the project interpreter the client chose (None: discover)
    dynamic_on_save: bool = False
    samples_per_subset: int = 5
    timeout_s: float = 30.0
    preprocess_timeout_s: float = 300.0
    memory_mb: int = 4096
    log_level: str = "info"
    inlay_hints: bool = True  # observed values at encoders and metadata functions (lsp/inlay.py)
    trusted: bool = False
    # Passed to the child as AUTH_SECRET; never logged (repr hides it).
    auth_secret: Optional[str] = field(default=None, repr=False)

    def merged(self, options: Any) -> tuple[Settings, list[str]]:
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
            attr, typ, allowed = spec
            if attr in _NULLABLE and value in (None, ""):
                changes[attr] = None
                continue
            ok = isinstance(value, typ) and not (typ is int and isinstance(value, bool))
            if typ is float and isinstance(value, int) and not isinstance(value, bool):
                ok, value = True, float(value)
            # a rejected value is never echoed (it may be a mistyped secret)
            if ok and allowed is not None and value not in allowed:
                ok = False
            if not ok:
                expected = " or ".join(allowed) if allowed else f"a {typ.__name__}"
                problems.append(f"ignored setting {key} ({type(value).__name__}): expected {expected}")
                continue
            why = out_of_bounds(attr, value) if attr in BOUNDS else None
            if why:
                problems.append(f"ignored setting {key}: it {why}; the default stays")
                continue
            changes[attr] = value
        return replace(self, **changes), problems


SETTING_NAMES = tuple(f.name for f in fields(Settings))
WIRE_KEYS = {key: spec[0] for key, spec in _KEYS.items()}
