"""leap.yaml: parsed with positions (PyYAML's node marks), checked against the schema the
``leap`` CLI reads, and asked which files the upload bundle holds.

``parse_leap_yaml`` never raises: any problem becomes a finding (TL401 parse error, TL402
unknown key, TL403 no entryFile, TL409 pythonVersion, TL410 legacy key, TL411 not a
mapping, TL412 wrong value type).
"""

from __future__ import annotations

import functools

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from wcmatch import glob as wglob

from tensorleap_ls.core.fixdata import UnknownKey, YamlValue
from tensorleap_ls.core.model import Finding, Span
from tensorleap_ls.core.codes import (
    PYTHON_VERSION, YAML_BAD_VALUE, YAML_LEGACY_KEY, YAML_NOT_MAPPING, YAML_NO_ENTRY, YAML_PARSE, YAML_UNKNOWN_KEY,
)

KNOWN_KEYS = ("projectId", "secretId", "entryFile", "include", "exclude", "pythonVersion", "branch")
LEGACY_KEYS = ("codeIntegrationId", "secretManagerId")  # keys of older leap CLIs (an empty `secretManagerId: ""` is common)
_PY_VERSION = re.compile(r"^py3\d{1,2}$")
_GLOB_FLAGS = wglob.GLOBSTAR | wglob.DOTGLOB


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

    def bundles(self, relpath: str) -> bool:
        """Is this root-relative path uploaded? Empty/absent include means everything; the entry is always added.
        (Once per path: the LeapYaml lives as long as its text, and every analysis asks for every module.)"""
        hit = self._bundled.get(relpath)
        if hit is None:
            hit = self._bundled[relpath] = self._bundles(relpath)
        return hit

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
    compile_ = getattr(wglob, "compile", None)  # wcmatch >= 8.4
    if compile_ is None:
        return lambda path: wglob.globmatch(path, pattern, flags=_GLOB_FLAGS)
    return compile_(pattern, flags=_GLOB_FLAGS).match


def _matches(relpath: str, patterns: list[str]) -> bool:
    return any(_matcher(p)(relpath) for p in patterns)


def _span(path: str, node: yaml.Node) -> Span:
    s, e = node.start_mark, node.end_mark
    if e.line > s.line and e.column == 0:  # block values end at the start of the next line
        return Span(path, s.line, s.column, s.line, s.column + max(1, len(str(getattr(node, "value", "")))))
    return Span(path, s.line, s.column, e.line, e.column)


def parse_leap_yaml(path: str, text: str) -> LeapYaml:
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
