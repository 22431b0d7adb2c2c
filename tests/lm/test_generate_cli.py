import pytest

from ppi.cli import run
from ppi.data.fasta import read_fasta, write_fasta


def test_generated_sequences_ranked_by_partner_probability(tiny_lm_folder, trained_run, tmp_path):
    partners = tmp_path / "partners.fasta"
    write_fasta({"T1": "MKTAYIAKQRQISFVKSHFSRQLEERLG", "T2": "GSHMLEDPVAGKKAVVTGAS"}, partners)
    out = tmp_path / "ranked.tsv"
    code = run(
        [
            "generate",
            "--model",
            str(tiny_lm_folder),
            "--num",
            "5",
            "--length",
            "30",
            "--forbid",
            "C",
            "--score-with",
            str(trained_run),
            "--partner",
            str(partners),
            "--out",
            str(out),
        ]
    )
    assert code == 0
    header, *rows = [line.split("\t") for line in out.read_text().splitlines()]
    assert header[-3:] == ["p_T1", "p_T2", "sequence"] and len(rows) == 5
    best = [max(float(r[-3]), float(r[-2])) for r in rows]
    assert best == sorted(best, reverse=True)
    assert all(0 < float(r[-3]) < 1 for r in rows)
    fasta = read_fasta(tmp_path / "ranked.fasta")
    assert list(fasta) == [r[0] for r in rows] and all("C" not in s for s in fasta.values())


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--length", "20", "--score-with", "runs/x"], "go together"),
        (["--length", "20", "--template", "AAXX"], "template has 4"),
        (["--length", "20-10"], "--length"),
        (["--length", "20", "--forbid", "C7"], "--forbid"),
        (["--length", "5", "--motif", "HEXXHH"], "impossible constraints"),
        (
            ["--length", "20", "--max-fraction", "C=0.0", "--template", "C" + "X" * 19],
            "fixed residues",
        ),
    ],
)
def test_bad_options_are_one_line_and_write_nothing(tiny_lm_folder, tmp_path, capsys, extra, words):
    out = tmp_path / "g.fasta"
    assert run(["generate", "--model", str(tiny_lm_folder), "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and len(err.splitlines()) == 1
    assert not out.exists() and not (tmp_path / "g.tsv").exists()


def test_model_folder_without_lm_head_is_an_error(trained_run, tmp_path, capsys):
    code = run(
        [
            "generate",
            "--model",
            str(trained_run / "model"),
            "--length",
            "20",
            "--out",
            str(tmp_path / "g.fasta"),
        ]
    )
    assert code == 2
    assert "masked-LM head" in capsys.readouterr().err
