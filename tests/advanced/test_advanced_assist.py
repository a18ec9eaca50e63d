"""Hover, completion and the checklist lens know the advanced registrars and their companions (from the
registrar table)."""

from __future__ import annotations

from pathlib import Path

from tensorleap_ls.core.engine.analysis import Analyzer
from tensorleap_ls.core.assist import complete, hover
from tensorleap_ls.core.sdk.bundled import DECORATORS, LEGACY
from tensorleap_ls.core.assist import checklist

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "advanced" / "detection"
ADVANCED = [n for n, r in DECORATORS.items() if r.advanced]


def _bindings():
    return Analyzer().analyze_path(str(FIXTURE))[0].bindings


def test_hover_on_every_advanced_registrar_gives_its_contract_and_companions():
    for name in ADVANCED:
        text = hover(name, [])
        reg = DECORATORS[name]
        assert reg.doc and reg.doc in text, name
        for companion in reg.companions:
            assert f"`{companion}`" in text, (name, companion)
    # a legacy method shows its decorator's contract
    assert DECORATORS["tensorleap_instances_masks_encoder"].doc in hover("set_instance_masks", [])


def test_hover_on_a_binding_shows_its_companions_present_or_missing():
    bindings = _bindings()
    assert "`tensorleap_false_positive_empty_gt` ✓" in hover("false_positives", bindings)
    without = [b for b in bindings if b.function != "empty_objects"]
    assert "`tensorleap_false_positive_empty_gt` ✗" in hover("false_positives", without)
    assert "instance_id" in hover("object_mask", bindings)


def test_decorator_completion_offers_the_advanced_registrars_with_their_arguments():
    items = {i.label: i for i in complete("@tensorleap_", 12, [])}
    assert set(ADVANCED) <= set(items)
    assert items["tensorleap_simulation"].insert.startswith("tensorleap_simulation('${1:name}', {'scale':")
    assert items["tensorleap_false_positive_empty_gt"].insert == "tensorleap_false_positive_empty_gt('${1:name}')"
    # from their stubs: the autoregressive hooks and the element-instance preprocess (its encoders as placeholders)
    assert items["tensorleap_element_instance_preprocess"].insert == (
        "tensorleap_element_instance_preprocess(instance_length_encoder=${1:instances_length_encoder}, "
        "instance_mask_encoder=${2:instances_masks_encoder})")
    assert items["tensorleap_autoregressive_metric"].insert == (
        "tensorleap_autoregressive_metric('${1:name}', direction=MetricDirection.Downward)")
    assert items["tensorleap_autoregressive_step"].insert == (
        "tensorleap_autoregressive_step(latent_space_aggregation='last_step')")
    legacy = {i.label for i in complete("leap_binder.", 12, [])}
    assert {n for n, r in LEGACY.items() if r.twin} <= legacy


def test_checklist_counts_the_advanced_kinds_and_names_a_missing_companion():
    bindings = _bindings()
    lens = checklist(bindings)
    assert "simulation 1" in lens and "false positive 3" in lens and "custom latent space 2" in lens
    assert "needs" not in lens
    lens = checklist([b for b in bindings if b.function != "empty_objects"])
    assert "false_positive_instances_encoder needs false_positive_empty_gt ✗" in lens
