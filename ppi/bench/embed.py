"""Residues per second of ppi's ESM-2 embedding path against fair-esm's, same weights.

Three ways to get the last-layer per-residue embeddings of the same proteins
from one randomly initialised ESM-2 model of the ``esm2_t6_8M_UR50D`` shape
(6 layers, width 320, 20 heads; the model hub is out of reach, and speed does
not depend on the weights' values):

* ``ppi``: :class:`ppi.backbones.esm2.Esm2Backbone` (windows, token-budget
  chunks, the lean forward pass of :mod:`ppi.backbones._esm_fast`);
* ``fair-esm extract.py``: fair-esm's own batching as its ``scripts/extract.py``
  does it: ``FastaBatchedDataset.get_batch_indices(4096)`` (length-sorted
  batches under a 4,096-token budget), fp32, every layer's representation;
* ``naive loop``: 8 sequences at a time in file order, padded, through
  ``ESM2.forward``.

The achieved FLOP/s counts the useful arithmetic (real tokens only: projections,
feed-forward and attention of every block) over the time taken, against the
machine's measured dense matrix-product throughput.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch

from ppi.bench.timing import best_time, matmul_gflops, sample_sequences, table, write_report

LAYERS, WIDTH, HEADS = 6, 320, 20


def build_models(directory: Path):
    """A random ESM-2 8M-shaped model saved in fair-esm's format, loaded by ppi's backbone."""
    import esm
    from esm.model.esm2 import ESM2

    from ppi.backbones.esm2 import Esm2Backbone, Esm2Config, save_checkpoint

    torch.manual_seed(0)
    alphabet = esm.data.Alphabet.from_architecture("ESM-1b")
    model = ESM2(num_layers=LAYERS, embed_dim=WIDTH, attention_heads=HEADS, alphabet=alphabet)
    path = directory / "esm2_t6_8M_random.pt"
    save_checkpoint(model.eval(), path)
    backbone = Esm2Backbone(Esm2Config(path=str(path), layer=-1, finetune="frozen")).eval()
    return backbone, backbone.model, backbone.esm_alphabet


def useful_flops(lengths: list[int]) -> float:
    """Multiply-adds x 2 of every block on the real tokens (BOS and EOS included)."""
    total = 0.0
    for n in lengths:
        t = n + 2
        total += LAYERS * (2 * t * (4 * WIDTH**2 + 8 * WIDTH**2) + 4 * t * t * WIDTH)
    return total


def run_ppi(backbone, seqs: list[str]) -> list[torch.Tensor]:
    """The ppi path: the backbone's forward over all sequences."""
    with torch.inference_mode():
        emb, _ = backbone(seqs)  # (B, L, D)
    return [emb[i, : len(s)].clone() for i, s in enumerate(seqs)]


def run_extract(model, alphabet, seqs: list[str]) -> list[torch.Tensor]:
    """fair-esm's extract.py batching: length-sorted batches under 4,096 tokens, all layers."""
    from esm.data import FastaBatchedDataset

    data = FastaBatchedDataset([str(i) for i in range(len(seqs))], seqs)
    batches = data.get_batch_indices(4096, extra_toks_per_seq=1)
    loader = torch.utils.data.DataLoader(
        data, collate_fn=alphabet.get_batch_converter(1022), batch_sampler=batches
    )
    out: list[torch.Tensor | None] = [None] * len(seqs)
    with torch.no_grad():
        for labels, strs, toks in loader:
            reps = model(toks, repr_layers=list(range(LAYERS + 1)))["representations"]
            for i, label in enumerate(labels):
                out[int(label)] = reps[LAYERS][i, 1 : len(strs[i]) + 1].clone()
    return out


def run_naive(model, alphabet, seqs: list[str]) -> list[torch.Tensor]:
    """8 sequences at a time in file order, padded to the longest of the 8."""
    convert = alphabet.get_batch_converter()
    out = []
    with torch.no_grad():
        for start in range(0, len(seqs), 8):
            batch = seqs[start : start + 8]
            _, _, toks = convert([(str(i), s) for i, s in enumerate(batch)])
            rep = model(toks, repr_layers=[LAYERS])["representations"][LAYERS]
            out += [rep[i, 1 : len(s) + 1].clone() for i, s in enumerate(batch)]
    return out


def max_difference(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    """Largest absolute difference between two methods' embeddings."""
    return max((x - y).abs().max().item() for x, y in zip(a, b, strict=True))


def benchmark(
    fasta: str, n: int, repeats: int, out: str, max_len: int = 1022, matmul_size: int = 2048
) -> list[dict]:
    """Time the three paths, check they agree, print the table and write JSON."""
    seqs = [s for _, s in sample_sequences(fasta, n, max_len)]
    residues, flops = sum(map(len, seqs)), useful_flops([len(s) for s in seqs])
    peak = matmul_gflops(matmul_size)
    with tempfile.TemporaryDirectory() as tmp:
        backbone, model, alphabet = build_models(Path(tmp))
        contenders = {
            "ppi": lambda: run_ppi(backbone, seqs),
            "fair-esm extract.py": lambda: run_extract(model, alphabet, seqs),
            "naive loop (8, file order)": lambda: run_naive(model, alphabet, seqs),
        }
        run_ppi(backbone, seqs[:4])  # warm-up (thread pools, allocator)
        results = {name: best_time(fn, repeats) for name, fn in contenders.items()}
    ours_time, ours = results["ppi"]
    rows = []
    for name, (seconds, emb) in results.items():
        rows.append(
            {
                "method": name,
                "seconds": round(seconds, 3),
                "residues_per_s": residues / seconds,
                "gflops": flops / seconds / 1e9,
                "pct_of_matmul": 100 * flops / seconds / 1e9 / peak,
                "ppi_speedup": seconds / ours_time,
                "max_abs_diff_vs_ppi": max_difference(ours, emb),
            }
        )
    columns = list(rows[0])
    print(f"{len(seqs)} proteins, {residues:,} residues; dense matmul {peak:.1f} GFLOP/s")
    print(table(rows, columns))
    extra = {"proteins": len(seqs), "residues": residues, "matmul_gflops": peak}
    write_report(out, "embed", rows, {**extra, "repeats": repeats, "model": "esm2_t6_8M shape"})
    return rows
