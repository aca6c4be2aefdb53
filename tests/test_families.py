"""Architecture families: every space's models map to families, derived spaces to their base's, and every
zoo network is scored under a family some space draws (so leaving it out removes something)."""

from __future__ import annotations

import pytest

from perfsage.spaces import get_space, space_names
from perfsage.spaces.families import FAMILIES, ZOO_FAMILIES, families_of, zoo_members
from perfsage.spaces.zoo import ZOO


def test_every_space_maps_to_known_families():
    seen: set[str] = set()
    for name in space_names():
        for seed in range(60 if name == "mixed" else 6):
            fams = families_of(name, get_space(name).sample(seed).arch)
            assert fams <= set(FAMILIES), (name, fams)
            assert fams or name == "randgraph", name
            seen |= fams
    assert set(ZOO_FAMILIES.values()) <= seen


def test_derived_spaces_take_their_base_family_and_mixed_its_stages():
    arch = get_space("compressed").sample(0).arch
    assert families_of("compressed", arch) == families_of(arch["base"]["space"], arch["base"]["arch"])
    mixed = get_space("mixed")
    stages = next(a for a in (mixed.sample(s).arch for s in range(50)) if a["kind"] == "cnn"
                  and any(st["family"] == "resnet_basic" for st in a["stages"]))
    assert "resnet" in families_of("mixed", stages) and "resnet_basic" not in families_of("mixed", stages)


def test_zoo_members():
    assert set(ZOO_FAMILIES) == set(ZOO)
    assert zoo_members("separable") == ["mlperf-tiny-dscnn", "mlperf-tiny-vww"]
    with pytest.raises(KeyError):
        zoo_members("transformer")
    with pytest.raises(KeyError):
        families_of("no-such-space", {})
