"""Explanations of Neurix predictions: LRP gene relevances per (profile, drug) and cohort summaries per
drug."""

from neurix_core.explain.cohort import (
    NEUTRAL,
    RESISTANCE,
    SENSITISING,
    cohort_relevance,
    drug_relevance_matrix,
    summarise_cohort,
)
from neurix_core.explain.lrp import (
    DEFAULT_GAMMA,
    InteractionLRP,
    gamma_composite,
    relevance_frame,
)

__all__ = [
    "DEFAULT_GAMMA",
    "NEUTRAL",
    "RESISTANCE",
    "SENSITISING",
    "InteractionLRP",
    "cohort_relevance",
    "drug_relevance_matrix",
    "gamma_composite",
    "relevance_frame",
    "summarise_cohort",
]
