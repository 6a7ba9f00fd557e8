"""Complete a bundle's drug table with what users see per drug: compound id and name, curated class, and the
drug's training distribution of log AUC (to turn a predicted z back into an AUC).

Why one function: training (``neurix train``) stores these columns in the bundle's ``drugs.csv``, and loading an
older bundle that lacks them derives the same columns here, so every bundle serves compound-level results. Classes
are always re-derived, so a corrected override table applies without retraining.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from neurix_core.data.compounds import compound_ids, compound_names
from neurix_core.data.drug_classes import curated_classes


def complete_drug_table(
    drugs: pd.DataFrame, log_auc_mean: np.ndarray | None = None, log_auc_sd: np.ndarray | None = None
) -> pd.DataFrame:
    """The drug table plus compound_id, compound_name, curated drug_class/class_reason, log_auc_mean/sd.

    ``log_auc_mean``/``log_auc_sd`` are the per-drug target scaler of the model (natural log of AUC over the
    training cell lines); existing columns are kept when they are not given.
    """
    drugs = drugs.copy()
    for column in ("synonyms", "targets", "moa", "pathway", "disease_area"):
        if column not in drugs.columns:
            drugs[column] = ""
    drugs["compound_id"] = compound_ids(drugs)
    drugs["compound_name"] = compound_names(drugs)
    classes = curated_classes(drugs)
    drugs["drug_class"], drugs["class_reason"] = classes["drug_class"], classes["class_reason"]
    if log_auc_mean is not None and log_auc_sd is not None:
        drugs["log_auc_mean"] = np.asarray(log_auc_mean, dtype=np.float64)
        drugs["log_auc_sd"] = np.asarray(log_auc_sd, dtype=np.float64)
    return drugs
