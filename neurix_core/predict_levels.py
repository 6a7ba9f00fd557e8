"""Compound-level predictions: one row per (sample, compound) from the screen-level rows of ``prediction_table``.

Why: GDSC screens many compounds in both GDSC1 and GDSC2 (and some twice in GDSC1), so the model has 697 screen
entries for ~537 compounds. A clinician needs one answer per compound, with the screen entries one click away.

**Consensus rule** (documented in the README): for each (sample, compound), the chosen entry is the
*reliability-weighted median* of its screen entries' predicted z — the entry that minimises Σ_j w_j·|z − z_j|, with
weight w = max(cross-validated ρ, 0.01) (ties: GDSC2, then more cell lines screened). With two entries this is the
more reliable one; with three or more an entry that disagrees with the others cannot win alone. The compound row
carries **all columns of the chosen entry** (z, predicted AUC, ρ, and whatever per-entry trust columns the
prediction table has, such as percentile, interval_low/high, in_domain, domain_distance, hit_rate), so every number
in a row belongs to one screen entry and stays coherent; ``n_entries``, ``z_min``/``z_max`` and ``entries`` show
how far the screen entries agree.

Absolute effect: ``predicted_auc`` = exp(log_auc_mean + z·log_auc_sd), the drug's training distribution of
log AUC (the model's target scaler) turned back into an AUC (GDSC: 1 = no killing over the tested doses).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

LEVELS = ("compound", "screen")
# Output columns of ``neurix predict`` at each level (documented in the README; extra trust columns follow).
SCREEN_COLUMNS = [
    "sample",
    "compound_id",
    "drug_name",
    "screen",
    "drug_id",
    "drug_key",
    "drug_class",
    "z_log_auc",
    "predicted_auc",
    "cv_rho",
    "rank",
]
COMPOUND_COLUMNS = [
    "sample",
    "compound_id",
    "drug_name",
    "drug_class",
    "z_log_auc",
    "predicted_auc",
    "cv_rho",
    "rank",
    "n_entries",
    "z_min",
    "z_max",
    "screen",
    "drug_id",
    "drug_key",
    "entries",
]
MIN_WEIGHT = 0.01


def add_drug_columns(table: pd.DataFrame, drugs: pd.DataFrame) -> pd.DataFrame:
    """Add compound_id and predicted_auc (when the drug table has the log-AUC scale) to screen-level rows.

    One hash lookup of the drug keys, then array takes (a cohort partition has ~700 rows per sample).
    """
    table = table.copy()
    # -1: a key the drug table lacks (NaN, as ``map``)
    codes = pd.Index(drugs["drug_key"]).get_indexer(table["drug_key"])
    table["compound_id"] = drugs["compound_id"].array.take(codes, allow_fill=True)
    table["predicted_auc"] = predicted_auc(drugs, codes, table["z_log_auc"].to_numpy(dtype=np.float64))
    return table


def predicted_auc(drugs: pd.DataFrame, rows: np.ndarray, z: np.ndarray) -> np.ndarray:
    """exp(log_auc_mean + z·log_auc_sd) of drug-table rows ``rows`` (-1: a drug the table lacks → NaN); all NaN
    when the drug table has no log-AUC scale."""
    if not {"log_auc_mean", "log_auc_sd"} <= set(drugs.columns):
        return np.full(len(z), np.nan)
    return np.exp(_take_float(drugs["log_auc_mean"], rows) + z * _take_float(drugs["log_auc_sd"], rows))


def _take_float(column: pd.Series, codes: np.ndarray) -> np.ndarray:
    values = np.append(column.to_numpy(dtype=np.float64), np.nan)  # codes of -1 read the trailing NaN
    return values[codes]


def entry_label(screen: object, drug_id: object) -> str:
    return f"{screen} #{drug_id}"


def _preference(drugs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per drug: consensus weight and a tie-break score (GDSC2 first, then more cell lines screened)."""
    weight = drugs["cv_rho"].astype(float).fillna(0.0).clip(lower=MIN_WEIGHT).to_numpy()
    cells = drugs["n_cell_lines"].astype(float).fillna(0.0) if "n_cell_lines" in drugs else 0.0
    tie = (drugs["screen"] == "GDSC2").to_numpy() * 1e6 + np.asarray(cells, dtype=float)
    return weight, tie


