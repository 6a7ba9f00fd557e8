"""Trust in a prediction: where the tumour sits among measured responses, calibrated intervals, measured hit rates,
whether the profile resembles the training cell lines, and which training lines it resembles most.

Everything here is computed at training time from the cross-validation's out-of-fold predictions and the training
cell lines (``artifacts.build_trust``), stored in the bundle as optional files, and applied at prediction time with a
few vectorised look-ups (``artifacts.TrustArtifacts``). It uses only the out-of-fold prediction matrix and the scaled
model input, never the network's internals, so it holds for whatever model the bundle ships.
"""
