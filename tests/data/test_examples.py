import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from ppi.data.examples import available, resolve
from ppi.data.fasta import read_fasta
from ppi.data.pairs import read_pairs
from ppi.data.tables import read_table
from ppi.errors import InputError


def test_plain_paths_pass_through_with_user_expanded(tmp_path):
    assert resolve(str(tmp_path / "x.tsv")) == tmp_path / "x.tsv"
    assert resolve(tmp_path) == tmp_path
    assert resolve("~/pairs.tsv") == Path.home() / "pairs.tsv"


def test_every_example_folder_has_licence_and_source():
    root = resolve("example:guo_yeast").parent
    licences = {
        "guo_yeast": "Version 2.0, January 2004",
        "bcr_antibody": "Version 2.0, January 2004",
        "dscript_yeast": "MIT License",
        "yeast_swissprot": "CC BY 4.0",
        "go_yeast": "CC BY 4.0",
    }
    for folder, words in licences.items():
        assert words in (root / folder / "LICENSE").read_text()
        assert "## Source" in (root / folder / "SOURCE.md").read_text()
    assert available() == [
        "bcr_antibody/test.parquet",
        "bcr_antibody/train.parquet",
        "dscript_yeast/pairs.tsv.gz",
        "dscript_yeast/sequences.fasta.gz",
        "go_yeast/go_annotations.tsv.gz",
        "guo_yeast/pairs.tsv",
        "guo_yeast/sequences.fasta",
        "yeast_swissprot/string_map.tsv",
        "yeast_swissprot/uniprot_sprot_yeast.fasta.gz",
    ]


@pytest.mark.parametrize("ref", ["example:guo_yeast/nope.tsv", "example:", "example:../fasta.py"])
def test_unknown_example_lists_the_available_files(ref):
    with pytest.raises(InputError) as err:
        resolve(ref)
    message = str(err.value)
    assert message.startswith(f"{ref}: expected a bundled example")
    assert "guo_yeast/pairs.tsv" in message and "bcr_antibody/train.parquet" in message


def test_guo_yeast_reads_cleanly_against_its_fasta():
    seqs = read_fasta(resolve("example:guo_yeast/sequences.fasta"))
    pairs = read_pairs(
        resolve("example:guo_yeast/pairs.tsv"), known_ids=seqs, fasta_name="sequences.fasta"
    )
    assert len(seqs) == 2497
    assert len(pairs) == 11188
    assert Counter(p.label for p in pairs) == {1.0: 5594, 0.0: 5594}
    assert {x for p in pairs for x in (p.a, p.b)} == set(seqs)


def test_bcr_antibody_split_is_balanced():
    train = read_table(resolve("example:bcr_antibody/train.parquet"), label_column="target")
    test = read_table(resolve("example:bcr_antibody/test.parquet"), label_column="target")
    assert Counter(train.labels) == {"HIV-1": 182, "SARS-CoV2": 182}
    assert Counter(test.labels) == {"HIV-1": 46, "SARS-CoV2": 46}
    assert not set(train.seqs) & set(test.seqs)


def test_data_modules_import_without_heavy_dependencies():
    code = (
        "import sys, ppi.data, ppi.data.fasta, ppi.data.pairs, ppi.data.splits, ppi.data.examples;"
        "print(sorted(m for m in ('pandas', 'torch', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
