"""Uses of fitted models: the summary, plots, model comparisons and solver comparisons.

Everything here reads fitted estimators (their ``result_``) and renders or compares them; it
never refits a model except through the estimators' own ``fit`` (``compare_solvers``).
"""
