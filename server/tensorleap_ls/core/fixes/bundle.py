"""Fixes for 4xx: the bundle (core/checks/bundle.py: a file or data folder outside ``include``) and
leap.yaml's own findings (core/project/leap_yaml.py: a misspelt key, the python version)."""

from __future__ import annotations

import re

from tensorleap_ls.core.fixes import yaml_edit
from tensorleap_ls.core.codes import DATA_NOT_INCLUDED, NOT_INCLUDED, PYTHON_VERSION, YAML_UNKNOWN_KEY
from tensorleap_ls.core.fixdata import BundleGap, FilePath, UnknownKey
from tensorleap_ls.core.fixes import fixer
from tensorleap_ls.core.fixes.edits import data_of, lines
from tensorleap_ls.core.model import Finding, Fix, TextEdit


@fixer(DATA_NOT_INCLUDED)
def _include(f: Finding, pa) -> list[Fix]:
    d = data_of(f, FilePath)
    ly = getattr(pa, "leap_yaml", None)
    if d is None or not d.path or ly is None:
        return []
    edit = yaml_edit.add_to_include(ly, d.path)
    return [Fix(f"Add {d.path} to include in leap.yaml", [edit], preferred=True)] if edit else []


@fixer(NOT_INCLUDED)
def _include_modules(f: Finding, pa) -> list[Fix]:
    """The glob that brings every module back (a folder's ``**/*.py``: what was most likely removed), and
    every file added one by one; for one file, the file first."""
    d = data_of(f, BundleGap)
    ly = getattr(pa, "leap_yaml", None)
    if d is None or not d.paths or ly is None:
        return []
    out = []
    files = yaml_edit.add_all_to_include(ly, list(d.paths))
    one = len(d.paths) == 1
    if files:
        title = f"Add {d.paths[0]} to include in leap.yaml" if one else f"Add the {len(d.paths)} files to include in leap.yaml"
        out.append(Fix(title, [files], preferred=one))
    glob = yaml_edit.add_all_to_include(ly, list(d.globs)) if d.globs else None
    if glob and list(d.globs) != list(d.paths):
        which = ", ".join(d.globs)
        out.insert(0 if not one else 1, Fix(f"Restore the include glob {which} in leap.yaml "
                                            f"({'it covers' if one else 'covers all'} {len(d.paths)} "
                                            f"module{'' if one else 's'})", [glob], preferred=not one))
    return out


@fixer(YAML_UNKNOWN_KEY)
def _yaml_key(f: Finding, pa) -> list[Fix]:
    d = data_of(f, UnknownKey)
    hint = d.suggestion if d else None
    return [Fix(f"Rename to `{hint}`", [TextEdit(f.span, hint)], preferred=True)] if hint else []


@fixer(PYTHON_VERSION)
def _python_version(f: Finding, pa) -> list[Fix]:
    """The version the user wrote, spelt as the leap CLI wants it (``3.10`` -> ``py310``; YAML reads that
    value as the float 3.1, so the text is taken from the file); else the versions code-loader supports."""
    ls = lines(pa, f.span.path)
    written = ls[f.span.line][f.span.col:f.span.end_col] if f.span.line < len(ls) else ""
    m = re.search(r"3\.(\d{1,2})\b", written)
    if m and 8 <= int(m.group(1)) <= 12:
        value = f"py3{m.group(1)}"
        return [Fix(f"Use pythonVersion: {value}", [TextEdit(f.span, value)], preferred=True)]
    return [Fix(f"Use pythonVersion: {v}", [TextEdit(f.span, v)]) for v in ("py38", "py39", "py310", "py311", "py312")]
