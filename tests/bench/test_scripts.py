"""The three benchmark scripts end to end on tiny settings: their tables and JSON."""

import json
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def _script(name, monkeypatch, *argv):
    monkeypatch.setattr(sys, "argv", [name, *map(str, argv)])
    runpy.run_path(str(SCRIPTS / name), run_name="__main__")


def test_bench_embed_agrees_with_fair_esm(tmp_path, monkeypatch, capsys):
    out = tmp_path / "embed.json"
    argv = ["--n", "3", "--max-len", "120", "--matmul-size", "256", "--repeats", "1"]
    _script("bench_embed.py", monkeypatch, *argv, "--out", out)
    report = json.loads(out.read_text())
    methods = [r["method"] for r in report["results"]]
    assert methods == ["ppi", "fair-esm extract.py", "naive loop (8, file order)"]
    for row in report["results"]:
        assert row["max_abs_diff_vs_ppi"] < 1e-4  # the same embeddings from the same weights
        assert row["residues_per_s"] > 0 and row["pct_of_matmul"] > 0
    assert report["proteins"] == 3 and report["matmul_gflops"] > 0
    assert "| ppi |" in capsys.readouterr().out


def test_bench_score_times_screen_and_score(trained_run, guo_slice, tmp_path, monkeypatch):
    out = tmp_path / "score.json"
    args = ["--model", trained_run, "--fasta", guo_slice[0], "--proteins", "12"]
    _script("bench_score.py", monkeypatch, *args, "--score-pairs", "30", "--out", out)
    rows = json.loads(out.read_text())["results"]
    assert [(r["command"], r["cache"]) for r in rows] == [
        ("ppi screen", "cold"),
        ("ppi screen", "warm"),
        ("ppi score", "cold"),
        ("ppi score", "warm"),
    ]
    assert [r["pairs"] for r in rows] == [66, 66, 30, 30]
    assert rows[3]["vs_warm_score"] == pytest.approx(1.0)


@pytest.mark.slow
def test_bench_train_one_process(guo_slice, tiny, tmp_path, monkeypatch):
    out = tmp_path / "train.json"
    fasta, pairs = guo_slice
    argv = ["--fasta", fasta, "--pairs", pairs, "--limit", "40", "--processes", "1"]
    _script("bench_train.py", monkeypatch, *argv, "--out", out, *tiny, "train.batch_size=16")
    rows = json.loads(out.read_text())["results"]
    assert [(r["backbone"], r["processes"]) for r in rows] == [("frozen", 1), ("full", 1)]
    assert all(r["pairs"] == 32 and r["pairs_per_s"] > 0 for r in rows)


def test_bench_build_memory_builds_both_dumps(tmp_path, monkeypatch):
    out = tmp_path / "memory.json"
    _script("bench_build_memory.py", monkeypatch, "--entries", 400, "--out", out)
    rows = json.loads(out.read_text())["results"]
    assert [r["entries"] for r in rows] == [40, 400]
    assert all(r["peak_mb"] > 0 and r["index_mb"] > 0 for r in rows)
    assert rows[0]["peak_vs_small"] == 1 and rows[1]["residues"] > rows[0]["residues"]


def test_bench_pretrain_memory_reads_the_same_epoch_both_ways(tmp_path, monkeypatch):
    out = tmp_path / "pretrain_memory.json"
    _script("bench_pretrain_memory.py", monkeypatch, "--entries", 300, "--out", out)
    report = json.loads(out.read_text())
    rows = report["results"]
    assert [(r["contender"], r["processes"]) for r in rows] == [
        ("strings", 1),
        ("store", 1),
        ("strings", 2),
        ("store", 2),
    ]
    # both contenders read every residue of one epoch's crops (the script checks they agree)
    assert rows[0]["residues_read"] == rows[1]["residues_read"] > 0
    assert rows[2]["residues_read"] == rows[3]["residues_read"] > 0
    assert rows[1]["pss_vs_strings"] == rows[1]["pss_rise_mb"] / rows[0]["pss_rise_mb"]
    assert report["sequences"] == 300 and report["store_mb"] > report["residues"] / 2**20


def test_bench_transfer_runs_sharing_one_out_keep_each_other_s_rows(tmp_path):
    bench = runpy.run_path(str(SCRIPTS / "bench_transfer.py"))
    path = tmp_path / "results.json"

    def row(tag, seeds):
        runs = {"set": [f"tag={tag}"], "seeds": {str(s): {"aupr": s / 10} for s in seeds}}
        return {"baselines": {"degree": {"aupr": 0.1}}, "pairs": {"test": 9}, "models": {tag: runs}}

    # two processes started from the same empty file: neither sees the other's rows in memory
    bench["save_results"](path, "c3", row("a", [0]), "a")
    bench["save_results"](path, "homology", row("a", [0]), "a")
    bench["save_results"](path, "c3", row("b", [1]), "b")
    bench["save_results"](path, "c3", row("a", [2]), "a")  # seed 2 of tag a, run elsewhere
    saved = json.loads(path.read_text())
    assert set(saved) == {"c3", "homology"}
    assert set(saved["c3"]["models"]) == {"a", "b"}
    assert set(saved["c3"]["models"]["a"]["seeds"]) == {"0", "2"}
    assert not path.with_name("results.json.lock").exists()


