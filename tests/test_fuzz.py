"""A few hundred random GLM problems, each against an independent reference (tests/fuzz_cases).

The bar of issue 20: no silent mismatch, no crash, no spurious refusal. ``make fuzz`` runs
10,000 cases and prints the counts (benchmarks/fuzz.py).
"""

from __future__ import annotations

import collections

import pytest

from tests.fuzz_cases import classify, make_case

SEEDS = {20: 240, 21: 60}
BAD = ("silent mismatch", "crash", "spurious refusal")


@pytest.mark.parametrize("seed", sorted(SEEDS))
def test_fuzz_cases_have_no_silent_mismatch_crash_or_spurious_refusal(seed: int) -> None:
    outcomes = [classify(make_case(seed, k)) for k in range(SEEDS[seed])]
    counts = collections.Counter(o.klass for o in outcomes)
    bad = [
        (o.case.seed, o.case.family, o.case.link, o.case.X.shape, o.case.traits, o.klass, o.detail)
        for o in outcomes
        if o.klass in BAD
    ]
    assert bad == [], counts
    assert counts["agree"] > 0.7 * SEEDS[seed]
    assert counts["both flag"] > 0  # the generator does make separated / non-existent cases


def test_the_generator_covers_the_issue_classes() -> None:
    traits = collections.Counter(t for k in range(300) for t in make_case(20, k).traits)
    for trait in (
        "near-collinear",
        "large mean, small spread",
        "rare factor level",
        "scales 1e-6..1e6",
        "weights",
        "zero weights",
        "heavy weights",
        "grouped",
        "separated",
        "rare events",
        "huge counts",
    ):
        assert traits[trait] > 0, trait
    families = collections.Counter(
        (c.family, c.link) for c in map(lambda k: make_case(20, k), range(300))
    )
    assert len(families) == 5
