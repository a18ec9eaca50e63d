"""Fixes for 6xx (core/checks/model.py): the value the model file's facts call for."""

from __future__ import annotations

from tensorleap_ls.core.codes import CHANNEL_DIM_LAYOUT, MODEL_FEED_NAMES
from tensorleap_ls.core.fixdata import Replacement
from tensorleap_ls.core.fixes import fixer
from tensorleap_ls.core.fixes.edits import data_of
from tensorleap_ls.core.model import Finding, Fix, TextEdit


@fixer(MODEL_FEED_NAMES, CHANNEL_DIM_LAYOUT)
def _use_the_model_s(f: Finding, pa) -> list[Fix]:
    """Its input name (TL601), the channel axis of its layout (TL606)."""
    d = data_of(f, Replacement)
    new = d.replacement if d else None
    title = f"Use the model's input name {new}" if f.code == MODEL_FEED_NAMES else f"Use channel_dim={new}"
    return [Fix(title, [TextEdit(f.span, new)], preferred=True)] if new else []
