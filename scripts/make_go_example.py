"""Bundle the yeast GO annotation table (dhimmel/gene-ontology, CC BY 4.0) as example:go_yeast.

Copies the file byte for byte and writes LICENSE and SOURCE.md beside it:

    python scripts/make_go_example.py [--source ../shared/data] [--dest data/examples]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from ppi.data.go_files import read_go_gene_table
from ppi.data.id_map import read_id_map

REPO = Path(__file__).resolve().parents[1]
FILE = "GO_annotations-559292-direct-allev.tsv.gz"
LICENSE = """Gene Ontology annotations (GO Consortium data, as packaged by
dhimmel/gene-ontology) are distributed under the Creative Commons Attribution
4.0 International licence (CC BY 4.0):
https://creativecommons.org/licenses/by/4.0/ and http://geneontology.org/docs/go-citation-policy/
"""
SOURCE = """# Yeast GO annotations (GO term -> genes)

- `go_annotations.tsv.gz`: one GO term per row (`go_id`, `go_name`,
  `go_domain`, `tax_id`, `annotation_type`, `size`, `gene_ids`,
  `gene_symbols`) for *S. cerevisiae* S288c (taxon 559292): direct
  annotations, all evidence codes (the file gives no per-gene evidence);
  byte-identical to the source file. Build an annotation store from it with
  `ppi annotations build --store yeast.sqlite --go-table example:go_yeast/go_annotations.tsv.gz
  --id-map example:yeast_swissprot/uniprot_sprot_yeast.fasta.gz` (gene symbols
  are mapped to accessions through `GN=` of the reviewed yeast proteome).

## Source

- File `{file}` of
  [dhimmel/gene-ontology](https://github.com/dhimmel/gene-ontology)
  (Himmelstein DS, Zhang L. User-friendly Gene Ontology annotations, Zenodo,
  doi:10.5281/zenodo.21711; 2018 release). The annotations are the Gene
  Ontology Consortium's, licensed CC BY 4.0 (see `LICENSE`).

## What the checks found

| check | result |
|---|---|
| GO terms (rows) | {terms:,} |
| gene-term annotations mapped to reviewed accessions | {mapped:,} |
| proteins annotated | {proteins:,} |
| gene symbols without a reviewed accession | {unmapped:,} |
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--dest", type=Path, default=REPO / "data" / "examples")
    args = parser.parse_args(argv)
    out = args.dest / "go_yeast"
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(args.source / "go_yeast" / FILE, out / "go_annotations.tsv.gz")
    id_map = read_id_map("example:yeast_swissprot/uniprot_sprot_yeast.fasta.gz")
    anns = list(read_go_gene_table(out / "go_annotations.tsv.gz", id_map))
    terms = len({a.term for a in anns})
    facts = dict(terms=terms, mapped=len(anns), proteins=len({a.accession for a in anns}))
    facts["unmapped"] = len(id_map.unmapped)
    (out / "LICENSE").write_text(LICENSE)
    (out / "SOURCE.md").write_text(SOURCE.format(file=FILE, **facts))
    print(f"go_yeast: {out} ({facts})")


if __name__ == "__main__":
    main()
