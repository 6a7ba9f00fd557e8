"""External validation across labs: train on one screen's cell lines, predict another lab's screen.

(a) GDSC → PRISM: train on GDSC cell lines that PRISM did not screen, predict the PRISM cell lines, and correlate the
    predicted response to the GDSC drug with the PRISM-measured response to the same compound.
(b) PRISM → GDSC (the paper's direction): train on all PRISM cell lines, predict GDSC cell lines that PRISM did not
    screen.
Either way the training and test cell lines are disjoint; the cell lines both labs screened stay on the PRISM side.
Shared compounds are matched on normalised name/synonyms; a compound in several GDSC entries (GDSC1 and GDSC2) is
scored against each pair and the pairs are reported individually.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from neurix_core.data.dataset import ResponseData
from neurix_core.data.drugs import shared_drugs
from neurix_core.train.cv import Predictor
from neurix_core.train.metrics import per_drug_spearman, summarise_rho


def _transfer(
    data: ResponseData,
    predictor: Predictor,
    source: list[str],
    target: list[str],
    pairs: pd.DataFrame,
    flip: bool,
) -> tuple[pd.DataFrame, dict]:
    """Train on ``source`` screens, score on ``target``; ``flip`` when the source is PRISM (pairs are GDSC→PRISM)."""
    source_drugs, target_drugs = data.screen_mask(source), data.screen_mask(target)
    tested_source = np.isfinite(data.log_auc[:, source_drugs]).any(axis=1)
    tested_target = np.isfinite(data.log_auc[:, target_drugs]).any(axis=1)
    if flip:  # PRISM → GDSC: every PRISM line trains; GDSC lines that PRISM also screened are not tested
        train_cells, test_cells = tested_source, tested_target & ~tested_source
    else:  # GDSC → PRISM: GDSC lines that PRISM also screened are not trained on
        train_cells, test_cells = tested_source & ~tested_target, tested_target
    train = data.select(cells=train_cells, drugs=source_drugs)
    test = data.select(cells=test_cells, drugs=np.ones(len(data.drugs), dtype=bool))
    predicted = predictor(train, test.select(drugs=source_drugs))
    column = {key: i for i, key in enumerate(train.drugs["drug_key"])}
    keys = {key: i for i, key in enumerate(data.drugs["drug_key"])}
    source_col, target_col = ("drug_key_b", "drug_key_a") if flip else ("drug_key_a", "drug_key_b")
    pairs = pairs[pairs[source_col].isin(column) & pairs[target_col].isin(keys)].reset_index(drop=True)
    if pairs.empty:
        return pd.DataFrame(columns=["source_drug", "target_drug", "drug_name", "rho", "n_cell_lines"]), {}
    pred = predicted[:, [column[k] for k in pairs[source_col]]]
    measured = test.log_auc[:, [keys[k] for k in pairs[target_col]]]
    table = pd.DataFrame(
        {
            "source_drug": pairs[source_col],
            "target_drug": pairs[target_col],
            "drug_name": pairs["drug_name"],
            "rho": per_drug_spearman(pred, measured),
            "n_cell_lines": (np.isfinite(pred) & np.isfinite(measured)).sum(axis=0),
        }
    )
    drug_class = (
        data.drugs.set_index("drug_key").loc[table["target_drug"], "drug_class"].reset_index(drop=True)
    )
    summary = summarise_rho(table["rho"], drug_class)
    summary["n_train_cell_lines"] = len(train.cell_lines)
    summary["n_test_cell_lines"] = len(test.cell_lines)
    return table, summary


def external_validation(data: ResponseData, predictor: Predictor) -> dict[str, tuple[pd.DataFrame, dict]]:
    """Both directions, on a ResponseData holding GDSC1/GDSC2 and PRISM."""
    gdsc = ["GDSC1", "GDSC2"]
    pairs = pd.concat([shared_drugs(data.drugs, screen, "PRISM") for screen in gdsc], ignore_index=True)
    return {
        "gdsc_to_prism": _transfer(data, predictor, gdsc, ["PRISM"], pairs, flip=False),
        "prism_to_gdsc": _transfer(data, predictor, ["PRISM"], gdsc, pairs, flip=True),
    }
