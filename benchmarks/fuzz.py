"""Fuzz run (``make fuzz``): random GLM problems against an independent reference, class counts.

Usage::

    python benchmarks/fuzz.py                     # seed 0, 10,000 cases
    python benchmarks/fuzz.py --seed 3 --cases 2000 --statsmodels

Every case is generated and classified by ``tests/fuzz_cases.py`` (agree, both flag, silent
mismatch, crash, spurious refusal); the table gives the counts by family/link and the cases of
the three bad classes. ``--statsmodels`` also fits each case with statsmodels' GLM and counts
where its coefficients (1e-4 SE) or standard errors (1e-6 relative) differ from the reference.
Exit status 1 when any case is in a bad class.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fuzz_cases import CLASSES, classify, make_case, reference  # noqa: E402

BAD = ("silent mismatch", "crash", "spurious refusal")


def statsmodels_class(case) -> str:
    import statsmodels.api as sm

    links = sm.families.links
    family = {
        ("binomial", "logit"): sm.families.Binomial(links.Logit()),
        ("binomial", "probit"): sm.families.Binomial(links.Probit()),
        ("binomial", "cloglog"): sm.families.Binomial(links.CLogLog()),
        ("poisson", "log"): sm.families.Poisson(),
        ("gaussian", "identity"): sm.families.Gaussian(),
    }[(case.family, case.link)]
    ref = reference(case)
    X = np.column_stack([np.ones(len(case.y)), case.X])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = sm.GLM(
                case.y, X, family=family, var_weights=case.weights, offset=case.offset
            ).fit(tol=1e-12, maxiter=200)
    except Exception:  # noqa: BLE001
        return "statsmodels error"
    if not ref.exists:
        return "no MLE"
    with np.errstate(all="ignore"):
        coef = np.max(np.abs(res.params - ref.coef) / ref.std_err)
        se = np.max(np.abs(res.bse - ref.std_err) / ref.std_err)
    if not (coef < 1e-4 and se < 1e-6):
        return "statsmodels differs"
    return "statsmodels agrees"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cases", type=int, default=10_000)
    p.add_argument("--statsmodels", action="store_true")
    args = p.parse_args()
    started = time.perf_counter()
    counts: collections.Counter[str] = collections.Counter()
    by_family: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    sm_counts: collections.Counter[str] = collections.Counter()
    bad = []
    for k in range(args.cases):
        case = make_case(args.seed, k)
        out = classify(case)
        counts[out.klass] += 1
        by_family[f"{case.family}-{case.link}"][out.klass] += 1
        if out.klass in BAD:
            bad.append(out)
        if args.statsmodels:
            sm_counts[statsmodels_class(case)] += 1
    seconds = time.perf_counter() - started
    print(f"# fuzz: seed {args.seed}, {args.cases} cases, {seconds:.0f} s")
    print("| family-link | " + " | ".join(CLASSES) + " |")
    print("|---|" + "--:|" * len(CLASSES))
    for fam in sorted(by_family):
        print(f"| {fam} | " + " | ".join(str(by_family[fam][c]) for c in CLASSES) + " |")
    print("| **all** | " + " | ".join(str(counts[c]) for c in CLASSES) + " |")
    if args.statsmodels:
        print("\nstatsmodels against the same reference:", dict(sm_counts))
    for out in bad:
        c = out.case
        print(
            f"{out.klass}: case {c.seed} {c.family}-{c.link} {c.X.shape} {c.traits}: {out.detail}"
        )
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
