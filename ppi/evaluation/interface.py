"""Residue-level inter-protein maps from the model's attention, and how well they rank contacts.

The fusion reads residues through latents: encoding protein A, latent ``m``
attends to A's residue tokens with weights ``E_A[m, i]``; in the pair stage
A's latents attend to B's with weights ``W_AB[m, n]``. Averaged over heads
and layers (and over every channel token that stands for residue ``i``)::

    map(A, B) = E_A^T · ½ (W_AB + W_BA^T) · E_B          # (La, Lb)

so ``map(B, A) == map(A, B)^T`` (to float precision), as the scores are
symmetric. Tokens that stand for no residue (pooled tokens, the null token)
are left out.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ppi.channels import Proteins
from ppi.evaluation.metrics import safe_auroc
from ppi.utils.files import atomic_write


@torch.no_grad()
def residue_attention(model, ids: list[str], seqs: list[str]):
    """Each protein's fused latents and its latents' attention over its residues.

    Shapes:
        returns latents ``(B, M, D)`` and a list of ``(M, L_b)`` maps.
    """
    batch = Proteins(list(ids), list(seqs))
    parts = {name: channel(batch) for name, channel in model.channels.items()}
    z, maps = model.fusion.encode_with_weights(parts)
    att = torch.stack(maps).mean(0)  # (B, M, C): mean over encoder layers
    b = len(ids)
    positions = [
        p.positions.masked_fill(~p.mask, -1)
        if p.positions is not None
        else torch.full(p.mask.shape, -1, device=p.mask.device)
        for p in parts.values()
    ]
    positions.append(torch.full((b, 1), -1))  # the null token
    pos = torch.cat([p.to(att.device) for p in positions], 1)  # (B, C)
    out = []
    for i, seq in enumerate(seqs):
        keep = pos[i] >= 0
        residue = att.new_zeros(att.shape[1], len(seq))  # (M, L)
        residue.index_add_(1, pos[i][keep], att[i][:, keep])
        out.append(residue)
    return z, out


@torch.no_grad()
def interface_map(model, za, zb, ea, eb) -> torch.Tensor:
    """The residue-level map of A and B from their latents and residue attention.

    Shapes:
        za, zb ``(M, D)``; ea ``(M, La)``, eb ``(M, Lb)`` -> ``(La, Lb)``.
    """
    _, _, w_ab = model.pair.interact(za[None], zb[None], need_weights=True)
    _, _, w_ba = model.pair.interact(zb[None], za[None], need_weights=True)
    m = za.shape[0]
    if w_ab:
        ab = torch.stack(w_ab).mean(0)[0]  # (M, M)
        ba = torch.stack(w_ba).mean(0)[0]  # (M, M)
        coupling = 0.5 * (ab + ba.T)
    else:  # no pair layers: every latent couples equally
        coupling = za.new_full((m, m), 1.0 / m)
    return ea.T @ coupling @ eb  # (La, Lb)


def pair_maps(model, proteins: dict[str, str], pairs: list[tuple[str, str]]):
    """Yield ``(a, b, map)`` for each pair, encoding each protein once.

    Shapes:
        each map ``(La, Lb)`` float numpy.
    """
    model.eval()
    memo: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    for a, b in pairs:
        new = [p for p in dict.fromkeys((a, b)) if p not in memo]
        if new:
            z, att = residue_attention(model, new, [proteins[p] for p in new])
            memo.update({p: (z[k], att[k]) for k, p in enumerate(new)})
        yield (
            a,
            b,
            interface_map(model, memo[a][0], memo[b][0], memo[a][1], memo[b][1]).cpu().numpy(),
        )


def ranking(scores: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """AUROC over all residue pairs and precision of the top L/10 (L = shorter protein).

    Args:
        scores: ``(La, Lb)`` map.
        truth: ``(I, 2)`` true interface residue pairs.
    """
    labels = np.zeros(scores.shape, dtype=np.int64)
    labels[truth[:, 0], truth[:, 1]] = 1
    top = max(min(scores.shape) // 10, 1)
    best = np.argsort(-scores, axis=None, kind="stable")[:top]
    return {
        "auroc": safe_auroc(labels.ravel(), scores.ravel()),
        "precision_top_L10": float(labels.ravel()[best].mean()),
        "base_rate": float(labels.mean()),
        "top": float(top),
    }


def _stem(a: str, b: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", f"{a}__{b}")


def top_pairs(scores: np.ndarray, seq_a: str, seq_b: str, n: int = 20) -> str:
    """TSV of the ``n`` highest-scoring residue pairs (1-based positions)."""
    best = np.argsort(-scores, axis=None, kind="stable")[:n]
    rows = ["rank\tpos_a\tres_a\tpos_b\tres_b\tscore"]
    for rank, flat in enumerate(best, start=1):
        i, j = np.unravel_index(flat, scores.shape)
        rows.append(f"{rank}\t{i + 1}\t{seq_a[i]}\t{j + 1}\t{seq_b[j]}\t{scores[i, j]:.6g}")
    return "\n".join(rows) + "\n"


def write_interface(out: Path, a: str, b: str, scores, proteins, fmt="npy", truth=None) -> Path:
    """Write ``<a>__<b>.npy`` (or ``.tsv``), ``.png`` and ``.top.tsv`` under ``out``."""
    stem = out / _stem(a, b)
    if fmt == "npy":
        buf = io.BytesIO()
        np.save(buf, scores.astype(np.float32))
        atomic_write(f"{stem}.npy", buf.getvalue())
    else:
        text = "\n".join("\t".join(f"{v:.6g}" for v in row) for row in scores)
        atomic_write(f"{stem}.tsv", (text + "\n").encode())
    atomic_write(f"{stem}.top.tsv", top_pairs(scores, proteins[a], proteins[b]).encode())
    plot_interface(scores, f"{stem}.png", a, b, truth)  # written last: marks the pair done
    return stem


def write_interfaces(model, proteins, pairs, out: Path, fmt: str = "npy") -> int:
    """Interface files for every pair; pairs whose PNG exists are skipped (resume)."""
    out.mkdir(parents=True, exist_ok=True)
    todo = [(a, b) for a, b in pairs if not (out / f"{_stem(a, b)}.png").is_file()]
    maps = pair_maps(model, proteins, todo)
    for a, b, scores in tqdm(maps, total=len(todo), desc="interface maps", disable=None):
        write_interface(out, a, b, scores, proteins, fmt)
    return len(todo)


def plot_interface(
    scores: np.ndarray, path, a: str, b: str, truth: np.ndarray | None = None
) -> None:
    """Heatmap of the map (residues of A down, of B across), beside the true interface if given.

    Args:
        scores: ``(La, Lb)`` map.
        path: PNG file.
        a: name of the first protein (rows).
        b: name of the second protein (columns).
        truth: optional ``(I, 2)`` true interface residue pairs.
    """
    from matplotlib.figure import Figure

    from ppi.evaluation.plots import _save

    panels = 1 if truth is None else 2
    fig = Figure(figsize=(5.2 * panels, 4.6), layout="constrained")
    ax = fig.add_subplot(1, panels, 1)
    image = ax.imshow(scores, cmap="viridis", aspect="auto", interpolation="nearest")
    fig.colorbar(image, ax=ax, shrink=0.8, label="attention (heads and layers averaged)")
    ax.set_title(f"predicted map {a} x {b}")
    ax.set_xlabel(f"{b} residue")
    ax.set_ylabel(f"{a} residue")
    if truth is not None:
        ax2 = fig.add_subplot(1, panels, 2)
        ax2.scatter(truth[:, 1], truth[:, 0], s=6, c="black", marker="s", linewidths=0)
        ax2.set_xlim(-0.5, scores.shape[1] - 0.5)
        ax2.set_ylim(scores.shape[0] - 0.5, -0.5)  # rows down, as in the heatmap
        ax2.set_title(f"true interface ({len(truth)} residue pairs)")
        ax2.set_xlabel(f"{b} residue")
        ax2.set_ylabel(f"{a} residue")
    _save(fig, path)
