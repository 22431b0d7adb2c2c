"""Every bad input: one line on stderr, exit code 2, nothing half-written."""

import pytest

from ppi.cli import run


@pytest.fixture
def files(tmp_path, guo_slice):
    fasta, pairs = guo_slice
    return {"fasta": fasta, "pairs": pairs, "dir": tmp_path}


def _fails(capsys, args, *expected):
    assert run(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    for part in expected:
        assert part in err, err


def _write(path, text):
    path.write_text(text)
    return path


CASES = {
    "empty_record": (">A\n\n>B\nMKV\n", None, ["empty", "A"]),
    "bad_residue": (">A\nMK7V\n", None, ["'7'", "position 3", "A"]),
    "duplicate_ids": (">A\nMKV\n>A\nMKW\n", None, ["A", "duplicate"]),
    "empty_fasta": ("", None, ["empty"]),
    "unknown_ids": (">A\nMKV\n>B\nMKW\n", "A\tB\t1\nA\tC\t0\nD\tE\t1\n", ["not in", "C"]),
    "bad_label": (">A\nMKV\n>B\nMKW\n", "A\tB\t1\nA\tB\tyes\n", ["label", "yes", ":2"]),
    "empty_pairs": (">A\nMKV\n>B\nMKW\n", "", ["empty"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_data_files(case, tmp_path, capsys, tiny):
    fasta_text, pairs_text, expected = CASES[case]
    fasta = _write(tmp_path / "p.fasta", fasta_text)
    pairs = _write(tmp_path / "p.tsv", pairs_text if pairs_text is not None else "A\tB\t1\n")
    args = [
        "train",
        *tiny,
        f"data.fasta={fasta}",
        f"data.train={pairs}",
        f"output_dir={tmp_path / 'runs'}",
    ]
    _fails(capsys, args, *expected)
    assert not (tmp_path / "runs").exists()


def test_missing_file(tmp_path, capsys, tiny):
    _fails(
        capsys,
        ["train", *tiny, f"data.fasta={tmp_path / 'no.fasta'}", f"output_dir={tmp_path / 'runs'}"],
        "no.fasta",
    )
    assert not (tmp_path / "runs").exists()


def test_unknown_config_key(capsys):
    _fails(capsys, ["train", "train.epoch=3"], "Unknown config key 'train.epoch'", "epochs")


def test_resume_of_a_folder_that_is_not_a_run(tmp_path, capsys):
    _fails(capsys, ["train", f"resume={tmp_path}"], "not a run directory")
