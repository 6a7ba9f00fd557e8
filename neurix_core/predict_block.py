"""Predictions of a batch of samples kept as index arrays into the drug table, turned into a table only at the end.

Why: a cohort partition of 1,000 samples has ~540,000 (sample, compound) rows and ~25 columns, most of them drug
annotations (name, class, targets, pathway...) that repeat for every sample. Building them as a long pandas frame
(a string per row and column), re-reading it to apply the compound consensus and converting it to Arrow cost ~5 ms
per sample, ten times the model itself. Here every row is (sample index, drug-table row) plus a few numeric
arrays; ``to_frame`` gives ``neurix predict``'s DataFrame and ``to_arrow`` the same columns as an Arrow table whose
string columns are dictionary-encoded (indices into the drug table or the sample list: no string is copied).
Both read the same arrays, so the cohort's Parquet and the API's DataFrame cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from neurix_core.model.bundle import ModelBundle
from neurix_core.predict import PREDICTION_COLUMNS, ModelInput, predict_matrix
from neurix_core.predict_levels import COMPOUND_COLUMNS, consensus, predicted_auc

SCREEN_LEVEL_COLUMNS = [
    *PREDICTION_COLUMNS,
    "compound_id",
    "predicted_auc",
]  # ``add_drug_columns`` appends both
CONSTANT_COLUMNS = ("platform", "scaling", "scaling_benchmark_rho", "platform_flag")


@dataclass
class PredictionBlock:
    """One row per (sample, drug or compound), ranked within sample; row i is drug-table row ``drug_row[i]`` of
    sample ``samples[sample_index[i]]``. ``values`` holds the per-row columns that are not drug annotations."""

    level: str  # "screen" or "compound"
    samples: list[str]
    sample_index: np.ndarray  # rows: int32 position in ``samples``
    drug_row: np.ndarray  # rows: int32 position in the drug table
    values: dict[str, object]  # rows: numeric columns (and compound-level "entries" text, an Arrow array)
    constants: dict[str, object] = field(
        default_factory=dict
    )  # how the profiles were scaled: same for all rows
    drug_name: np.ndarray | None = (
        None  # per drug-table row: the name shown (the compound's at compound level)
    )

    @property
    def columns(self) -> list[str]:
        if self.level == "screen":
            return SCREEN_LEVEL_COLUMNS
        extra = [c for c in SCREEN_LEVEL_COLUMNS if c not in COMPOUND_COLUMNS]
        return COMPOUND_COLUMNS + extra

    def __len__(self) -> int:
        return len(self.drug_row)

    def per_sample(self, column: str) -> np.ndarray | pd.api.extensions.ExtensionArray:
        """A column that has one value per sample (``in_domain``, ``domain_distance``), in sample order."""
        return self.values[f"_sample_{column}"]  # type: ignore[return-value]

    def to_frame(self, drugs: pd.DataFrame) -> pd.DataFrame:
        """The DataFrame ``Neurix.predict`` returns (columns and dtypes as ``prediction_table``/``compound_table``)."""
        samples = pd.array(self.samples, dtype="str")
        data: dict[str, object] = {}
        for column in self.columns:
            if column == "sample":
                data[column] = samples.take(self.sample_index)
            elif column == "drug_name" and self.drug_name is not None:
                data[column] = self.drug_name[self.drug_row]
            elif column in self.values:
                data[column] = _pandas_values(self.values[column])
            elif column not in self.constants:
                data[column] = drugs[column].array.take(self.drug_row)
        frame = pd.DataFrame(data)
        for column, value in self.constants.items():
            frame[column] = value
        return frame[self.columns]

    def to_arrow(self, drugs: pd.DataFrame):
        """The same columns as an Arrow table; strings dictionary-encoded over the drug table or the samples."""
        import pyarrow as pa

        n = len(self)
        arrays = {}
        for column in self.columns:
            if column == "sample":
                arrays[column] = pa.DictionaryArray.from_arrays(
                    self.sample_index.astype(np.int32), pa.array(self.samples, type=pa.string())
                )
            elif column == "drug_name" and self.drug_name is not None:
                arrays[column] = dictionary_array(self.drug_row, self.drug_name)
            elif column in self.values:
                arrays[column] = _arrow_values(self.values[column])
            elif column in self.constants:
                value = self.constants[column]
                if isinstance(value, str):
                    arrays[column] = dictionary_array(
                        np.zeros(n, dtype=np.int32), np.array([value], dtype=object)
                    )
                else:
                    arrays[column] = pa.array(np.full(n, value))
            else:
                arrays[column] = _drug_column(drugs[column], self.drug_row)
        table = pa.table(arrays)
        # pandas reads the file back with ``to_frame``'s dtypes (str, nullable boolean), not as categoricals; the
        # metadata depends only on the column layout, the same for every partition of a cohort
        layout = (self.level, tuple(table.schema.names), tuple(str(t) for t in table.schema.types), id(drugs))
        metadata = _PANDAS_METADATA.get(layout)
        if metadata is None:
            reference = pa.Schema.from_pandas(self._head().to_frame(drugs), preserve_index=False)
            metadata = _PANDAS_METADATA.setdefault(layout, reference.metadata[b"pandas"])
        return table.replace_schema_metadata({b"pandas": metadata})

    def _head(self) -> PredictionBlock:
        """The first row only (for the pandas schema of ``to_arrow``)."""
        values = {k: v if k.startswith("_sample_") else v[:1] for k, v in self.values.items()}
        return PredictionBlock(
            self.level,
            self.samples,
            self.sample_index[:1],
            self.drug_row[:1],
            values,
            self.constants,
            self.drug_name,
        )


_PANDAS_METADATA: dict[tuple, bytes] = {}  # column layout → pandas metadata of ``to_arrow`` tables
PARQUET_STATISTICS_COLUMNS = ("sample", "rank")
# rows encoded per call (default 1,024): ~7 % less CPU for a partition's table
PARQUET_WRITE_BATCH_ROWS = 65536
PARQUET_DICTIONARY_NUMBERS = ("cv_rho", "hit_rate", "scaling_benchmark_rho")  # one value per drug or per run


def write_parquet(table, path) -> None:
    """Write a ``to_arrow`` table so that pandas reads back ``to_frame``'s dtypes, at a third of the default cost.

    Dictionary pages for the text columns and per-drug numbers only (hashing per-row floats finds no repeats, and
    compressing them saves nothing); min/max statistics only for sample and rank, which skips computing them over
    every text column; no stored Arrow schema, so readers get plain strings rather than categoricals, with the
    pandas metadata added back (str, nullable boolean). The values are the same whatever these options.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    text = [f.name for f in table.schema if pa.types.is_dictionary(f.type)]
    per_row = [
        f.name
        for f in table.schema
        if pa.types.is_floating(f.type) and f.name not in PARQUET_DICTIONARY_NUMBERS
    ]
    metadata = table.schema.metadata or {}
    with pq.ParquetWriter(
        path,
        table.schema,
        use_dictionary=text + [c for c in PARQUET_DICTIONARY_NUMBERS if c in table.column_names],
        compression={f.name: "none" if f.name in per_row else "snappy" for f in table.schema},
        write_statistics=[c for c in PARQUET_STATISTICS_COLUMNS if c in table.column_names],
        store_schema=False,
        write_batch_size=PARQUET_WRITE_BATCH_ROWS,
    ) as writer:
        writer.write_table(table)
        if b"pandas" in metadata:
            writer.add_key_value_metadata({"pandas": metadata[b"pandas"]})


