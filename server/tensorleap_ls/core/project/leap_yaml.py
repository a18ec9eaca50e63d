"""leap.yaml: parsed with positions (PyYAML's node marks), checked against the schema the
``leap`` CLI reads, and asked which files the upload bundle holds.

``parse_leap_yaml`` never raises: any problem becomes a finding (TL401 parse error, TL402
unknown key, TL403 no entryFile, TL409 pythonVersion, TL410 legacy key, TL411 not a
mapping, TL412 wrong value type).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field, fields
from typing import Any

from tensorleap_ls.core import lazy
from tensorleap_ls.core.fixdata import UnknownKey, YamlValue
from tensorleap_ls.core.model import Finding, Severity, Span
from tensorleap_ls.core.codes import (
    PYTHON_VERSION, YAML_BAD_VALUE, YAML_LEGACY_KEY, YAML_NOT_MAPPING, YAML_NO_ENTRY, YAML_PARSE, YAML_UNKNOWN_KEY,
)

KNOWN_KEYS = ("projectId", "secretId", "entryFile", "include", "exclude", "pythonVersion", "branch")
LEGACY_KEYS = ("codeIntegrationId", "secretManagerId")  # keys of older leap CLIs (an empty `secretManagerId: ""` is common)
_PY_VERSION = re.compile(r"^py3\d{1,2}$")
# Imported when a text is parsed or a glob matched that the persistent cache does not know (a second `check` of
# an unchanged project reads both from it: engine/store.Store.fact).
yaml = lazy.Module("yaml")
wglob = lazy.Module("wcmatch.glob")


@dataclass
class LeapYaml:
    path: str
    text: str
    data: dict | None = None
    entry_file: str | None = None
    include: list[str] | None = None
    exclude: list[str] | None = None
    python_version: str | None = None
    key_spans: dict[str, Span] = field(default_factory=dict)
    value_spans: dict[str, Span] = field(default_factory=dict)
    include_items: list[tuple[str, Span]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    _bundled: dict[str, bool] = field(default_factory=dict, repr=False, compare=False)
    _store: Any = field(default=None, repr=False, compare=False)  # the persistent cache the answers are kept in
    _saved: int = field(default=-1, repr=False, compare=False)  # how many answers it holds (-1: not read yet)
    _variants: dict = field(default_factory=dict, repr=False, compare=False)

    def variant(self, include: list[str] | None, exclude: list[str] | None, entry_file: str | None) -> "LeapYaml":
        """The bundle with other globs (the bundle check's what-if questions), its answers stored like this one's."""
        key = json.dumps([include, exclude, entry_file])
        other = self._variants.get(key)
        if other is None:
            other = self._variants[key] = LeapYaml(path=self.path, text="", include=include, exclude=exclude,
                                                   entry_file=entry_file, _store=self._store)
        return other

    def bundles(self, relpath: str) -> bool:
        """Is this root-relative path uploaded? Empty/absent include means everything; the entry is always added.
        (Once per path: the LeapYaml lives as long as its text, and every analysis asks for every module; with a
        persistent cache, the answers of the last run are read back and wcmatch is not imported.)"""
        if self._saved < 0 and self._store is not None:
            self._read_answers()
        hit = self._bundled.get(relpath)
        if hit is None:
            hit = self._bundled[relpath] = self._bundles(relpath)
        return hit

    def _answers_key(self) -> str:
        from tensorleap_ls.core.engine.store import library_stamp

        return json.dumps([library_stamp("wcmatch"), self.entry_file, self.include, self.exclude])

    def _read_answers(self) -> None:
        from tensorleap_ls.core.engine.store import MISSING

        stored = self._store.fact("bundles", self._answers_key())
        if stored is not MISSING and isinstance(stored, dict) and all(v.__class__ is bool for v in stored.values()):
            self._bundled = {**stored, **self._bundled}
            self._saved = len(stored)
        else:
            self._saved = 0

    def persist(self) -> None:
        """Keeps the answers ``bundles`` computed in the persistent cache (when there are new ones)."""
        if self._store is not None and len(self._bundled) > max(self._saved, 0):
            self._store.put_fact("bundles", self._answers_key(), dict(self._bundled))
            self._saved = len(self._bundled)
        for other in self._variants.values():
            other.persist()

    def _bundles(self, relpath: str) -> bool:
        relpath = relpath.replace("\\", "/")
        if self.entry_file and relpath == self.entry_file.lstrip("./"):
            return True
        included = not self.include or _matches(relpath, self.include)
        if not included:
            return False
        return not _matches(relpath, self.exclude or [])

    def anchor(self, key: str | None = None) -> Span:
        if key and key in self.key_spans:
            return self.key_spans[key]
        return Span.point(self.path)


@functools.lru_cache(maxsize=256)
def _matcher(pattern: str):
    """A glob compiled once (``globmatch`` compiles its pattern on every call: 300 compiles per analysis of a
    100-module project)."""
    flags = wglob.GLOBSTAR | wglob.DOTGLOB
    compile_ = getattr(wglob, "compile", None)  # wcmatch >= 8.4
    if compile_ is None:
        return lambda path: wglob.globmatch(path, pattern, flags=flags)
    return compile_(pattern, flags=flags).match


def _matches(relpath: str, patterns: list[str]) -> bool:
    return any(_matcher(p)(relpath) for p in patterns)


def _span(path: str, node: yaml.Node) -> Span:
    s, e = node.start_mark, node.end_mark
    if e.line > s.line and e.column == 0:  # block values end at the start of the next line
        return Span(path, s.line, s.column, s.line, s.column + max(1, len(str(getattr(node, "value", "")))))
    return Span(path, s.line, s.column, e.line, e.column)


def parse_leap_yaml(path: str, text: str, store=None) -> LeapYaml:
    """``store``: the persistent cache (engine/store.py), where the result is kept by path and text."""
    if store is None:
        return _parse(path, text)
    from tensorleap_ls.core.engine.store import MISSING, library_stamp

    key = "\0".join((library_stamp("yaml"), path, text))
    stored = store.fact("leap_yaml", key)
    ly = _restored(stored, path, text) if stored is not MISSING else None
    if ly is None:
        ly = _parse(path, text)
        encoded = _encoded(ly)
        if encoded is not None:
            store.put_fact("leap_yaml", key, encoded)
    ly._store = store
    return ly


# --- leap.yaml in the persistent cache ------------------------------------------------------------
_FIX_DATA = {"UnknownKey": UnknownKey, "YamlValue": YamlValue}  # the Finding.data this module gives


def _encoded(ly: LeapYaml) -> dict | None:
    """``ly`` as JSON, or None when some part would not come back the same (such a text is parsed each run)."""
    from tensorleap_ls.core.engine.store import json_exact

    spans = [*ly.key_spans.values(), *ly.value_spans.values(), *(s for _, s in ly.include_items),
             *(f.span for f in ly.findings)]
    if any(s.path != ly.path for s in spans):
        return None
    findings = []
    for f in ly.findings:
        if f.related or (f.data is not None and _FIX_DATA.get(type(f.data).__name__) is not type(f.data)):
            return None
        data = None if f.data is None else [type(f.data).__name__, *(getattr(f.data, k.name) for k in fields(f.data))]
        findings.append([f.code, f.message, _span_list(f.span), None if f.severity is None else int(f.severity), data])
    try:
        if not json_exact(ly.data):
            return None
    except RecursionError:
        return None
    return {"data": ly.data, "entry_file": ly.entry_file, "include": ly.include, "exclude": ly.exclude,
            "python_version": ly.python_version,
            "key_spans": {k: _span_list(v) for k, v in ly.key_spans.items()},
            "value_spans": {k: _span_list(v) for k, v in ly.value_spans.items()},
            "include_items": [[t, _span_list(s)] for t, s in ly.include_items], "findings": findings}


def _span_list(span: Span) -> list:
    return [span.line, span.col, span.end_line, span.end_col]


def _restored(d, path: str, text: str) -> LeapYaml | None:
    """The LeapYaml ``_encoded`` stored (None when the entry does not have that shape)."""
    def span(v) -> Span:
        return Span(path, *v)

    try:
        ly = LeapYaml(path=path, text=text, data=d["data"], entry_file=d["entry_file"], include=d["include"],
                      exclude=d["exclude"], python_version=d["python_version"],
                      key_spans={k: span(v) for k, v in d["key_spans"].items()},
                      value_spans={k: span(v) for k, v in d["value_spans"].items()},
                      include_items=[(t, span(s)) for t, s in d["include_items"]])
        for code, message, where, severity, data in d["findings"]:
            fix = None if data is None else _FIX_DATA[data[0]](*data[1:])
            ly.findings.append(Finding(code, message, span(where), None if severity is None else Severity(severity),
                                       data=fix))
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        return None
    return ly


def _parse(path: str, text: str) -> LeapYaml:
    ly = LeapYaml(path=path, text=text)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line, mark.column) if mark else (0, 0)
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        line = min(line, len(lines) - 1)
        width = len(lines[line])
        col = min(col, width)
        ly.findings.append(Finding(YAML_PARSE, f"leap.yaml does not parse: {e.problem or e}"
                                   + (" (tabs cannot indent YAML)" if "\t" in text else ""),
                                   Span(path, line, col, line, min(col + 1, width))))
        return ly
    except (yaml.YAMLError, ValueError, RecursionError) as e:
        ly.findings.append(Finding(YAML_PARSE, f"leap.yaml does not parse: {e}", Span.point(path)))
        return ly
    if not isinstance(root, yaml.MappingNode) or not isinstance(data, dict):
        what = "empty" if data is None else f"a {type(data).__name__}, not a mapping"
        ly.findings.append(Finding(YAML_NOT_MAPPING, f"leap.yaml is {what}: it must map keys such as `entryFile` and `include`.",
                                   Span.point(path)))
        return ly
    ly.data = data
    for key_node, value_node in root.value:
        key = key_node.value
        ly.key_spans[str(key)] = _span(path, key_node)
        ly.value_spans[str(key)] = _span(path, value_node)
        if key in LEGACY_KEYS:
            ly.findings.append(Finding(YAML_LEGACY_KEY, f"`{key}` is obsolete: the leap CLI ignores it and drops it on rewrite.",
                                       ly.key_spans[str(key)]))
        elif key not in KNOWN_KEYS:
            hint = _closest(str(key))
            ly.findings.append(Finding(YAML_UNKNOWN_KEY, f"Unknown leap.yaml key `{key}`" + (f"; did you mean `{hint}`?" if hint else ".")
                                       + " The leap CLI drops unknown keys.", ly.key_spans[str(key)],
                                       data=UnknownKey(str(key), hint)))
        if key in ("include", "exclude") and isinstance(value_node, yaml.SequenceNode):
            for item in value_node.value:
                if key == "include" and isinstance(item, yaml.ScalarNode):
                    ly.include_items.append((item.value, _span(path, item)))
    _typed(ly, data)
    return ly


def _typed(ly: LeapYaml, data: dict[str, Any]) -> None:
    def bad(key: str, expected: str) -> None:
        ly.findings.append(Finding(YAML_BAD_VALUE, f"`{key}` must be {expected}, got {type(data[key]).__name__}.",
                                   ly.value_spans.get(key, ly.anchor(key))))

    entry = data.get("entryFile")
    if "entryFile" not in data or entry is None or (isinstance(entry, str) and not entry.strip()):
        ly.findings.append(Finding(YAML_NO_ENTRY, "leap.yaml has no `entryFile`: `leap push` fails without it.",
                                   ly.anchor("entryFile") if "entryFile" in data else Span.point(ly.path)))
    elif not isinstance(entry, str):
        bad("entryFile", "a path (string)")
    else:
        ly.entry_file = entry.strip()
    for key in ("include", "exclude"):
        if key not in data or data[key] is None:
            continue
        val = data[key]
        if not isinstance(val, list) or not all(isinstance(v, str) for v in val):
            bad(key, "a list of glob strings")
        else:
            setattr(ly, key, list(val))
    pv = data.get("pythonVersion")
    if pv is not None:
        if not isinstance(pv, str) or not _PY_VERSION.match(pv):
            ly.findings.append(Finding(PYTHON_VERSION, f"`pythonVersion: {pv}` should look like `py38`, `py310` or `py311` "
                                       "(the leap CLI silently ignores other values).",
                                       ly.value_spans.get("pythonVersion", ly.anchor("pythonVersion")),
                                       data=YamlValue(str(pv))))
        else:
            ly.python_version = pv
    for key in ("projectId", "secretId", "branch"):
        if data.get(key) is not None and not isinstance(data[key], str):
            bad(key, "a string")


def _closest(key: str) -> str | None:
    import difflib

    match = difflib.get_close_matches(key, KNOWN_KEYS, n=1, cutoff=0.6)
    if match:
        return match[0]
    low = key.lower().replace("_", "").replace("-", "")
    for k in KNOWN_KEYS:
        if k.lower() == low:
            return k
    return None
