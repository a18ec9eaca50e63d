"""Fixes for the advanced registrars (core/checks/registrars.py): create the companion the SDK asks for."""

from __future__ import annotations

import re

from tensorleap_ls.core.fixes import stubs
from tensorleap_ls.core.codes import MISSING_COMPANION
from tensorleap_ls.core.fixdata import Companion
from tensorleap_ls.core.fixes import fixer
from tensorleap_ls.core.fixes.edits import data_of, free_name, module
from tensorleap_ls.core.model import Finding, Fix


@fixer(MISSING_COMPANION)
def _missing_companion(f: Finding, pa) -> list[Fix]:
    """Creates the companion from the registrar table's stub, in the file of the finding."""
    d = data_of(f, Companion)
    mod = module(pa, f.span.path)
    if d is None or not d.missing or not d.name or mod is None:
        return []
    base = re.sub(r"\W", "_", f"{d.missing.removeprefix('tensorleap_')}_{d.name}")
    st = stubs.registrar_stub(d.missing, free_name(mod, base), d.name, d.shape)
    if st is None:
        return []
    edits = stubs.import_edits(f.span.path, mod.tree, mod.source.lines, set(st.names), set(st.decorators))
    edits.append(stubs.insert_code(f.span.path, mod.tree, mod.source.lines, st.code))
    return [Fix(f"Create `@{d.missing}({d.name!r})`", edits, preferred=True)]