@dataclass(frozen=True)
class _DrugLayout:
    """What the consensus needs from the drug table alone: the same for every upload to a loaded model."""

    keys: pd.Index  # drug_key, in drug-table order
    weight: np.ndarray
    tie: np.ndarray
    labels: np.ndarray  # "GDSC2 #1003" per entry
    groups: list[np.ndarray]  # entry positions per compound, in order of first appearance
    names: pd.Series  # compound_id → compound_name
    first: np.ndarray  # per compound: drug-table position of its first entry


_LAYOUTS: dict[int, tuple[int, _DrugLayout]] = {}  # id(drug table) → (content hash, layout); bundle data only


def _drug_layout(drugs: pd.DataFrame) -> _DrugLayout:
    """Built once per drug table (checked by a hash of the columns used, so an edited table is rebuilt)."""
    used = ["drug_key", "compound_id", "compound_name", "screen", "drug_id", "cv_rho", "n_cell_lines"]
    digest = int(pd.util.hash_pandas_object(drugs[[c for c in used if c in drugs]], index=False).sum())
    cached = _LAYOUTS.get(id(drugs))
    if cached is not None and cached[0] == digest:
        return cached[1]
    weight, tie = _preference(drugs)
    groups = list(drugs.groupby("compound_id", sort=False).indices.values())
    layout = _DrugLayout(
        keys=pd.Index(drugs["drug_key"].astype(str)),
        weight=weight,
        tie=tie,
        labels=(drugs["screen"].astype(str) + " #" + drugs["drug_id"].astype(str)).to_numpy().astype(object),
        groups=groups,
        names=drugs.drop_duplicates("compound_id").set_index("compound_id")["compound_name"],
        first=np.array([members[0] for members in groups], dtype=np.int64),
    )
    if len(_LAYOUTS) >= 8:
        _LAYOUTS.clear()
    _LAYOUTS[id(drugs)] = (digest, layout)
    return layout


@dataclass(frozen=True)
class EntryTexts:
    """The "entries" text of samples × compounds as positions into an Arrow string pool.

    Why: a cohort partition has ~270,000 (sample, compound) rows. As Python strings, building, reordering,
    converting to Arrow and writing this one column cost ~10 % of a partition's CPU; as Arrow strings it is joined
    in C++, and a row order is an integer take. The pool holds each single-entry compound's label once and one
    text per (sample, multi-entry compound).
    """

    pool: object  # pyarrow.StringArray
    index: np.ndarray  # samples × compounds → position in ``pool``

    def take(self, positions: np.ndarray):
        """The texts at ``positions`` of ``index`` (any integer array into it, flattened), as an Arrow array."""
        return self.pool.take(np.asarray(positions).reshape(-1))

    def at(self, samples: np.ndarray, compounds: np.ndarray):
        """The texts of the (sample, compound) pairs, as pandas' string array."""
        return pd.array(self.take(self.index[samples, compounds]), dtype="str")


@dataclass(frozen=True)
class Consensus:
    """The consensus rule applied to a samples × drugs matrix of z: per (sample, compound), in compound order."""

    chosen: (
        np.ndarray
    )  # samples × compounds: drug-table position of the chosen entry (the first if none has z)
    n_entries: np.ndarray  # samples × compounds: entries with a prediction
    z_min: np.ndarray
    z_max: np.ndarray
    entries: EntryTexts  # samples × compounds: "GDSC1 #179 -3.26; GDSC2 #1073 -3.16"
    compound_ids: np.ndarray  # compounds, in group order
    compound_names: np.ndarray  # compounds: display name (NaN where the drug table has none)


