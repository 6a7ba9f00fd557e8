"""What the bundle stores for trust, how training builds it, and how prediction applies it.

Files (all optional, covered by the manifest's sha256):

    trust.npz         principal axes and training-line coordinates (domain, neighbours), each drug's measured
                      quantile grid (percentile), training lines' measured z responses (neighbours, float16)
    trust_drugs.csv   per drug: conformal quantiles (80 %, 90 %), hit rate, placements, 'top 20 %' threshold
    trust_lines.csv   training cell lines: id, name, lineage, disease
    trust.json        difficulty, domain threshold and the nested (outer-fold) evaluation of all of it
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from neurix_core.trust import calibration, domain

TRUST_FILES = ("trust.npz", "trust_drugs.csv", "trust_lines.csv", "trust.json")
NOT_AVAILABLE = (
    "calibrated intervals, percentiles, hit rates and the domain check are not available in this bundle; "
    "retrain it with `neurix train` (with --cv) to add them"
)


@dataclass
class TrustArtifacts:
    space: domain.ReferenceSpace
    threshold: float
    difficulty: calibration.Difficulty
    drugs: pd.DataFrame  # drug_key, q80, q90, hit_rate, hit_n, top_threshold (bundle drug order)
    response_quantiles: np.ndarray  # drugs × 101
    lines: pd.DataFrame  # cell_line, cell_line_name, lineage, primary_disease
    measured: np.ndarray  # lines × drugs, measured z log AUC (NaN = untested)
    report: dict

    # --- storage -------------------------------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        np.savez_compressed(
            directory / "trust.npz",
            components=self.space.components,
            scores=self.space.scores,
            norms=self.space.norms,
            response_quantiles=self.response_quantiles,
            measured=self.measured.astype(np.float16),
        )
        self.drugs.to_csv(directory / "trust_drugs.csv", index=False)
        self.lines.to_csv(directory / "trust_lines.csv", index=False)
        meta = {"threshold": self.threshold, "difficulty": self.difficulty.to_dict(), "report": self.report}
        (directory / "trust.json").write_text(json.dumps(meta, indent=1, default=float), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> TrustArtifacts:
        arrays = np.load(directory / "trust.npz", allow_pickle=False)
        meta = json.loads((directory / "trust.json").read_text(encoding="utf-8"))
        return cls(
            space=domain.ReferenceSpace(arrays["components"], arrays["scores"], arrays["norms"]),
            threshold=float(meta["threshold"]),
            difficulty=calibration.Difficulty(**meta["difficulty"]),
            drugs=pd.read_csv(directory / "trust_drugs.csv"),
            response_quantiles=arrays["response_quantiles"],
            lines=pd.read_csv(directory / "trust_lines.csv", keep_default_na=False, na_values=[""]),
            measured=arrays["measured"].astype(np.float32),
            report=meta.get("report", {}),
        )

    # --- prediction time -----------------------------------------------------------------------------------------
    def domain(
        self, scaled: np.ndarray, zscored: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(domain distance, in-domain flag) per sample and the samples × training lines similarity.

        With ``zscored`` (within-sample z, NaN = not measured), a profile without variation gets distance 1."""
        similarity = self.space.similarities(scaled)
        distance = domain.domain_distance(similarity)
        if zscored is not None:
            distance = np.where(domain.flat_profiles(zscored), 1.0, distance)
        return distance, distance <= self.threshold, similarity

    def assess(
        self, predictions: np.ndarray, scaled: np.ndarray, zscored: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        """samples × drugs percentile and 80 % interval; per sample domain distance and in-domain flag."""
        distance, inside, similarity = self.domain(scaled, zscored)
        sigma = self.difficulty.sigma(distance)[:, None]
        half = self.drugs["q80"].to_numpy(dtype=float)[None, :] * sigma
        return {
            "percentile": calibration.percentiles(predictions, self.response_quantiles),
            "interval_low": predictions - half,
            "interval_high": predictions + half,
            "domain_distance": distance,
            "in_domain": inside,
            "similarity": similarity,
        }


def build_trust(
    expression: np.ndarray,
    log_auc: np.ndarray,
    folds: np.ndarray,
    oof_predictions: np.ndarray,
    fitted,
    drugs: pd.DataFrame,
    lines: pd.DataFrame,
    reliability_groups: np.ndarray | None = None,
) -> TrustArtifacts:
    """Everything the bundle needs for trust, from the CV's out-of-fold predictions and the training lines.

    ``fitted`` is the final model (only its gene and target scalers are used); ``expression`` is within-sample z
    of the training lines, ``log_auc`` their measured responses (both in bundle drug order); ``lines`` describes
    the rows. ``reliability_groups`` (per drug) adds a coverage breakdown.
    """
    distances = domain.held_out_distances(expression, folds)
    threshold = domain.domain_threshold(distances)
    targets = calibration.out_of_fold_targets(log_auc, folds)
    difficulty, quantiles = calibration.fit_intervals(targets, oof_predictions, distances)
    hits = calibration.hit_rates(log_auc, oof_predictions, folds)
    table = pd.DataFrame({"drug_key": drugs["drug_key"].to_numpy()})
    for i, level in enumerate(calibration.LEVELS):
        table[f"q{round(level * 100)}"] = quantiles[:, i]
    table = pd.concat([table, hits], axis=1)
    groups = {"hit_rate_group": np.array([calibration.hit_rate_group(r) for r in hits["hit_rate"]])}
    if reliability_groups is not None:
        groups["reliability_group"] = np.asarray(reliability_groups, dtype=str)
    report = calibration.nested_evaluation(
        log_auc, oof_predictions, folds, distances, groups, domain.IN_DOMAIN_SHARE
    )
    report["hit_rate"] = {
        "mean": float(np.nanmean(hits["hit_rate"])),
        "median": float(np.nanmedian(hits["hit_rate"])),
        "chance": calibration.SENSITIVE_SHARE,
        "groups": {g: int(n) for g, n in pd.Series(groups["hit_rate_group"]).value_counts().items()},
    }
    report["held_out_distance"] = {
        "median": float(np.nanmedian(distances)),
        "threshold": threshold,
    }
    report["difficulty"] = difficulty.to_dict()
    measured_z = fitted.target_scaler.transform(log_auc)
    space = domain.ReferenceSpace.fit(fitted.gene_scaler.transform(expression))
    return TrustArtifacts(
        space=space,
        threshold=threshold,
        difficulty=difficulty,
        drugs=table,
        response_quantiles=calibration.response_quantiles(measured_z),
        lines=lines.reset_index(drop=True),
        measured=measured_z.astype(np.float32),
        report=report,
    )


def trust_from_cv(data, cv, fitted, drugs: pd.DataFrame) -> TrustArtifacts:
    """``build_trust`` from a training ``ResponseData`` and its ``CrossValidationResult`` (pipeline hook)."""
    from neurix_core.report.text import reliability

    info = data.cell_info.reindex(data.cell_lines)
    lines = pd.DataFrame(
        {
            "cell_line": data.cell_lines,
            "cell_line_name": info["cell_line_name"].to_numpy(),
            "lineage": info["lineage"].to_numpy(),
            "primary_disease": info["primary_disease"].to_numpy(),
        }
    )
    tiers = np.array([reliability(r).tier for r in drugs["cv_rho"]]) if "cv_rho" in drugs else None
    return build_trust(data.expression, data.log_auc, cv.folds, cv.predictions, fitted, drugs, lines, tiers)


def trust_summary(trust: TrustArtifacts) -> str:
    """One log line: measured coverage, hit rate and the domain check's false-alarm rate."""
    report = trust.report
    coverage = ", ".join(f"{k} level {v['overall']:.1%}" for k, v in report["coverage"].items())
    return (
        f"outer-fold coverage: {coverage}; mean hit rate {report['hit_rate']['mean']:.1%} (chance 33%); "
        f"domain false alarms on held-out lines {report['domain']['held_out_false_alarm_rate']:.1%}"
    )
