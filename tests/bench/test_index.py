"""scripts/bench_index.py end to end on a tiny synthetic set."""

import json
import runpy
import sys
from pathlib import Path

from ppi.bench.index import clustered_vectors, recall_at

SCRIPT = Path(__file__).parents[2] / "scripts" / "bench_index.py"


def test_bench_script_compares_every_type_with_exact_search(tmp_path, monkeypatch, capsys):
    out = tmp_path / "bench.json"
    argv = [
        "bench_index.py",
        "--sizes",
        "3000",
        "--dim",
        "16",
        "--queries",
        "50",
        "--out",
        str(out),
    ]
    monkeypatch.setattr(sys, "argv", argv)
    try:
        runpy.run_path(str(SCRIPT), run_name="__main__")
    except SystemExit as exc:
        assert exc.code == 0
    rows = json.loads(out.read_text())
    assert {r["type"] for r in rows} == {"flat", "ivf-flat", "hnsw", "ivf-pq"}
    flat = rows[0]
    assert flat["type"] == "flat" and flat["recall@10"] == 1.0 and flat["qps_vs_flat"] == 1.0
    assert flat["bytes_per_vector"] >= 8 * 4
    pq = [r for r in rows if r["type"] == "ivf-pq"]
    assert all(r["bytes_per_vector"] < flat["bytes_per_vector"] for r in pq)
    best_ivf = max(r["recall@10"] for r in rows if r["type"] == "ivf-flat")
    assert best_ivf > 0.9
    assert "| data | type | setting |" in capsys.readouterr().out


def test_clustered_vectors_are_unit_rows_and_recall_counts_overlap():
    x = clustered_vectors(500, 8, seed=3)
    assert x.shape == (500, 8) and abs(float((x * x).sum(1).mean()) - 1) < 1e-5
    assert recall_at([[1, 2, 3]], [[3, 4, 1]]) == 2 / 3
