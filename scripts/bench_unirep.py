"""Residues/s of ppi's UniRep mLSTM against a plain batch-major step loop, same weights.

python scripts/bench_unirep.py --size 256 --n 145 [--threads 1] [--repeats 5]
python scripts/bench_unirep.py --size 1900 --n 128 --against bfloat16
python scripts/bench_unirep.py --size 1900 --n 512 --against budget --threads 2
python scripts/bench_unirep.py --size 1900 --n 512 --max-len 800 --against states --threads 2

With ``--against budget`` both sides are the whole backbone called on the
sorted proteins, which it cuts into calls under ``backbone.batch_tokens``:
the reference at the default budget (16,384 padded residues a call), the
contender at the budget the pooled vectors use
(:data:`ppi.backbones.embedding.POOLED_BATCH_TOKENS`), so more sequences share
each step's matrix products.

With ``--against states`` both sides are the pooled vectors as the embedding
cache computes them, in the same calls: the reference keeps every residue's
state and averages after, the contender (:meth:`UnirepBackbone.mean_vectors`)
adds each state to a running sum and stops multiplying a sequence's row after
its last residue.

With ``--against bfloat16`` the reference is ppi's own layer with float32
products and the contender the same layer with bfloat16 products
(``backbone.precision``); besides the speed it prints the smallest cosine
similarity between the two mean embeddings of a protein, which is what the
properties channel and the neighbour evidence read.

Both run the same layers over the same length-sorted batch of bundled D-SCRIPT
yeast proteins; the reference indexes the (B, T, 4H) gate inputs per step and
adds them after the matrix product, as the layer did before it went time-major.
The two run in turn ``--repeats`` times and each keeps its fastest run, so a
busy neighbour slows both alike rather than whichever ran during the burst.
Prints each one's residues per second, the ratio, and the largest difference of
their outputs at residue positions. Needs the weights: ``ppi fetch-unirep
--size SIZE``.
"""

import argparse
import random

import torch

from ppi.backbones.base import pool_residues
from ppi.backbones.configs import UnirepConfig
from ppi.backbones.embedding import POOLED_BATCH_TOKENS
from ppi.backbones.unirep import MLSTMLayer, UnirepBackbone, encode, weight_norm
from ppi.bench.timing import best_times_in_turn
from ppi.data.examples import resolve
from ppi.data.fasta import read_fasta
from ppi.utils.batching import token_budget_batches


def reference(layer: MLSTMLayer, x: torch.Tensor) -> torch.Tensor:
    """The mLSTM step by step, batch-major (``(B, T, I)`` -> ``(B, T, H)``)."""
    hid = layer.hidden
    wmh, wh = weight_norm(layer.wmh, layer.gmh), weight_norm(layer.wh, layer.gh)
    xm = x @ weight_norm(layer.wmx, layer.gmx)
    xz = x @ weight_norm(layer.wx, layer.gx) + layer.b
    h = x.new_zeros(x.shape[0], hid)
    c = torch.zeros_like(h)
    states = []
    for t in range(x.shape[1]):
        z = xz[:, t] + (xm[:, t] * (h @ wmh)) @ wh
        i, f, o = torch.sigmoid(z[:, : 3 * hid]).chunk(3, dim=-1)
        c = f * c + i * torch.tanh(z[:, 3 * hid :])
        h = o * torch.tanh(c)
        states.append(h)
    return torch.stack(states, dim=1)


def _with_start(emb: torch.Tensor) -> torch.Tensor:
    """Residue embeddings ``(B, L, D)`` with a zero row in front, as the layers return."""
    return torch.nn.functional.pad(emb, (0, 0, 1, 0))


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, choices=(64, 256, 1900))
    parser.add_argument("--n", type=int, default=145, help="proteins in the batch")
    parser.add_argument("--max-len", type=int, default=500, help="longest protein sampled")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5, help="turns of each, fastest kept")
    parser.add_argument("--fasta", default="example:dscript_yeast/sequences.fasta.gz")
    parser.add_argument(
        "--against",
        default="reference",
        choices=tuple(NAMES),
        help="the batch-major reference loop, ppi's layer with float32 products,"
        " the backbone at the default token budget, or every state kept",
    )
    parser.add_argument(
        "--max-batch", type=int, default=256, help="sequences a call at most (--against states)"
    )
    return parser.parse_args()