def test_bench_transfer_baselines_hold_the_composition_setting_best_on_test():
    from ppi.data.pairs import Pair

    bench = runpy.run_path(str(SCRIPTS / "bench_transfer.py"))
    rng = np.random.default_rng(0)
    proteins = {
        f"P{i}": "".join(rng.choice(list("ACDEFGHIKLMNPQRSTVWY"), int(rng.integers(30, 600))))
        for i in range(160)
    }
    pairs = []
    for _ in range(1200):
        a, b = (str(v) for v in rng.choice(sorted(proteins), 2, replace=False))
        pairs.append(Pair(a, b, float(len(proteins[a]) + len(proteins[b]) > 700)))
    train = [p for p in pairs if int(p.a[1:]) < 110 and int(p.b[1:]) < 110]
    test = [p for p in pairs if int(p.a[1:]) >= 110 and int(p.b[1:]) >= 110]
    row = bench["baseline_rows"](proteins, train, test)
    table = row["baselines"]
    best = table[bench["BEST_ON_TEST"]]
    assert best["aupr"] >= table["composition"]["aupr"]
    assert best["choice"]["setting"].startswith("aa20+")  # length decides these pairs
    assert row["strongest"] == max(table, key=lambda n: table[n]["aupr"])
    line = bench["format_row"]("c3", {**row, "models": {"t": {"seeds": {}}}}, "t")
    assert f"best on test {best['aupr']:.3f} ({best['choice']['setting']})" in line


def test_bench_transfer_averages_the_seeds_pair_by_pair(tmp_path):
    from ppi.data.pairs import Pair
    from ppi.evaluation.metrics import binary_metrics

    bench = runpy.run_path(str(SCRIPTS / "bench_transfer.py"))
    test = [Pair("a", "b", 1), Pair("a", "c", 0), Pair("b", "c", 0), Pair("c", "d", 1)]
    # seed 0 ranks one negative above a positive, seed 1 another: the average ranks all right
    seeds = [[0.9, 0.8, 0.1, 0.7], [0.6, 0.1, 0.9, 0.8]]
    files = []
    for k, probs in enumerate(seeds):
        path = tmp_path / f"scores{k}.tsv"
        rows = [
            f"{p.a}\t{p.b}\t{q}\n" for p, q in zip(reversed(test), reversed(probs), strict=True)
        ]
        path.write_text("id_a\tid_b\tprobability\n" + "".join(rows))  # another order than test
        files.append(bench["read_scores"](path))
    y = np.array([p.label for p in test])
    single = [binary_metrics(y, np.array(p))["aupr"] for p in seeds]
    averaged = bench["averaged_aupr"](test, files)
    assert averaged == binary_metrics(y, np.mean(seeds, axis=0))["aupr"] == 1.0
    assert max(single) < 1.0
    del files[1][("c", "d")]
    with pytest.raises(ValueError, match="1 test pairs have no score"):
        bench["averaged_aupr"](test, files)

    # two processes averaging other seed groups of one tag keep both groups
    path = tmp_path / "results.json"
    for seeds, aupr in ((["0", "1"], averaged), (["2", "3"], 0.5)):
        row = {"baselines": {}, "pairs": {"test": 4}, "models": {"t": {"set": [], "seeds": {}}}}
        bench["averages"](row["models"]["t"])["+".join(seeds)] = {"seeds": seeds, "aupr": aupr}
        bench["save_results"](path, "c3", row, "t")
    saved = json.loads(path.read_text())["c3"]["models"]["t"]["seed_averages"]
    assert {k: v["aupr"] for k, v in saved.items()} == {"0+1": 1.0, "2+3": 0.5}
    # a results file of before, with one seed_average, reads as that group
    old = {"seed_average": {"seeds": ["4", "5"], "aupr": 0.25}}
    assert bench["averages"](old) == {"4+5": {"seeds": ["4", "5"], "aupr": 0.25}}


def test_bench_pretrain_memory_stops_when_a_worker_fails(tmp_path):
    """A worker that dies must not leave the bench waiting on the others for good."""
    from ppi.bench.pretrain_memory import run_workers

    with pytest.raises(RuntimeError, match="a strings worker failed"):
        run_workers("strings", str(tmp_path / "missing.fasta"), 2)
