"""The project's own error types: every user-facing failure is one of these, with a readable message."""

from __future__ import annotations


class NeurixError(Exception):
    """Base class: anything the CLI, API or dashboard can show to a user as-is."""


class DataFormatError(NeurixError):
    """A file does not match the format its reader expects (missing column, wrong type, empty, ...)."""

    def __init__(self, source: str, problem: str) -> None:
        self.source = source
        self.problem = problem
        super().__init__(f"{source}: {problem}")

    def __reduce__(self) -> tuple:  # pickled by its own arguments (errors come back from worker processes)
        return (type(self), (self.source, self.problem))


class ProfileError(NeurixError):
    """An uploaded expression profile cannot be used (no genes recognised, too few genes, bad values...)."""


class BundleError(NeurixError):
    """A model bundle is missing, damaged, tampered with or from an incompatible version."""


class LimitExceededError(ProfileError):
    """An input is larger than the deployment allows (file size, samples, genes)."""
