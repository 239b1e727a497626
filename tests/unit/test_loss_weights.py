"""Loss weights by term name: one meaning in every mode, Table I's alpha / beta / gamma as aliases, and
configs written before the names read the same."""
from __future__ import annotations

import pytest

from pipeline.config import LOSS_TERMS, load_dataset, named_weights
from training.options import OptionsError, RunOptions
from training.recipes import RECIPES
from training.run.config import resolve_options

UTD = "synthetic-utd-mhad"


def test_an_alias_sets_every_term_it_stands_for_and_a_named_term_wins():
    start = dict.fromkeys(LOSS_TERMS, 1.0)
    weights = named_weights({"beta": 0.5, "angle": 2.0, "alpha": 0.1}, start)
    assert weights == {"st": 0.1, "gsdm": 0.5, "distance": 0.5, "angle": 2.0, "semantic": 1.0}
    with pytest.raises(ValueError, match="unknown loss weight sp"):
        named_weights({"sp": 1.0})


def test_every_weighted_term_of_every_recipe_is_a_named_loss_weight():
    terms = {t for recipe in RECIPES.values() for t in recipe.ablatable} - {"spamfm"}
    assert terms <= set(LOSS_TERMS)
    assert set(load_dataset("berkeley-mhad").loss_weights) == set(LOSS_TERMS)


@pytest.mark.parametrize("mode", list(RECIPES))
def test_weights_and_aliases_resolve_the_same_in_every_mode(mode):
    named = resolve_options(UTD, mode, weights={"st": 1.0, "semantic": 0.0})
    aliased = resolve_options(UTD, mode, alpha=1.0, gamma=0.0)
    assert named.weights == aliased.weights and named.weights["st"] == 1.0 and named.weights["semantic"] == 0.0
    assert named.weights["gsdm"] == load_dataset(UTD).loss_weights["gsdm"]
    with pytest.raises(OptionsError, match="--weight: unknown loss weight kd"):
        resolve_options(UTD, mode, weights={"kd": 1.0})


def test_a_config_written_with_table_i_names_reads_as_named_weights():
    saved = resolve_options(UTD, "sensor2vision", ablate=("semantic",)).to_dict()
    del saved["weights"]
    saved.update(alpha=0.3, beta=0.2, gamma=0.0, ablate=["sp"])
    old = RunOptions.from_dict(saved)
    assert old.weights == {"st": 0.3, "gsdm": 0.2, "distance": 0.2, "angle": 0.2, "semantic": 0.0}
    assert old.ablate == ("semantic",)
