"""Chemical features for the drug tower: Morgan (ECFP4-like) bit fingerprints from SMILES via RDKit."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

FINGERPRINT_BITS = 1024
FINGERPRINT_RADIUS = 2


def morgan_fingerprints(
    smiles: Sequence[str], n_bits: int = FINGERPRINT_BITS, radius: int = FINGERPRINT_RADIUS
) -> tuple[np.ndarray, np.ndarray]:
    """Bit fingerprints (drugs × n_bits, float32) and a mask of drugs whose SMILES parsed.

    Drugs without (valid) SMILES get an all-zero row; the drug tower's identity embedding still distinguishes them.
    """
    from rdkit import Chem, RDLogger
    from rdkit.Chem import rdFingerprintGenerator

    RDLogger.DisableLog("rdApp.*")
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
    features = np.zeros((len(smiles), n_bits), dtype=np.float32)
    parsed = np.zeros(len(smiles), dtype=bool)
    for i, text in enumerate(smiles):
        if not text:
            continue
        molecule = Chem.MolFromSmiles(text)
        if molecule is None:
            continue
        features[i] = generator.GetFingerprintAsNumPy(molecule).astype(np.float32)
        parsed[i] = True
    return features, parsed