def consensus(z: np.ndarray, drugs: pd.DataFrame, layout: _DrugLayout | None = None) -> Consensus:
    """The rule of the module docstring on ``z`` (samples × drug-table rows, NaN = no prediction).

    All multi-entry compounds (~140) in one vectorised step; the "entries" text is built only for them (the others
    have one entry and show its label). ``layout``: the drug table's, when the caller has it already (checking
    the cached one hashes the table, ~5 ms).
    """
    layout = layout if layout is not None else _drug_layout(drugs)
    weight, tie, labels, groups = layout.weight, layout.tie, layout.labels, layout.groups
    n_samples = z.shape[0]
    first = layout.first
    chosen = np.tile(first, (n_samples, 1))
    n_entries = (~np.isnan(z[:, first])).astype(int)
    z_min, z_max = z[:, first].copy(), z[:, first].copy()
    entries = np.tile(np.arange(len(groups), dtype=np.int64), (n_samples, 1))  # into the compound labels
    pools = [_arrow_strings(labels[first])]
    multi = [(c, members) for c, members in enumerate(groups) if members.size > 1]
    if multi:  # all multi-entry compounds at once, their entries padded to the widest compound
        columns = np.array([c for c, _ in multi])
        width = max(members.size for _, members in multi)
        padded = np.full((len(multi), width), -1)
        for k, (_, members) in enumerate(multi):
            padded[k, : members.size] = members
        real = padded >= 0  # compounds × width
        entry = np.where(real, padded, 0)
        zs = np.where(real[None], z[:, entry], np.nan)  # samples × compounds × entries
        present = ~np.isnan(zs)
        w = np.where(real, weight[entry], 0.0)
        gaps = np.abs(zs[..., :, None] - zs[..., None, :])
        cost = np.nansum(w[None, :, None, :] * np.where(present[:, :, None, :], gaps, 0.0), axis=3)
        # lexicographic choice: lowest cost, then higher weight, then GDSC2 / more cell lines
        score = np.round(cost, 9) * 1e12 - w[None] * 1e7 - tie[entry][None] * 1e-3
        pick = np.argmin(np.where(present, score, np.inf), axis=2)  # samples × compounds
        compound = np.arange(len(multi))[None, :]
        chosen[:, columns] = entry[compound, pick]
        n_entries[:, columns] = present.sum(axis=2)
        z_min[:, columns] = np.min(np.where(present, zs, np.inf), axis=2)
        z_max[:, columns] = np.max(np.where(present, zs, -np.inf), axis=2)
        order = np.argsort(np.where(present, zs, np.inf), axis=2)
        texts, positions = _entries_text(zs, entry[compound[..., None], order], order, present, real, labels)
        entries[:, columns] = len(groups) + positions
        pools.append(texts)
    return Consensus(
        chosen=chosen,
        n_entries=n_entries,
        z_min=z_min,
        z_max=z_max,
        entries=EntryTexts(_concat_strings(pools), entries),
        compound_ids=drugs["compound_id"].to_numpy()[first],
        compound_names=layout.names.reindex(pd.Index(drugs["compound_id"].to_numpy()[first])).to_numpy(
            dtype=object
        ),
    )


def _entries_text(
    zs: np.ndarray,
    sorted_entry: np.ndarray,
    order: np.ndarray,
    present: np.ndarray,
    real: np.ndarray,
    labels: np.ndarray,
) -> tuple[object, np.ndarray]:
    """samples × multi-entry compounds: "GDSC1 #179 -3.26; GDSC2 #1073 -3.16", entries by increasing z.

    Returns an Arrow string array and, per (sample, compound), the position of its text in it. When every entry
    has a prediction (always, from the model's matrix), compounds with the same number of entries are joined in
    one Arrow pass (label+" ", value, "; "+label+" ", value, ...); otherwise entry by entry in Python, leaving out
    the missing ones.
    """
    values = np.take_along_axis(zs, order, axis=2)  # samples × compounds × entries, by increasing z, NaN last
    sizes = real.sum(axis=1)  # entries per compound
    n_samples, n_compounds = values.shape[:2]
    if bool((present.sum(axis=2) == sizes[None, :]).all()):
        import pyarrow.compute as pc

        first = _arrow_strings(labels.astype(object) + " ")
        later = _arrow_strings("; " + labels.astype(object) + " ")
        texts, positions, offset = [], np.empty((n_samples, n_compounds), dtype=np.int64), 0
        for size in np.unique(sizes):
            columns = np.flatnonzero(sizes == size)
            pieces = []
            for p in range(int(size)):
                pieces.append((first if p == 0 else later).take(sorted_entry[:, columns, p].reshape(-1)))
                pieces.append(_signed_2dp_arrow(values[:, columns, p].reshape(-1)))
            texts.append(pieces[0] if len(pieces) == 1 else pc.binary_join_element_wise(*pieces, ""))
            cells = np.arange(n_samples * columns.size, dtype=np.int64).reshape(n_samples, columns.size)
            positions[:, columns] = offset + cells
            offset += n_samples * columns.size
        return _concat_strings(texts), positions
    text = np.full(values.shape[:2], "", dtype=object)
    for p in range(values.shape[2]):
        value = values[:, :, p]
        part = labels[sorted_entry[:, :, p]] + " " + _signed_2dp(value)
        part = np.where(np.isnan(value), "", part)
        text = np.where((text != "") & (part != ""), text + "; " + part, text + part)
    positions = np.arange(text.size, dtype=np.int64).reshape(text.shape)
    return _arrow_strings(text.reshape(-1)), positions


