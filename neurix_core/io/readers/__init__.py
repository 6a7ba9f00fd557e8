"""Bounded readers for uploaded tables: bytes → grid of strings, with every size limit enforced while reading.

Why a package of its own: an upload is untrusted, so reading must stop as soon as a limit is crossed (before the
table is built), never after. ``read_grid`` is the one entry point; ``profile.py`` turns the grid into samples ×
genes.
"""

from neurix_core.io.readers.bounds import ProfileLimits
from neurix_core.io.readers.grid import precheck, read_grid

__all__ = ["ProfileLimits", "precheck", "read_grid"]
