"""Neurix: explainable drug-response prediction from tumour gene expression.

Layers, in the order data flows: ``io`` (official readers, profile parsing) → ``data`` (screens → response matrix,
drug table, cell-line splits) → ``features`` (fingerprints, expression scaling) → ``model`` (two-tower network,
bundle) → ``train`` (fit, cross-validation, metrics, baselines) → ``predict`` → ``explain`` (LRP) → ``repurpose``
(drug map, candidates) → ``report``. ``api.Neurix`` is the front door used by the CLI and the dashboard.
"""

__version__ = "0.1.0"