#: ``--against`` -> what the reference and the contender are called in the report
NAMES = {
    "reference": ("reference step loop", "ppi's mLSTM layer"),
    "bfloat16": ("float32 products", "bfloat16 products"),
    "budget": (
        "{tokens:,} padded residues a call",
        f"{POOLED_BATCH_TOKENS:,} padded residues a call",
    ),
    "states": ("every state kept, then averaged", "states averaged as they come"),
}


def _contenders(args: argparse.Namespace, model: UnirepBackbone, batch: list[str]) -> dict:
    """The reference and ppi's side of ``--against``, each a call returning its output."""
    x = model.embedding(encode(batch))

    def run(step):
        y = x
        for layer in model.layers:
            y = step(layer, y)
        return y

    def layers(dtype: torch.dtype = torch.float32):
        return run(lambda layer, y: layer(y, dtype))

    if args.against == "reference":
        return {"reference": lambda: run(reference), "ppi": layers}
    if args.against == "bfloat16":
        return {"reference": layers, "ppi": lambda: layers(torch.bfloat16)}
    wide = UnirepBackbone(UnirepConfig(size=args.size, batch_tokens=POOLED_BATCH_TOKENS)).eval()
    if args.against == "budget":
        # the start token's output is not a residue: pad the front so shapes match
        return {
            "reference": lambda: _with_start(model(batch)[0]),
            "ppi": lambda: _with_start(wide(batch)[0]),
        }
    groups = token_budget_batches(batch, POOLED_BATCH_TOKENS, args.max_batch)

    def means(mean_of):  # (N, D) in the order of the batch
        return torch.cat([mean_of(g) for g in groups])

    return {
        "reference": lambda: means(lambda g: pool_residues(*wide(g))),
        "ppi": lambda: means(wide.mean_vectors),
    }


def _compare(ref: torch.Tensor, new: torch.Tensor, batch: list[str], pooled: bool) -> None:
    """The largest difference of the two outputs and the smallest cosine of their means."""
    if pooled:
        print(f"largest difference of the mean embeddings: {(ref - new).abs().max().item():.2e}")
        means = [ref, new]
    else:
        # padding after a sequence's end is masked out downstream, and a long run of
        # gap codes lets rounding grow there, so only residue positions are compared
        lengths = torch.tensor([len(s) + 1 for s in batch])
        real = torch.arange(ref.shape[1])[None, :] < lengths[:, None]  # (B, T + 1)
        print(f"largest difference at residues: {(ref - new).abs()[real].max().item():.2e}")
        means = [(y * real[..., None]).sum(1) / lengths[:, None] for y in (ref, new)]  # (B, D)
    cosine = torch.nn.functional.cosine_similarity(*means).min().item()
    print(f"smallest cosine similarity of a protein's two mean embeddings: {cosine:.5f}")


def main() -> None:
    args = _args()
    repeats = max(1, args.repeats)
    torch.set_num_threads(args.threads)
    seqs = [s for s in read_fasta(resolve(args.fasta)).values() if len(s) <= args.max_len]
    batch = sorted(random.Random(0).sample(seqs, min(args.n, len(seqs))), key=len)
    model = UnirepBackbone(UnirepConfig(size=args.size)).eval()
    residues = sum(len(s) for s in batch)
    with torch.no_grad():
        timings = best_times_in_turn(_contenders(args, model, batch), repeats)
    (ref_s, ref), (new_s, new) = timings["reference"], timings["ppi"]
    names = [n.format(tokens=model.config.batch_tokens) for n in NAMES[args.against]]
    print(
        f"UniRep-{args.size}, {len(batch)} proteins, {residues} residues, {args.threads} thread(s),"
        f" fastest of {repeats} turns each"
    )
    print(f"{names[0]}: {residues / ref_s:,.0f} residues/s")
    print(f"{names[1]}: {residues / new_s:,.0f} residues/s ({ref_s / new_s:.2f}x)")
    _compare(ref, new, batch, pooled=args.against == "states")


if __name__ == "__main__":
    main()