def dictionary_array(indices: np.ndarray, dictionary: np.ndarray):
    """Text per row as indices into ``dictionary``, first reduced to its distinct values (the Parquet writer
    copies a duplicate-free dictionary as it is, four times faster than re-encoding one with repeats)."""
    import pyarrow as pa

    codes, distinct = pd.factorize(pd.Series(dictionary, dtype=object), use_na_sentinel=True)
    per_row = codes.astype(np.int32)[indices]
    mask = per_row < 0  # missing text stays missing
    return pa.DictionaryArray.from_arrays(
        pa.array(per_row, mask=mask if mask.any() else None),
        pa.array(np.asarray(distinct, dtype=object), type=pa.string()),
    )


def _drug_column(column: pd.Series, rows: np.ndarray):
    """A drug annotation per row: dictionary-encoded over the drug table when text, else taken."""
    import pyarrow as pa

    if pd.api.types.is_string_dtype(column.dtype) or column.dtype == object:
        return dictionary_array(rows, column.to_numpy(dtype=object))
    return pa.array(column.to_numpy()[rows])


def _pandas_values(values):
    """A ``values`` column for a DataFrame: Arrow text (the compound "entries") as pandas' string array."""
    import pyarrow as pa

    return pd.array(values, dtype="str") if isinstance(values, pa.Array) else values


def _arrow_values(values):
    import pyarrow as pa

    if isinstance(values, pa.Array):
        return values
    if isinstance(values, pd.api.extensions.ExtensionArray):
        return pa.array(values)
    values = np.asarray(values)
    if values.dtype == object:
        return pa.array(values, type=pa.string(), from_pandas=True)
    return pa.array(values)


