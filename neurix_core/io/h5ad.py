"""AnnData (.h5ad) expression: row slices of ``X`` or a layer read through h5py, and .h5ad uploads.

Why h5py rather than ``anndata.read_h5ad``: a slice of rows is read from disk without loading the matrix (dense
datasets directly, CSR/CSC through anndata's ``sparse_dataset``), and an upload is read from its bytes in memory
(nothing written to disk). The numbers then go through the upload parser's numeric half, so .h5ad files follow
the same gene-id, unit and coverage rules as every other format.
"""

from __future__ import annotations

import io
from collections.abc import Collection

import numpy as np

from neurix_core.errors import LimitExceededError, ProfileError

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _decode(values) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def matrix_element(handle, layer: str | None = None):
    """The h5py element holding ``X`` or the named layer, with a readable error when it is missing."""
    if layer is None:
        if "X" not in handle:
            raise ProfileError("the .h5ad file has no X matrix; name a layer to read instead")
        return handle["X"]
    if "layers" not in handle or layer not in handle["layers"]:
        available = sorted(handle["layers"].keys()) if "layers" in handle else []
        raise ProfileError(f"the .h5ad file has no layer {layer!r}; layers: {', '.join(available) or 'none'}")
    return handle["layers"][layer]


def matrix_shape(element) -> tuple[int, int]:
    import h5py

    shape = element.shape if isinstance(element, h5py.Dataset) else tuple(element.attrs["shape"])
    return int(shape[0]), int(shape[1])


def read_rows(element, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of a dense or sparse AnnData matrix as float64."""
    import h5py

    if isinstance(element, h5py.Dataset):
        return np.asarray(element[start:stop], dtype=np.float64)
    import anndata.io

    return anndata.io.sparse_dataset(element)[start:stop].toarray().astype(np.float64)


def obs_names(handle, start: int = 0, stop: int | None = None) -> list[str]:
    obs = handle["obs"]
    return _strings(obs[obs.attrs["_index"]], start, stop)


def var_names(handle) -> list[str]:
    var = handle["var"]
    return _strings(var[var.attrs["_index"]])


def _strings(element, start: int = 0, stop: int | None = None) -> list[str]:
    """Rows ``start:stop`` of an AnnData string array: a plain dataset, or the group anndata writes for pandas'
    string dtype (encoding ``nullable-string-array``: ``values`` and a ``mask`` of missing entries, read as "")."""
    import h5py

    if not isinstance(element, h5py.Group):
        return _decode(element[start:stop])
    if "values" not in element:
        raise ProfileError(
            "The .h5ad file's sample or gene names are stored in an unknown form "
            f"({element.attrs.get('encoding-type', 'no encoding')}): save it again with scanpy."
        )
    names = _decode(element["values"][start:stop])
    if "mask" in element:
        missing = np.asarray(element["mask"][start:stop], dtype=bool)
        names = ["" if gone else name for name, gone in zip(names, missing, strict=True)]
    return names


def parse_h5ad_upload(data: bytes, values: str, limits, known_genes: Collection[str] | None):
    """An uploaded .h5ad (whole file in memory) as a ParsedProfile, within the upload limits."""
    import h5py

    from neurix_core.io.profile import profile_from_matrix

    try:
        handle = h5py.File(io.BytesIO(data), "r")
    except OSError as exc:
        raise ProfileError(
            "The .h5ad file is damaged or not an AnnData file: save it again with scanpy."
        ) from exc
    with handle:
        if "obs" not in handle or "var" not in handle:
            raise ProfileError("The HDF5 file is not an AnnData (.h5ad) file: it has no obs/var tables.")
        element = matrix_element(handle)
        n_samples, n_genes = matrix_shape(element)
        if n_samples > limits.max_samples:
            raise LimitExceededError(
                f"The file has {n_samples:,} samples; at most {limits.max_samples:,} can be scored at once here: "
                "use `neurix cohort` for larger cohorts."
            )
        if n_genes > limits.max_genes:
            raise LimitExceededError(
                f"The file has {n_genes:,} genes; at most {limits.max_genes:,} are allowed."
            )
        matrix = read_rows(element, 0, n_samples)
        samples, genes = obs_names(handle), var_names(handle)
    parsed = profile_from_matrix(matrix, genes, samples, values, known_genes)
    parsed.orientation = "samples_by_genes"
    parsed.warnings.insert(0, "Read as AnnData (.h5ad): samples are obs, genes are var, values from X.")
    return parsed
