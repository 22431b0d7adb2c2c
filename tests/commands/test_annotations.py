"""`ppi annotations` and trainings with the annotation and properties channels, end to end."""

import gzip
import json
from pathlib import Path

import pytest

from ppi.cli import run
from ppi.data.annotation_store import AnnotationStore, write_store
from ppi.data.examples import resolve
from ppi.data.fasta import read_fasta, write_fasta
from ppi.data.go_files import read_go_gene_table
from ppi.data.id_map import read_id_map
from ppi.data.pairs import read_pairs, write_pairs

FIX = Path(__file__).parents[1] / "fixtures" / "annotations"
STRING_MAP = "example:yeast_swissprot/string_map.tsv"
GN_MAP = "example:yeast_swissprot/uniprot_sprot_yeast.fasta.gz"


@pytest.fixture(scope="session")
def dscript_annotated(tmp_path_factory):
    """80 real D-SCRIPT pairs (30 positive) and a store of their proteins' real GO terms."""
    out = tmp_path_factory.mktemp("dscript_ann")
    proteins = read_fasta(resolve("example:dscript_yeast/sequences.fasta.gz"))
    mapped = read_id_map(STRING_MAP).table
    ok = [
        p
        for p in read_pairs(resolve("example:dscript_yeast/pairs.tsv.gz"))
        if all(i in mapped and len(proteins[i]) < 300 for i in (p.a, p.b))
    ]
    pairs = [p for p in ok if p.label == 1][:30] + [p for p in ok if p.label == 0][:50]
    used = {i for p in pairs for i in (p.a, p.b)}
    write_fasta({k: proteins[k] for k in used}, out / "seqs.fasta")
    write_pairs(pairs, out / "pairs.tsv")
    accs = {mapped[i][0] for i in used}
    anns = read_go_gene_table(
        resolve("example:go_yeast/go_annotations.tsv.gz"), read_id_map(GN_MAP)
    )
    write_store(out / "store.sqlite", (a for a in anns if a.accession in accs))
    return out


def _ok(args):
    assert run([str(a) for a in args]) == 0


def test_build_map_and_coverage(tmp_path, capsys):
    store = tmp_path / "s.sqlite"
    _ok(
        [
            "annotations",
            "build",
            "--store",
            store,
            "--gaf",
            FIX / "goa_yeast_head.gaf",
            "--swissprot",
            FIX / "P60137.txt",
            "--xml",
            FIX / "Q13639.xml",
            "--go-table",
            FIX / "go_genes_head.tsv",
            "--id-map",
            GN_MAP,
        ]
    )
    printed = capsys.readouterr().out
    summary = AnnotationStore(store).summary()
    assert f"{summary['accessions']} proteins" in printed
    assert {"P60137", "Q13639", "A0A023PXA5"} <= AnnotationStore(store).accessions()
    ids = tmp_path / "ids.txt"
    ids.write_text("P60137\nQ13639\nP99999\n")
    _ok(["annotations", "coverage", "--store", store, "--ids", ids])
    assert "annotated: 2 of 3 proteins (66.7%)" in capsys.readouterr().out
    dataset = tmp_path / "ds.txt"
    dataset.write_text("4932.YIL037C\n4932.NOPE\n")
    _ok(
        [
            "annotations",
            "map",
            "--ids",
            dataset,
            "--id-map",
            STRING_MAP,
            "--out",
            tmp_path / "m.tsv",
        ]
    )
    assert "1 of 2 ids could not be mapped (4932.NOPE)" in capsys.readouterr().out
    assert (tmp_path / "m.tsv").read_text() == "id\taccession\n4932.YIL037C\tP40534\n"