def trust_matrices(
    bundle: ModelBundle, predictions: np.ndarray, scaled: np.ndarray, zscored: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """samples × drugs (percentile, interval), per sample (in_domain, domain_distance), per drug (hit_rate).

    NaN / missing in_domain when the bundle lacks trust artifacts: a nullable boolean, so a bundle without the
    domain check says "unknown", never "in domain".
    """
    n_samples, n_drugs = predictions.shape
    trust = bundle.trust
    if trust is None:
        missing = np.full((n_samples, n_drugs), np.nan)
        return {
            "percentile": missing,
            "interval_low": missing,
            "interval_high": missing,
            "in_domain": pd.array([pd.NA] * n_samples, dtype="boolean"),
            "domain_distance": np.full(n_samples, np.nan),
            "hit_rate": np.full(n_drugs, np.nan),
        }
    assessed = trust.assess(predictions, scaled, zscored)
    return {
        "percentile": assessed["percentile"],
        "interval_low": assessed["interval_low"],
        "interval_high": assessed["interval_high"],
        "in_domain": pd.array(assessed["in_domain"], dtype="boolean"),
        "domain_distance": assessed["domain_distance"],
        "hit_rate": trust.drugs["hit_rate"].to_numpy(dtype=float),
    }


def predict_block(bundle: ModelBundle, model_input: ModelInput, level: str = "compound") -> PredictionBlock:
    """Predict every drug for every profile and rank them within each sample (lowest z = most sensitive first).

    ``level="screen"``: one row per (sample, screen entry), ties in drug-table order; ``level="compound"``: one row
    per (sample, compound), the entry chosen by the consensus rule (``predict_levels``), ties in compound order.
    """
    predictions = predict_matrix(bundle, model_input)
    drugs = bundle.drugs
    n_samples, n_drugs = predictions.shape
    z = predictions.astype(np.float64)
    trust = trust_matrices(bundle, predictions, model_input.scaled, model_input.zscored)
    values: dict[str, object] = {}
    drug_name = None
    if level == "screen":
        order = np.argsort(
            predictions, axis=1, kind="stable"
        )  # ties keep drug order, as rank(method="first")
    else:
        agreed = consensus(z, drugs)
        picked = np.take(z, _flat(agreed.chosen, n_drugs)).reshape(agreed.chosen.shape)
        ranked = np.argsort(picked, axis=1, kind="stable")  # ties in compound order, NaN last
        by_rank = _flat(ranked, ranked.shape[1])  # into the samples × compounds matrices of the consensus
        order = np.take(agreed.chosen, by_rank).reshape(ranked.shape)  # samples × compounds: drug-table rows
        for column in ("n_entries", "z_min", "z_max"):
            values[column] = np.take(getattr(agreed, column), by_rank)
        values["entries"] = agreed.entries.take(np.take(agreed.entries.index, by_rank))
        drug_name = _display_names(drugs, agreed)
    width = order.shape[1]
    sample_index = np.repeat(np.arange(n_samples, dtype=np.int32), width)
    drug_row = order.reshape(-1).astype(np.int32)
    by_order = _flat(order, n_drugs)  # into the samples × drugs matrices
    values["z_log_auc"] = np.take(z, by_order)
    values["rank"] = np.tile(np.arange(1, width + 1, dtype=np.int64), n_samples)
    for column in ("percentile", "interval_low", "interval_high"):
        values[column] = np.take(trust[column], by_order)
    values["in_domain"] = trust["in_domain"].take(sample_index)
    values["domain_distance"] = np.asarray(trust["domain_distance"])[sample_index]
    values["hit_rate"] = trust["hit_rate"][drug_row]
    values["_sample_in_domain"] = trust["in_domain"]
    values["_sample_domain_distance"] = np.asarray(trust["domain_distance"])
    values["predicted_auc"] = predicted_auc(drugs, drug_row, values["z_log_auc"])  # type: ignore[arg-type]
    choice = model_input.scaling
    constants = {
        "platform": choice.platform if choice else "unknown",
        "scaling": choice.mode if choice else "sample",
        "scaling_benchmark_rho": choice.benchmark_rho if choice else np.nan,
        "platform_flag": bool(choice and choice.flag),
    }
    return PredictionBlock(
        level=level,
        samples=[str(s) for s in model_input.samples],
        sample_index=sample_index,
        drug_row=drug_row,
        values=values,
        constants=constants,
        drug_name=drug_name,
    )


def _flat(positions: np.ndarray, width: int) -> np.ndarray:
    """Row-major positions, in a samples × ``width`` matrix, of per-sample column ``positions`` (samples × k).

    Why: one integer index reused by every column that follows the same order; ``np.take`` with it is ~2× faster
    than ``np.take_along_axis`` per column, which rebuilds a broadcast index each time.
    """
    return (positions + np.arange(len(positions), dtype=np.int64)[:, None] * width).reshape(-1)


def _display_names(drugs: pd.DataFrame, agreed) -> np.ndarray:
    """Per drug-table row: its compound's name (the entry's own name where the compound has none)."""
    names = drugs["drug_name"].to_numpy(dtype=object).copy()
    compound_of_row = pd.Index(agreed.compound_ids).get_indexer(drugs["compound_id"].to_numpy())
    known = (compound_of_row >= 0) & ~pd.isna(agreed.compound_names[np.maximum(compound_of_row, 0)])
    names[known] = agreed.compound_names[compound_of_row[known]]
    return names
