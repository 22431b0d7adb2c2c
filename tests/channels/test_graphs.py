from __future__ import annotations

import torch

from ppi.channels._graphs import GraphCache, build_edges, rbf


def _brute(coords: torch.Tensor, radius: float, k: int) -> set[tuple[int, int]]:
    d = torch.cdist(coords, coords)
    d.fill_diagonal_(float("inf"))
    edges = set()
    for i in range(len(coords)):
        if radius > 0:
            edges |= {(int(j), i) for j in (d[i] <= radius).nonzero().flatten()}
        if k > 0:
            edges |= {(int(j), i) for j in d[i].topk(k, largest=False).indices}
    return edges


def test_chunked_edges_equal_the_full_matrix():
    torch.manual_seed(0)
    coords = torch.randn(300, 3) * 12
    for radius, k in ((8.0, 0), (0.0, 5), (6.0, 4)):
        edge_index, dist = build_edges(coords, radius, k, chunk=37)
        got = {(int(s), int(t)) for s, t in edge_index.T}
        assert got == _brute(coords, radius, k)
        assert len(got) == edge_index.shape[1]  # no duplicates
        expected = (coords[edge_index[0]] - coords[edge_index[1]]).norm(dim=-1)
        torch.testing.assert_close(dist, expected)


def test_knn_gives_every_residue_k_neighbours_without_self_loops():
    coords = torch.randn(50, 3) * 10
    edge_index, _ = build_edges(coords, radius=0.0, k=6)
    assert torch.bincount(edge_index[1], minlength=50).eq(6).all()
    assert (edge_index[0] != edge_index[1]).all()


def test_rbf_peaks_at_its_centre():
    feats = rbf(torch.tensor([0.0, 20.0]), bins=16, cutoff=20.0)
    assert feats.shape == (2, 16)
    assert feats[0].argmax() == 0 and feats[1].argmax() == 15


def test_graph_cache_round_trip(tmp_path):
    cache = GraphCache("test-graphs", tmp_path)
    entry = {"positions": torch.arange(4), "dist": torch.rand(7)}
    cache.put_graph("key", entry)
    assert "key" in cache and "other" not in cache
    back = cache.get_graph("key")
    assert torch.equal(back["positions"], entry["positions"])
    assert (cache.directory / "IDENTITY").read_text().strip() == "test-graphs"
