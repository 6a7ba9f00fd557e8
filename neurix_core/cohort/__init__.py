"""Cohorts at scale: partitioned, resumable prediction and explanation of thousands of samples on Dask.

``sources`` reads .h5ad / Parquet / text tables a partition at a time, ``partition`` processes one partition on
a worker, ``runner`` drives the partitions through a local or remote Dask cluster and merges the cohort
summaries, ``anndata_io`` turns predictions into AnnData.
"""

from neurix_core.cohort.anndata_io import predictions_to_anndata, read_cohort_anndata
from neurix_core.cohort.runner import CohortResult, run_cohort

__all__ = ["CohortResult", "predictions_to_anndata", "read_cohort_anndata", "run_cohort"]
