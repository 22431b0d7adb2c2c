"""Build the bundled example data in ``data/examples/`` from the shared raw data.

    python scripts/make_examples.py                         # reads ../shared/data
    python scripts/make_examples.py --source /path/to/data  # another copy of it

What it writes (only the format changes, never the content):

- ``guo_yeast/sequences.fasta`` from ``guo_yeast/protein.dictionary.tsv``
  (id, sequence) and ``guo_yeast/pairs.tsv`` (header ``id_a, id_b, label``)
  from ``guo_yeast/protein.actions.tsv``;
- ``bcr_antibody/train.parquet`` and ``test.parquet``: byte copies of
  ``bcr_train.parquet`` and ``bcr_test.parquet`` (columns ``sequence``,
  ``target``);
- a ``LICENSE`` (copied) and a ``SOURCE.md`` (provenance and counts) per folder.

Every input goes through the strict readers of :mod:`ppi.data`, and what the
checks found (ambiguous residues, repeated ids, sequences or pairs, unknown
ids, class counts) is printed and written into ``SOURCE.md``. Re-running
rewrites the same files.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
from collections import Counter
from pathlib import Path

from ppi.data.fasta import id_sequence_rows, read_fasta, write_fasta
from ppi.data.pairs import read_pairs, write_pairs
from ppi.data.tables import read_table
from ppi.errors import InputError

REPO = Path(__file__).resolve().parents[1]

GUO_SOURCE = """\
# Guo et al. (2008) yeast protein-protein interactions

- `sequences.fasta`: {proteins:,} *Saccharomyces cerevisiae* proteins, ids are
  UniProt accessions.
- `pairs.tsv`: {pairs:,} pairs (`id_a`, `id_b`, `label`): {positive:,}
  interacting (label 1) and {negative:,} non-interacting (label 0).

## Source

- Data set: Guo Y, Yu L, Wen Z, Li M. Using support vector machine combined
  with auto covariance to predict protein-protein interactions from protein
  sequences. *Nucleic Acids Research* 36(9):3025-3030, 2008.
  doi:10.1093/nar/gkn159. Positive pairs come from the DIP core subset;
  negative pairs join proteins with different subcellular locations.
