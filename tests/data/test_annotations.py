import gzip
import json
from collections import Counter
from pathlib import Path

import pytest

from ppi.data.annotations import (
    entry_annotations,
    read_swissprot,
    read_uniprot_json,
    read_uniprot_tsv,
    read_uniprot_xml,
)
from ppi.data.go_files import read_gaf, read_go_gene_table
from ppi.data.id_map import IdMap, read_id_map
from ppi.errors import InputError

FIX = Path(__file__).parents[1] / "fixtures" / "annotations"


def test_swissprot_flat_file_terms_namespaces_and_evidence():
    anns = list(read_swissprot(FIX / "P60137.txt"))
    ns = Counter(a.namespace for a in anns)
    assert ns == {"keyword": 10, "go_cc": 4, "domain": 3, "go_bp": 1, "location": 1}
    go = next(a for a in anns if a.term == "GO:0009536")
    assert (go.accession, go.namespace, go.evidence, go.name) == (
        "P60137",
        "go_cc",
        "IC",
        "plastid",
    )
    assert go.date == "2019-12-11"
    assert any(a.term == "PF02419" and a.namespace == "domain" for a in anns)
    leaky = [a for a in read_swissprot(FIX / "sp016") if a.term == "GO:0005515"]
    assert leaky and leaky[0].evidence == "IPI" and leaky[0].namespace == "go_mf"


def test_uniprot_xml_streams_entries_and_maps_eco_codes(tmp_path):
    anns = list(read_uniprot_xml(FIX / "Q13639.xml"))
    assert {a.accession for a in anns} == {"Q13639"}
    assert {a.term for a in anns if a.namespace == "location"} == {"Cell membrane", "Endosome"}
    assert any(a.term.startswith("KW-") for a in anns if a.namespace == "keyword")
    gz = tmp_path / "two.xml.gz"
    # two files' entries in one gzipped document
    text = (FIX / "Q13639.xml").read_text()
    other = (FIX / "F2CXE6.xml").read_text()
    entry = other[other.index("<entry") : other.rindex("</entry>") + len("</entry>")]
    gz.write_bytes(gzip.compress(text.replace("</uniprot>", entry + "</uniprot>").encode()))
    assert {a.accession for a in read_uniprot_xml(gz)} == {"Q13639", "F2CXE6"}


def test_xml_cut_short_names_the_line_and_last_entry(tmp_path):
    text = (FIX / "Q13639.xml").read_text()
    cut = tmp_path / "cut.xml"
    cut.write_text(text[: len(text) // 2])
    with pytest.raises(InputError, match=r"cut\.xml:\d+: expected complete UniProt XML.*entry 0"):
        list(read_uniprot_xml(cut))


def test_gaf_reads_uniprot_rows_skips_not_and_maps_other_databases(tmp_path):
    anns = list(read_gaf(FIX / "goa_yeast_head.gaf"))
    assert {a.source for a in anns} == {"goa_yeast_head.gaf"}
    assert sum(a.evidence == "IPI" for a in anns) == 4
    first = anns[0]
    assert (first.accession, first.term, first.namespace, first.date) == (
        "A0A023PXA5",
        "GO:0003674",
        "go_mf",
        "2003-07-30",
    )
    # the same rows as an SGD-keyed file: mapped through the gene symbol
    lines = (FIX / "gene_association_head.gaf").read_text().splitlines()
    rows = [x.split("\t") for x in lines if not x.startswith("!")]
    sgd = tmp_path / "sgd.gaf"
    sgd.write_text("\n".join("\t".join(["SGD", "S0000" + r[1], *r[2:]]) for r in rows) + "\n")
    id_map = IdMap({"TOP3": ["P13099"]})
    mapped = list(read_gaf(sgd, id_map))
    assert mapped and {a.accession for a in mapped} == {"P13099"}
    assert "MPH2" in id_map.unmapped


def test_gaf_with_a_wrong_column_count_names_the_line(tmp_path):
    lines = (FIX / "goa_yeast_head.gaf").read_text().splitlines()
    lines[30] = "\t".join(lines[30].split("\t")[:12])
    bad = tmp_path / "bad.gaf"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        InputError, match=r"bad\.gaf:31: expected 17 tab-separated GAF 2.x columns, got 12"
    ):
        list(read_gaf(bad))


def test_go_gene_table_maps_symbols_through_uniprot_headers():
    id_map = read_id_map("example:yeast_swissprot/uniprot_sprot_yeast.fasta.gz")
    anns = list(read_go_gene_table(FIX / "go_genes_head.tsv", id_map))
    zrt1 = [a for a in anns if a.term == "GO:0000006"]
    assert len(zrt1) == 1 and zrt1[0].namespace == "go_mf"
    assert zrt1[0].accession == id_map.lookup("ZRT1")[0]
    assert {a.namespace for a in anns} <= {"go_bp", "go_mf", "go_cc"}


def test_json_entry_and_tsv_export(tmp_path):
    entry = {
        "primaryAccession": "P40534",
        "entryAudit": {"lastAnnotationUpdateDate": "2024-01-01"},
        "uniProtKBCrossReferences": [
            {
                "database": "GO",
                "id": "GO:0005515",
                "properties": [
                    {"key": "GoTerm", "value": "F:protein binding"},
                    {"key": "GoEvidenceType", "value": "IPI:IntAct"},
                ],
            },
            {
                "database": "Pfam",
                "id": "PF00001",
                "properties": [{"key": "EntryName", "value": "x"}],
            },
        ],
        "keywords": [{"id": "KW-0472", "name": "Membrane"}],
        "comments": [
            {
                "commentType": "SUBCELLULAR LOCATION",
                "subcellularLocations": [{"location": {"value": "Membrane", "id": "SL-0162"}}],
            }
        ],
        "proteinDescription": {"recommendedName": {"ecNumbers": [{"value": "3.1.1.1"}]}},
    }
    anns = {(a.term, a.namespace, a.evidence) for a in entry_annotations(entry, "x")}
    assert anns == {
        ("GO:0005515", "go_mf", "IPI"),
        ("PF00001", "domain", ""),
        ("KW-0472", "keyword", ""),
        ("SL-0162", "location", ""),
        ("EC:3.1.1.1", "ec", ""),
    }
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"results": [entry]}))
    assert len(list(read_uniprot_json(path))) == 5
    path.write_text('{"results": [')
    with pytest.raises(InputError, match="expected UniProt JSON"):
        list(read_uniprot_json(path))
    tsv = tmp_path / "export.tsv"
    tsv.write_text(
        "Entry\tKeyword ID\tGene Ontology (cellular component)\tEC number\n"
        "P40534\tKW-0472; KW-0812\tmembrane [GO:0016020]\t3.1.1.1\n"
    )
    got = {(a.accession, a.term, a.namespace) for a in read_uniprot_tsv(tsv)}
    assert got == {
        ("P40534", "KW-0472", "keyword"),
        ("P40534", "KW-0812", "keyword"),
        ("P40534", "GO:0016020", "go_cc"),
        ("P40534", "EC:3.1.1.1", "ec"),
    }


def test_non_utf8_swissprot_file_names_the_line(tmp_path):
    text = (Path(__file__).parents[1] / "fixtures" / "annotations" / "P60137.txt").read_bytes()
    lines = text.split(b"\n")
    lines[4] += b" caf\xe9"
    path = tmp_path / "sp.txt"
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(InputError, match=r"sp.txt:5: expected UTF-8 text"):
        list(read_swissprot(path))
