"""The versioned model bundle: everything needed to predict and explain, verified on load.

A bundle is a directory::

    manifest.json     format/version, configs, library versions, data fingerprint, sha256 of every other file
    weights.pt        the network's state_dict (loaded with weights_only=True: no pickled code)
    arrays.npz        gene scaler (mean/sd per gene) and per-drug target scaler (mean/sd of log AUC)
    genes.txt         the model's gene list, in input order
    drugs.csv         drug table: screen, id, name, class, annotations, cross-validated ρ (reliability)
    validation.json   cross-validation and external-validation summaries (model card figures)
    examples.parquet  held-out cell-line profiles (within-sample z over the model genes; optional)
    example_responses.csv  their measured responses, as z-scored log AUC on the model's scale (optional)
    drug_map.csv      2-D UMAP of the drug tower's latent vectors (optional)
    rnaseq_reference.csv  per-gene RNA-seq mean/sd of the training lines, for RNA-seq uploads (optional)
    trust.*           intervals, percentiles, hit rates, applicability domain, neighbours (optional; see
                      neurix_core/trust/artifacts.py)
    discovery.parquet, discovery.npz   per-drug genes from the CV fold models on held-out lines (optional;
                      neurix_core/explain/discovery.py)
    members.pt        a few CV fold models' expression towers (fp16) for explanation stability (optional;
                      neurix_core/explain/stability.py)
    linear.npz        the hybrid's linear part (ridge + reduced rank): weights (genes × drugs, float16), intercept,
                      the ridge's chosen penalty
                      (format version 2; the manifest's ``linear_weight`` is its share of the prediction)

Format version 2 added the linear part; version-1 bundles (network only) still load.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from neurix_core import __version__
from neurix_core.data.drug_table import complete_drug_table
from neurix_core.errors import BundleError
from neurix_core.features.rnaseq_reference import REFERENCE_FILE, RnaseqReference
from neurix_core.features.scaling import GeneScaler
from neurix_core.io.gene_ids import repair_symbols
from neurix_core.model.towers import InteractionModel, ModelConfig, TrainingConfig
from neurix_core.train.fit import FittedModel, TargetScaler
from neurix_core.train.linear import LinearComponent
from neurix_core.trust.artifacts import TRUST_FILES, TrustArtifacts

BUNDLE_FORMAT = "neurix-bundle"
BUNDLE_FORMAT_VERSION = 2
READABLE_FORMAT_VERSIONS = (1, 2)  # 1: network only
REQUIRED_FILES = ("weights.pt", "arrays.npz", "genes.txt", "drugs.csv", "validation.json")
OPTIONAL_FILES = (
    "examples.parquet",
    "example_responses.csv",
    "drug_map.csv",
    "linear.npz",
    REFERENCE_FILE,
    *TRUST_FILES,
    "discovery.parquet",
    "discovery.npz",
    "members.pt",
)
NUMERIC_DRUG_COLUMNS = ("cv_rho", "ridge_rho", "n_cell_lines", "log_auc_mean", "log_auc_sd")
DEFAULT_BUNDLE = Path(__file__).resolve().parents[2] / "assets" / "models" / "default"


@dataclass
class ModelBundle:
    """A loaded bundle: the fitted model, its genes and drugs, and what the model card shows."""

    fitted: FittedModel
    genes: list[str]
    drugs: pd.DataFrame
    manifest: dict
    validation: dict
    examples: pd.DataFrame | None = None
    example_responses: pd.DataFrame | None = None
    drug_map: pd.DataFrame | None = None
    path: Path | None = None
    rnaseq_reference: RnaseqReference | None = None
    trust: TrustArtifacts | None = None
    _gene_index: dict[str, int] = field(default_factory=dict, repr=False)

    @property
    def model(self) -> InteractionModel:
        return self.fitted.model

    @property
    def version(self) -> str:
        return str(self.manifest.get("model_version", "unknown"))

    @property
    def training_platform(self) -> str:
        """The expression platform the network was trained on (bundles before the field: GDSC microarray)."""
        return str(self.manifest.get("expression_platform", "microarray"))

    def read_optional(self, name: str) -> bytes | None:
        """The bytes of an optional bundle file, or None when this bundle has none; re-verified against the
        manifest's sha256 because it is read after loading."""
        expected = self.manifest.get("files", {}).get(name)
        if expected is None or self.path is None:
            return None
        data = (self.path / name).read_bytes()
        if hashlib.sha256(data).hexdigest() != expected:
            raise BundleError(
                f"{_name(self.path)}: {name} does not match its recorded checksum; the bundle was modified"
            )
        return data

    def gene_index(self) -> dict[str, int]:
        if not self._gene_index:
            self._gene_index = {gene: i for i, gene in enumerate(self.genes)}
        return self._gene_index


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    import importlib.metadata as metadata

    versions = {"python": platform.python_version(), "neurix": __version__}
    for name in ("torch", "numpy", "pandas", "zennit", "rdkit", "umap-learn"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def save_bundle(
    directory: str | Path,
    fitted: FittedModel,
    genes: list[str],
    drugs: pd.DataFrame,
    validation: dict,
    data_fingerprint: dict[str, str],
    screens: list[str],
    examples: pd.DataFrame | None = None,
    example_responses: pd.DataFrame | None = None,
    drug_map: pd.DataFrame | None = None,
    extra_manifest: dict | None = None,
    rnaseq_reference: RnaseqReference | None = None,
    trust: TrustArtifacts | None = None,
    writers: Sequence[Callable[[Path], object]] = (),
) -> Path:
    """Write a bundle; the manifest is written last and records the sha256 of every file.

    ``writers`` write optional training-time artefacts (e.g. discovery) into the directory before the manifest."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.iterdir():
        if stale.is_file() and stale.name in (*REQUIRED_FILES, *OPTIONAL_FILES, "manifest.json"):
            stale.unlink()
    torch.save(fitted.model.state_dict(), directory / "weights.pt")
    np.savez(
        directory / "arrays.npz",
        scaler_mean=fitted.gene_scaler.mean,
        scaler_std=fitted.gene_scaler.std,
        target_mean=fitted.target_scaler.mean,
        target_std=fitted.target_scaler.std,
    )
    if fitted.linear is not None:
        np.savez(
            directory / "linear.npz",
            weights=fitted.linear.weights.astype(
                np.float16
            ),  # halves the bundle; change recorded at training
            intercept=fitted.linear.intercept,
            alpha=fitted.linear.alpha,
        )
    (directory / "genes.txt").write_text("\n".join(genes) + "\n", encoding="utf-8")
    drugs.to_csv(directory / "drugs.csv", index=False)
    (directory / "validation.json").write_text(
        json.dumps(validation, indent=1, default=_json_default), encoding="utf-8"
    )
    if examples is not None:
        examples.T.to_parquet(directory / "examples.parquet")  # genes × samples: compact
    if example_responses is not None:
        example_responses.to_csv(directory / "example_responses.csv", index=False)
    if drug_map is not None:
        drug_map.to_csv(directory / "drug_map.csv", index=False)
    if rnaseq_reference is not None:
        rnaseq_reference.save(directory)
        extra_manifest = {**(extra_manifest or {}), "rnaseq_reference": rnaseq_reference.summary()}
    if trust is not None:
        trust.save(directory)
    for write in writers:
        write(directory)
    files = sorted(p.name for p in directory.iterdir() if p.is_file() and p.name != "manifest.json")
    created = dt.datetime.now(dt.UTC).replace(microsecond=0)
    manifest = {
        "format": BUNDLE_FORMAT,
        "format_version": BUNDLE_FORMAT_VERSION,
        "model_version": f"{__version__}+{created:%Y%m%d}",
        "created": created.isoformat(),
        "screens": screens,
        "n_genes": len(genes),
        "n_drugs": len(drugs),
        "model_config": fitted.model.config.to_dict(),
        "training_config": fitted.training.to_dict(),
        "linear_weight": fitted.linear_weight if fitted.linear is not None else 0.0,
        "loss_history": fitted.loss_history,
        "data_fingerprint": data_fingerprint,
        "libraries": library_versions(),
        "files": {name: _sha256(directory / name) for name in files},
        **(extra_manifest or {}),
    }
    (directory / "manifest.json").write_text(
        json.dumps(manifest, indent=1, default=_json_default), encoding="utf-8"
    )
    return directory


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def read_manifest(directory: Path) -> dict:
    manifest_path = directory / "manifest.json"
    if not directory.is_dir():
        raise BundleError(f"{_name(directory)} not found")
    if not manifest_path.is_file():
        raise BundleError(f"{_name(directory)} is not a Neurix model bundle (no manifest.json)")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(
            f"{_name(directory)}: manifest.json: the manifest is damaged ({exc.__class__.__name__})"
        ) from exc
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"{_name(directory)} is not a Neurix model bundle (foreign manifest)")
    version = manifest.get("format_version")
    if type(version) is not int or version not in READABLE_FORMAT_VERSIONS:
        raise BundleError(
            f"{_name(directory)}: bundle format version {version} is not supported by this Neurix ({__version__}, "
            f"reads versions {', '.join(map(str, READABLE_FORMAT_VERSIONS))}); retrain or upgrade Neurix"
        )
    return manifest


def verify_files(directory: Path, manifest: dict) -> None:
    """Every file listed in the manifest exists with the recorded sha256, and the required files are listed."""
    recorded = manifest.get("files")
    if not isinstance(recorded, dict):
        raise BundleError(f"{_name(directory)}: the manifest lists no file checksums")
    missing_required = [name for name in REQUIRED_FILES if name not in recorded]
    if missing_required:
        raise BundleError(f"{_name(directory)}: the manifest does not cover {missing_required}")
    for name, expected in recorded.items():
        path = directory / name
        if Path(name).name != name:
            raise BundleError(f"{_name(directory)}: the manifest names a file outside the bundle ({name!r})")
        if not path.is_file():
            raise BundleError(f"{_name(directory)}: {name} is missing; the bundle is incomplete")
        if _sha256(path) != expected:
            raise BundleError(
                f"{_name(directory)}: {name} does not match its recorded checksum; the bundle was modified or damaged"
            )


def load_bundle(directory: str | Path | None = None) -> ModelBundle:
    """Load and verify a bundle (default: $NEURIX_BUNDLE, else the shipped one). Raises BundleError on anything
    wrong, an unreadable file (permissions, I/O errors) included; messages name the bundle, not server paths."""
    if directory is None:  # the deployment's choice (NEURIX_BUNDLE), else the shipped model
        directory = os.environ.get("NEURIX_BUNDLE") or DEFAULT_BUNDLE
    directory = Path(directory)
    try:
        return _load_bundle(directory)
    except OSError as exc:
        what = Path(exc.filename).name if getattr(exc, "filename", None) else "a file"
        reason = exc.strerror or exc.__class__.__name__
        raise BundleError(
            f"{_name(directory)}: {what} cannot be read ({reason}); check the bundle's files and permissions"
        ) from exc


def _name(directory: Path) -> str:
    """How messages name a bundle: 'model bundle "default"', never the server's absolute path."""
    return f'model bundle "{directory.name or directory}"'


def _without_paths(text: str, directory: Path) -> str:
    return text.replace(str(directory.resolve()), directory.name).replace(str(directory), directory.name)


def _load_bundle(directory: Path) -> ModelBundle:
    manifest = read_manifest(directory)
    verify_files(directory, manifest)
    try:
        config = ModelConfig.from_dict(manifest["model_config"])
        state = torch.load(
            io.BytesIO((directory / "weights.pt").read_bytes()), weights_only=True, map_location="cpu"
        )
        model = InteractionModel(config)
        model.load_state_dict(state)
        model.eval()
        arrays = np.load(directory / "arrays.npz", allow_pickle=False)
        # bundles trained before the symbol repair carry R-mangled names (HLA.A): serve HGNC spellings
        genes = repair_symbols((directory / "genes.txt").read_text(encoding="utf-8").split())
        drugs = pd.read_csv(directory / "drugs.csv", dtype={"drug_id": str}, keep_default_na=False)
        for column in NUMERIC_DRUG_COLUMNS:
            if column in drugs.columns:
                drugs[column] = pd.to_numeric(drugs[column], errors="coerce")
        # compound ids, curated classes and per-drug log-AUC scale, also for bundles trained before they existed
        drugs = complete_drug_table(drugs, arrays["target_mean"], arrays["target_std"])
        validation = json.loads((directory / "validation.json").read_text(encoding="utf-8"))
        listed = set(manifest["files"])  # optional files are used only when their checksum was verified
        examples = pd.read_parquet(directory / "examples.parquet").T if "examples.parquet" in listed else None
        if examples is not None:
            examples.columns = repair_symbols([str(c) for c in examples.columns])
        drug_map = pd.read_csv(directory / "drug_map.csv") if "drug_map.csv" in listed else None
        example_responses = (
            pd.read_csv(directory / "example_responses.csv", keep_default_na=False, na_values=[""])
            if "example_responses.csv" in listed
            else None
        )
        reference = RnaseqReference.load(directory, genes, manifest) if REFERENCE_FILE in listed else None
        trust = TrustArtifacts.load(directory) if set(TRUST_FILES) <= listed else None
        linear_weight = float(manifest.get("linear_weight", 0.0))
        linear = None
        if linear_weight > 0:
            if "linear.npz" not in listed:
                raise BundleError(
                    f"{_name(directory)}: the manifest names a linear part but linear.npz is missing"
                )
            parts = np.load(directory / "linear.npz", allow_pickle=False)
            linear = LinearComponent(parts["weights"].astype(np.float32), parts["intercept"], parts["alpha"])
            if linear.weights.shape != (len(genes), config.n_drugs):
                raise BundleError(
                    f"{_name(directory)}: linear.npz does not match the genes/drugs; the bundle is inconsistent"
                )
        fitted = FittedModel(
            model=model,
            gene_scaler=GeneScaler(mean=arrays["scaler_mean"], std=arrays["scaler_std"]),
            target_scaler=TargetScaler(mean=arrays["target_mean"], std=arrays["target_std"]),
            training=TrainingConfig.from_record(manifest.get("training_config", {})),
            loss_history=list(manifest.get("loss_history", [])),
            linear=linear,
            linear_weight=linear_weight if linear is not None else 0.0,
        )
    except BundleError:
        raise
    except Exception as exc:  # any inconsistency inside verified files means an incompatible bundle
        raise BundleError(
            f"{_name(directory)}: the bundle could not be loaded "
            f"({exc.__class__.__name__}: {_without_paths(str(exc), directory)})"
        ) from exc
    if (
        len(genes) != config.n_genes
        or len(drugs) != config.n_drugs
        or arrays["scaler_mean"].shape[0] != len(genes)
    ):
        raise BundleError(
            f"{_name(directory)}: genes/drugs do not match the network's shape; the bundle is inconsistent"
        )
    return ModelBundle(
        fitted,
        genes,
        drugs,
        manifest,
        validation,
        examples,
        example_responses,
        drug_map,
        directory,
        rnaseq_reference=reference,
        trust=trust,
    )