def test_bad_gaf_fails_with_one_line_and_leaves_the_store_alone(tmp_path, capsys):
    store = tmp_path / "s.sqlite"
    _ok(["annotations", "build", "--store", store, "--swissprot", FIX / "P60137.txt"])
    before = store.read_bytes()
    lines = (FIX / "goa_yeast_head.gaf").read_text().splitlines()
    lines[40] = lines[40] + "\textra"
    bad = tmp_path / "bad.gaf"
    bad.write_text("\n".join(lines) + "\n")
    capsys.readouterr()
    code = run(
        [
            "annotations",
            "build",
            "--store",
            str(store),
            "--xml",
            str(FIX / "Q13639.xml"),
            "--gaf",
            str(bad),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "bad.gaf:41: expected 17 tab-separated GAF 2.x columns, got 18" in err
    assert store.read_bytes() == before  # the XML read before the bad file is not in it either
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.gaf", "s.sqlite"]


@pytest.mark.slow
def test_pair_training_with_annotations_then_score(dscript_annotated, tmp_path, tiny):
    d = dscript_annotated
    args = [
        "train",
        *tiny,
        f"data.fasta={d / 'seqs.fasta'}",
        f"data.train={d / 'pairs.tsv'}",
        f"output_dir={tmp_path}",
        "data.valid_split=random",  # 90 pairs: too few for a protein-disjoint validation set
        "run_name=r",
        "train.epochs=1",
        "train.batch_size=32",
        "channels.sequence.train_crop=32",
        "channels.annotation.enabled=true",
        f"channels.annotation.store={d / 'store.sqlite'}",
        f"channels.annotation.id_map={STRING_MAP}",
        "channels.annotation.min_freq=2",
    ]
    _ok(args)
    vocab = json.loads((tmp_path / "r" / "model" / "annotation" / "vocabulary.json").read_text())
    assert vocab["leak_filter"]["active"] and vocab["leak_filter"]["terms"] == ["GO:0005515"]
    assert all("GO:0005515" not in terms for terms in vocab["terms"].values())
    assert sum(map(len, vocab["terms"].values())) > 20
    out = tmp_path / "scores.tsv"
    _ok(
        [
            "score",
            "--model",
            tmp_path / "r",
            "--fasta",
            d / "seqs.fasta",
            "--pairs",
            d / "pairs.tsv",
            "--out",
            out,
        ]
    )
    assert len(out.read_text().splitlines()) == 81


@pytest.mark.slow
def test_single_task_with_builtin_properties(tmp_path, tiny, capsys):
    _ok(
        [
            "train",
            *tiny,
            "task=single",
            "data.train=example:bcr_antibody/train.parquet",
            "data.label_column=target",
            "data.limit=80",
            "train.epochs=1",
            "train.batch_size=16",
            f"output_dir={tmp_path}",
            "run_name=b",
            "channels.sequence.train_crop=0",
            "channels.properties.enabled=true",
            "channels.properties.dipeptides=false",  # the 25 ProtParam numbers alone
        ]
    )
    stats = json.loads((tmp_path / "b" / "model" / "properties" / "properties.json").read_text())
    assert len(stats["columns"]) == 25 and len(stats["mean"]) == 25
    _ok(["evaluate", "--run", tmp_path / "b"])
    assert "accuracy" in capsys.readouterr().out


def _fails_with(capsys, args, *parts):
    assert run([str(a) for a in args]) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err, err
    # notes of the work done before the error (the split, the store) may come first
    errors = [line for line in err.splitlines() if ": error: " in line]
    assert errors == [err.splitlines()[-1]], err
    for part in parts:
        assert part in errors[0], err


def test_cut_xml_and_bad_property_tables_exit_2(guo_slice, tmp_path, tiny, capsys):
    text = (FIX / "Q13639.xml").read_text()
    cut = tmp_path / "cut.xml"
    cut.write_text(text[: len(text) // 3])
    _fails_with(
        capsys,
        ["annotations", "build", "--store", tmp_path / "s.sqlite", "--xml", cut],
        "cut.xml:",
        "expected complete UniProt XML",
    )
    assert not (tmp_path / "s.sqlite").exists()
    for flag, name in (("--swissprot", "P60137.txt"), ("--xml", "Q13639.xml")):  # gzip cut short
        whole = gzip.compress((FIX / name).read_bytes())
        cut = tmp_path / f"{name}.gz"
        cut.write_bytes(whole[: len(whole) // 2])
        _fails_with(
            capsys,
            ["annotations", "build", "--store", tmp_path / "s.sqlite", flag, cut],
            f"{name}.gz: expected a readable gzip file, got a damaged one",
        )
        assert not (tmp_path / "s.sqlite").exists()
    fasta, pairs = guo_slice
    some = list(read_fasta(fasta))[:3]
    table = tmp_path / "props.tsv"
    table.write_text("id\tcharge\n" + "".join(f"{i}\t1.0\n" for i in some))
    train = [
        "train",
        *tiny,
        f"data.fasta={fasta}",
        f"data.train={pairs}",
        f"output_dir={tmp_path}",
        "channels.properties.enabled=true",
        f"channels.properties.table={table}",
    ]
    _fails_with(capsys, train, "props.tsv: no row for", "protein(s)")
    table.write_text("id\tcharge\n" + f"{some[0]}\tpositive\n")
    _fails_with(capsys, train, "props.tsv:2: column 'charge': expected a number, got 'positive'")