def _arrow_strings(values: np.ndarray):
    import pyarrow as pa

    return pa.array(np.asarray(values, dtype=object), type=pa.string())


def _concat_strings(arrays: list):
    import pyarrow as pa

    return arrays[0] if len(arrays) == 1 else pa.concat_arrays(arrays)


_SIGNED = np.array([f"{k / 100:+.2f}" for k in range(-2000, 2001)], dtype=object)


def _signed_2dp_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``"%+.2f" % v`` for every value, as positions into ``_SIGNED`` followed by the returned extra strings.

    Why: printf-formatting ~10⁵ floats per cohort partition was the slowest step of compound-level predictions.
    Values within ±20 that are not within 1e-6 of a rounding boundary take the pre-formatted string of
    round(100·v) (the same digits printf gives); the rest (boundaries, far out) are formatted by printf, and NaN
    (a padded entry, never shown) gives "".
    """
    scaled = values * 100.0
    finite = np.isfinite(scaled)
    safe = np.where(finite, scaled, 0.0)
    rounded = np.rint(safe)
    exact = finite & (np.abs(safe) <= 2000) & (np.abs(np.abs(safe - rounded) - 0.5) > 1e-6)
    codes = (rounded + 2000).astype(np.int64).clip(0, len(_SIGNED) - 1)
    missing = np.isnan(values)
    slow = ~exact & ~missing
    extra = [""]
    codes[missing] = len(_SIGNED)
    if slow.any():
        codes[slow] = len(_SIGNED) + 1 + np.arange(int(slow.sum()))
        extra += list(np.char.mod("%+.2f", values[slow]))
    # printf keeps the sign of a negative value (or -0.0) that rounds to zero; the table's 0 entry reads "+0.00"
    negative_zero = exact & (rounded == 0) & np.signbit(values)
    if negative_zero.any():
        codes[negative_zero] = len(_SIGNED) + len(extra)
        extra.append("-0.00")
    return codes, np.array(extra, dtype=object)


def _signed_2dp(values: np.ndarray) -> np.ndarray:
    """``"%+.2f" % v`` for every value (object array; see ``_signed_2dp_codes``)."""
    codes, extra = _signed_2dp_codes(values)
    return np.concatenate([_SIGNED, extra])[codes]


def _signed_2dp_arrow(values: np.ndarray):
    """The same strings as ``_signed_2dp``, as an Arrow string array."""
    codes, extra = _signed_2dp_codes(values)
    return _concat_strings([_signed_arrow(), _arrow_strings(extra)]).take(codes)


@functools.cache
def _signed_arrow():
    """``_SIGNED`` as an Arrow array, built on first use."""
    return _arrow_strings(_SIGNED)


def compound_table(screen_table: pd.DataFrame, drugs: pd.DataFrame) -> pd.DataFrame:
    """One row per (sample, compound) by the consensus rule of the module docstring, ranked within sample.

    Scatters the screen rows into a samples × drugs matrix (so their order within a sample does not matter),
    applies ``consensus`` and takes the chosen rows. ``predict_block`` does the same straight from the model's
    matrix (no screen table) for ``Neurix.predict`` and cohorts.
    """
    table = screen_table if "compound_id" in screen_table else add_drug_columns(screen_table, drugs)
    table = table.reset_index(drop=True)
    layout = _drug_layout(drugs)
    sample_codes, uniques = pd.factorize(table["sample"].astype(str))
    samples = [str(v) for v in uniques]
    drug_codes = layout.keys.get_indexer(table["drug_key"])
    known = drug_codes >= 0
    rows = np.full((len(samples), len(layout.keys)), -1)  # samples × drugs: row number in ``table``
    rows[sample_codes[known], drug_codes[known]] = np.flatnonzero(known)
    z = np.where(rows < 0, np.nan, table["z_log_auc"].to_numpy(dtype=float)[np.maximum(rows, 0)])
    agreed = consensus(z, drugs, layout)
    n_samples = len(samples)
    chosen = rows[np.arange(n_samples)[:, None], agreed.chosen]
    valid = chosen >= 0
    picked = np.where(valid, z[np.arange(n_samples)[:, None], agreed.chosen], np.nan)
    # within each sample (in order of appearance): lowest z first, ties in compound order, NaN last
    order = np.argsort(picked, axis=1, kind="stable")
    keep = np.take_along_axis(valid, order, axis=1)
    sample_of = np.repeat(np.arange(n_samples), order.shape[1]).reshape(order.shape)[keep]
    compound_of = order[keep]
    out = table.take(chosen[sample_of, compound_of])
    out["n_entries"] = agreed.n_entries[sample_of, compound_of]
    out["z_min"] = agreed.z_min[sample_of, compound_of]
    out["z_max"] = agreed.z_max[sample_of, compound_of]
    out["entries"] = agreed.entries.at(sample_of, compound_of)
    group_names = agreed.compound_names[compound_of]
    missing = pd.isna(group_names)
    if missing.any():
        group_names[missing] = out["drug_name"].to_numpy(dtype=object)[missing]
    out["drug_name"] = group_names
    out["rank"] = np.cumsum(keep, axis=1)[keep]
    extra = [c for c in out.columns if c not in COMPOUND_COLUMNS]
    return out[COMPOUND_COLUMNS + extra].reset_index(drop=True)


def representative_entries(drugs: pd.DataFrame) -> pd.Series:
    """compound_id → drug_key of its most reliable screen entry (sample-independent views: drug map, lists)."""
    ranked = drugs.assign(
        _w=drugs["cv_rho"].astype(float).fillna(0.0).clip(lower=MIN_WEIGHT),
        _g=drugs["screen"] == "GDSC2",
        _n=drugs.get("n_cell_lines", 0),
    ).sort_values(["_w", "_g", "_n", "drug_key"], ascending=[False, False, False, True])
    return ranked.drop_duplicates("compound_id").set_index("compound_id")["drug_key"]


def compound_list(drugs: pd.DataFrame) -> pd.DataFrame:
    """One row per compound for ``neurix drugs``: id, name, class, reliability of its best entry, its entries."""
    best = representative_entries(drugs)
    info = drugs.set_index("drug_key")
    entries = (
        drugs.assign(label=drugs["screen"] + " #" + drugs["drug_id"].astype(str))
        .groupby("compound_id")["label"]
        .agg("; ".join)
    )
    table = pd.DataFrame({"compound_id": best.index, "best_entry": best.to_numpy()})
    table["drug_name"] = table["best_entry"].map(info["compound_name"])
    table["drug_class"] = table["best_entry"].map(info["drug_class"])
    table["cv_rho"] = table["best_entry"].map(info["cv_rho"])
    if "hit_rate" in info:
        table["hit_rate"] = table["best_entry"].map(info["hit_rate"])
    table["targets"] = table["best_entry"].map(info["targets"])
    table["n_entries"] = table["compound_id"].map(drugs.groupby("compound_id").size())
    table["entries"] = table["compound_id"].map(entries)
    return table.sort_values("drug_name", key=lambda s: s.str.lower()).reset_index(drop=True)
