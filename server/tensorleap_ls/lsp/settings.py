"""Server settings: typed, defaulted, read from initializationOptions and didChangeConfiguration.

The schema of the user settings is the VS Code extension's ``package.json``
(``contributes.configuration``): the keys clients send are its names without the ``tensorleap.``
prefix, and the defaults and minima below equal it (a test compares them). ``trusted`` and
``authSecret`` are sent by the client but are not user settings. An invalid value falls back to
its default and is reported once in the log (never with the value itself); it never stops the server.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Optional

LOG_LEVELS = ("error", "warning", "info", "debug")

_KEYS = {  # wire key -> (attribute, type, minimum, allowed values)
    "debounceMs": ("debounce_ms", int, 0, None),
    "interpreter": ("interpreter", str, None, None),
    "dynamicChecksOnSave": ("dynamic_on_save", bool, None, None),
    "samplesPerSubset": ("samples_per_subset", int, 0, None),  # 0 = all samples
    "timeoutSeconds": ("timeout_s", float, 0.1, None),
    "preprocessTimeoutSeconds": ("preprocess_timeout_s", float, 0.1, None),
    "memoryMb": ("memory_mb", int, 64, None),
    "logLevel": ("log_level", str, None, LOG_LEVELS),
    "trusted": ("trusted", bool, None, None),
    "authSecret": ("auth_secret", str, None, None),
}
_NULLABLE = ("interpreter", "auth_secret")  # None or "" = not set


@dataclass(frozen=True)
class Settings:
    debounce_ms: int = 100
    interpreter: Optional[str] = None  # the project interpreter the client chose (None: discover)
    dynamic_on_save: bool = False
    samples_per_subset: int = 5
    timeout_s: float = 30.0
    preprocess_timeout_s: float = 300.0
    memory_mb: int = 4096
    log_level: str = "info"
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
            attr, typ, minimum, allowed = spec
            if attr in _NULLABLE and value in (None, ""):
                changes[attr] = None
                continue
            ok = isinstance(value, typ) and not (typ is int and isinstance(value, bool))
            if typ is float and isinstance(value, int) and not isinstance(value, bool):
                ok, value = True, float(value)
            if ok and typ is float and value != value:  # NaN
                ok = False
            if ok and minimum is not None and value < minimum:
                ok = False
            if ok and allowed is not None and value not in allowed:
                ok = False
            if not ok:
                expected = " or ".join(allowed) if allowed else typ.__name__ + (
                    f" >= {minimum}" if minimum is not None else "")
                problems.append(f"ignored setting {key} ({type(value).__name__}): expected {expected}")
                continue
            changes[attr] = value
        return replace(self, **changes), problems


SETTING_NAMES = tuple(f.name for f in fields(Settings))
WIRE_KEYS = {key: spec[0] for key, spec in _KEYS.items()}