- Files: `yeast/preprocessed/protein.dictionary.tsv` (id, sequence) and
  `protein.actions.tsv` (id_a, id_b, label) of
  [muhaochen/seq_ppi](https://github.com/muhaochen/seq_ppi), the code of
  Chen M et al., Multifaceted protein-protein interaction prediction based on
  Siamese residual RCNN, *Bioinformatics* 35(14):i305-i314, 2019 (PIPR).
- Licence: Apache License 2.0, see `LICENSE` (copied from that repository).

## What was changed

The format only. The dictionary became FASTA (same ids, order and sequences,
60 residues a line); the actions file became `pairs.tsv` with a header line
(same rows in the same order: all positives, then all negatives). Nothing was
removed, added or deduplicated. Rebuild with `python scripts/make_examples.py`.

## What the checks found

| check | result |
|---|---|
{counts}

Repeated pairs are kept as in the source. A random split can put copies of
one pair on both sides, so deduplicate (or split by protein) for a strict
evaluation.
"""

BCR_SOURCE = """\
# Antibody (BCR) sequences: HIV-1 vs SARS-CoV-2 binders

- `train.parquet` ({train_rows} rows) and `test.parquet` ({test_rows} rows):
  columns `sequence` (the antibody's heavy-chain protein sequence) and
  `target` (`HIV-1` or `SARS-CoV2`, the source organism of the bound
  antigen). The pandas index of each file keeps the row numbers of the
  original export.

## Source

- Files: `data/bcr_train.parquet` and `data/bcr_test.parquet` of
  [naity/protein-transformer](https://github.com/naity/protein-transformer)
  (Apache License 2.0, see `LICENSE`, copied from that repository). The split
  into train and test is that repository's own.
- Data: human B-cell receptors from the IEDB receptor export `bcr_full_v3`
  (Immune Epitope Database, https://www.iedb.org, CC BY 4.0). That
  repository's notebook `notebooks/bcr_preprocessing.ipynb` keeps the
  receptors whose antigen comes from SARS-CoV2 or HIV-1, drops repeated
  sequences and down-samples SARS-CoV2 to the HIV-1 count (228 each).
- Results reported there on `test.parquet`: a transformer trained from
  scratch, accuracy 0.652 and ROC AUC 0.707 (`runs/train01/test_metrics.json`);
  after hyper-parameter tuning, accuracy 0.761 and ROC AUC 0.837 (the tuned
  run's file `runs/tune01/test_metrics.json` changed over the repository's
  history; another version records accuracy 0.772 and ROC AUC 0.838).

## What was changed

Nothing: both files are byte copies, renamed `train.parquet` and
`test.parquet`. Rebuild with `python scripts/make_examples.py`.

## What the checks found

| check | result |
|---|---|
{counts}
"""


DSCRIPT_SOURCE = """\
# D-SCRIPT yeast benchmark pairs

- `sequences.fasta.gz`: {proteins:,} *Saccharomyces cerevisiae* proteins, ids
  are STRING ids (`4932.<ORF>`); `yeast_swissprot/string_map.tsv` maps them
  to UniProt accessions.
- `pairs.tsv.gz`: {pairs:,} pairs (`id_a`, `id_b`, `label`): {positive:,}
  interacting and {negative:,} not (about 1 in 11 positive, as in D-SCRIPT's
  cross-species evaluation).

## Source

- Files: the yeast sequences and pairs of the `data/` folder of
  [samsledje/D-SCRIPT](https://github.com/samsledje/D-SCRIPT) (MIT, see
  `LICENSE`, copied from that repository), from Sledzieski S, Singh R, Cowen L,
  Berger B. D-SCRIPT translates genome to phenome with sequence-based,
  structure-aware, genome-scale predictions of protein-protein interactions.
  *Cell Systems* 12(10):969-982, 2021. Positive pairs come from STRING
  (CC BY 4.0) physical links; negatives are random protein pairs.

## What was changed

The format only: both files gzip-compressed, pairs with a header line (same
rows, same order). Rebuild with `python scripts/make_examples.py`.

## What the checks found

| check | result |
|---|---|
{counts}

Repeated pairs are kept as in the source (4 of them with the other label).
"""

SWISSPROT_SOURCE = """\
# Reviewed yeast proteome (UniProtKB/Swiss-Prot), a UniProt dump in miniature

- `uniprot_sprot_yeast.fasta.gz`: {entries:,} reviewed *S. cerevisiae* entries
  with UniProt FASTA headers (`>sp|ACCESSION|NAME ... OS=... OX=... GN=...`),
  the format of a UniProt download; byte-identical to the source file, gzipped.
- `string_map.tsv`: `string_id`, `accession` ({mapped:,} rows), the STRING
  cross-references of those entries: maps the D-SCRIPT yeast ids to
  accessions.

## Source

- Files: `yeast_swissprot.fasta` and `yeast_swissprot.tab` (columns Entry,
  Sequence, STRING, DIP, RefSeq cross-references) of
  [daisybio/data-leakage-ppi-prediction](https://github.com/daisybio/data-leakage-ppi-prediction)
  (Bernett J, Blumenthal DB, List M. Cracking the black box of deep sequence-based
  protein-protein interaction prediction. *Briefings in Bioinformatics* 25(2),
  2024). The data are UniProt's: UniProt Consortium, UniProtKB/Swiss-Prot,
  https://www.uniprot.org, licensed CC BY 4.0 (see `LICENSE`).

## What the checks found

| check | result |
|---|---|
{counts}
"""

UNIPROT_LICENSE = """\
UniProt data (UniProtKB/Swiss-Prot entries and their cross-references) are
distributed by the UniProt Consortium under the Creative Commons Attribution
4.0 International licence (CC BY 4.0):
https://creativecommons.org/licenses/by/4.0/ and
https://www.uniprot.org/help/license
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--source",
        type=Path,
        default=REPO.parent / "shared" / "data",
        help="folder holding guo_yeast/ and bcr_antibody/ (default: %(default)s)",
    )
    parser.add_argument(
        "--dest",
        type=Path,
        default=REPO / "data" / "examples",
        help="where the examples go (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    for name in ("guo_yeast", "bcr_antibody", "dscript_yeast", "yeast_swissprot"):
        if not (args.source / name).is_dir():
            raise InputError(f"{args.source / name}: source folder not found (see --source)")
    for build in (build_guo, build_bcr, build_dscript, build_swissprot):
        facts = build(args.source, args.dest)
        print("\n".join(f"  {key}: {value}" for key, value in facts.items()))


def read_dictionary(path: Path) -> tuple[dict[str, str], dict[str, object]]:
    """The ``id<TAB>sequence`` file as ``id -> sequence``, with what was found."""
    seqs: dict[str, str] = {}
    found: Counter = Counter()
    for number, rid, seq, n_ambiguous in id_sequence_rows(path):
        found["ambiguous residues"] += n_ambiguous
        if rid in seqs and seqs[rid] != seq:
            raise InputError(f"{path}:{number}: id '{rid}' repeated with another sequence")
        found["repeated ids (same sequence)"] += rid in seqs
        seqs[rid] = seq
    groups: dict[str, list[str]] = {}
    for rid, seq in seqs.items():
        groups.setdefault(seq, []).append(rid)
    shared = [" = ".join(ids) for ids in groups.values() if len(ids) > 1]
    found["identical sequences under different ids"] = "; ".join(shared) or "none"
    return seqs, dict(found)


def build_guo(source: Path, dest: Path) -> dict[str, object]:
    src, out = source / "guo_yeast", dest / "guo_yeast"
    print(f"guo_yeast: {src} -> {out}")
    seqs, found = read_dictionary(src / "protein.dictionary.tsv")
    pairs = read_pairs(
        src / "protein.actions.tsv", known_ids=seqs, fasta_name="protein.dictionary.tsv"
    )
    keys = Counter(tuple(sorted(pair[:2])) for pair in pairs)
    facts = {
        "pairs": len(pairs),
        "positive": sum(p.label == 1 for p in pairs),
        "negative": sum(p.label == 0 for p in pairs),
        "proteins": len(seqs),
        "proteins in pairs": len({x for p in pairs for x in p[:2]}),
        "ids in pairs without a sequence": 0,  # read_pairs raises otherwise
        "repeated pairs (either order)": sum(n - 1 for n in keys.values()),
        "self pairs": sum(p.a == p.b for p in pairs),
        **found,
    }
    write_fasta(seqs, out / "sequences.fasta")
    write_pairs(pairs, out / "pairs.tsv")
    shutil.copyfile(src / "LICENSE_seq_ppi_Apache2", out / "LICENSE")
    if read_fasta(out / "sequences.fasta") != seqs or read_pairs(out / "pairs.tsv") != pairs:
        raise RuntimeError(f"{out}: the written files do not read back as the source")
    write_source(GUO_SOURCE, out / "SOURCE.md", facts)
    return facts


def build_bcr(source: Path, dest: Path) -> dict[str, object]:
    src, out = source / "bcr_antibody", dest / "bcr_antibody"
    print(f"bcr_antibody: {src} -> {out}")
    out.mkdir(parents=True, exist_ok=True)
    facts: dict[str, object] = {}
    tables = {}
    for part in ("train", "test"):
        shutil.copyfile(src / f"bcr_{part}.parquet", out / f"{part}.parquet")
        table = read_table(out / f"{part}.parquet", label_column="target")
        tables[part] = table
        counts = Counter(table.labels)
        facts[f"{part} rows"] = len(table)
        facts[f"{part} per class"] = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        facts[f"{part} ambiguous residues (read as X)"] = sum(seq.count("X") for seq in table.seqs)
    shared = set(tables["train"].seqs) & set(tables["test"].seqs)
    facts["sequences in both train and test"] = len(shared)
    shutil.copyfile(src / "LICENSE_protein-transformer_Apache2", out / "LICENSE")
    write_source(BCR_SOURCE, out / "SOURCE.md", facts)
    return facts


def build_dscript(source: Path, dest: Path) -> dict[str, object]:
    src, out = source / "dscript_yeast", dest / "dscript_yeast"
    print(f"dscript_yeast: {src} -> {out}")
    seqs = read_fasta(src / "yeast.fasta")
    pairs = read_pairs(src / "yeast_pairs.tsv", known_ids=seqs, fasta_name="yeast.fasta")
    keys = Counter(tuple(sorted(pair[:2])) for pair in pairs)
    facts = {
        "pairs": len(pairs),
        "positive": sum(p.label == 1 for p in pairs),
        "negative": sum(p.label == 0 for p in pairs),
        "proteins": len(seqs),
        "proteins in pairs": len({x for p in pairs for x in p[:2]}),
        "repeated pairs (either order)": sum(n - 1 for n in keys.values()),
        "self pairs": sum(p.a == p.b for p in pairs),
    }
    write_fasta(seqs, out / "sequences.fasta.gz")
    write_pairs(pairs, out / "pairs.tsv.gz")
    shutil.copyfile(src / "LICENSE_D-SCRIPT_MIT", out / "LICENSE")
    if read_fasta(out / "sequences.fasta.gz") != seqs or read_pairs(out / "pairs.tsv.gz") != pairs:
        raise RuntimeError(f"{out}: the written files do not read back as the source")
    write_source(DSCRIPT_SOURCE, out / "SOURCE.md", facts)
    return facts


def build_swissprot(source: Path, dest: Path) -> dict[str, object]:
    src, out = source / "yeast_swissprot", dest / "yeast_swissprot"
    print(f"yeast_swissprot: {src} -> {out}")
    out.mkdir(parents=True, exist_ok=True)
    raw = (src / "yeast_swissprot.fasta").read_bytes()
    with gzip.GzipFile(out / "uniprot_sprot_yeast.fasta.gz", "wb", mtime=0) as handle:
        handle.write(raw)
    rows = []
    for line in (src / "yeast_swissprot.tab").read_text().splitlines()[1:]:
        fields = line.split("\t")
        rows += [(sid, fields[0]) for sid in fields[2].split(";") if sid.strip()]
    (out / "string_map.tsv").write_text(
        "string_id\taccession\n" + "".join(f"{s}\t{a}\n" for s, a in rows)
    )
    (out / "LICENSE").write_text(UNIPROT_LICENSE)
    facts = {
        "entries": raw.count(b">"),
        "mapped": len(rows),
        "STRING ids mapped to two accessions": sum(
            n > 1 for n in Counter(s for s, _ in rows).values()
        ),
    }
    write_source(SWISSPROT_SOURCE, out / "SOURCE.md", facts)
    return facts


def write_source(template: str, target: Path, facts: dict[str, object]) -> None:
    """Write ``SOURCE.md``: the template with the table of what was found."""
    rows = "\n".join(
        f"| {key} | {value:,} |" if isinstance(value, int) else f"| {key} | {value} |"
        for key, value in facts.items()
    )
    target.write_text(
        template.format(counts=rows, **{k.replace(" ", "_"): v for k, v in facts.items()})
    )


if __name__ == "__main__":
    try:
        main()
    except InputError as exc:
        raise SystemExit(f"make_examples: error: {exc}") from None
