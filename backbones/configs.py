"""The backbones' config dataclasses and their registry, importable without torch.

Each backbone's module (``backbones/esm2.py``) holds its code and takes its
``Config`` from here; :data:`BACKBONES` names the module, imported when the
backbone is first used, and the config, read without importing it. Reading or
printing a run's config therefore imports no model library.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from ppi.config.tools import setting
from ppi.registry import Registry

BACKBONES = Registry("backbone")

#: Frozen published models whose mean embedding serves as one vector per protein
#: (``channels.properties.pretrained``, ``evidence.neighbours.model``), and their widths
PRETRAINED = {"unirep-64": 64, "unirep-256": 256, "unirep-1900": 1900}

#: Default window length of the ``scratch`` backbone.
DEFAULT_MAX_LEN = 256


@dataclass(frozen=True)
class BackboneConfig:
    """Fields every backbone has.

    Attributes:
        name: registry name (``esm2``, ``hf``, ``antiberty``, ``unirep``, ``scratch``).
        finetune: ``frozen`` (embeddings computed once and cached), ``full``,
            or ``last`` (only the last ``finetune_layers`` blocks train).
        finetune_layers: how many blocks train when ``finetune: last``.
        window_overlap: share of a window (0 to 0.5) that neighbouring windows
            of a sequence longer than the backbone's maximum length overlap by.
        max_len: residues per window; 0 means the backbone's own maximum.
        batch_tokens: padded residues the backbone sees in one call; a larger
            batch is cut into length-sorted chunks, which bounds memory.
    """

    name: str = "scratch"
    finetune: Literal["frozen", "full", "last"] = "frozen"
    finetune_layers: int = setting(1, "[1, inf)")
    window_overlap: float = setting(0.125, "[0, 0.5]")
    max_len: int = setting(0, "[0, inf)")
    batch_tokens: int = setting(16384, "[1, inf)")


@dataclass(frozen=True)
class ScratchConfig(BackboneConfig):
    """A from-scratch encoder.

    Attributes:
        dim: embedding width D; must be even and divisible by ``heads``.
        layers: number of transformer blocks.
        heads: attention heads H.
        ff_mult: feed-forward hidden width is ``ff_mult * dim``.
        dropout: dropout on the embeddings and on both residual branches of
            each block (not on attention weights, see :class:`SelfAttention`).
        max_len: residues per window (attention cost grows with its square).
        conv: width of a depthwise convolution over neighbouring residues
            added to each block before its attention (0 = none; odd). It
            gives the encoder the local view that attention alone learns
            slowly on small data (see RESULTS.md, ``ppi pretrain``).
        path: a backbone folder from ``ppi pretrain`` (or a model folder whose
            sequence channel has a scratch backbone) to start from; its
            architecture (dim, layers, heads, ff_mult, max_len, conv) is the folder's.
    """

    name: str = "scratch"
    finetune: Literal["frozen", "full", "last"] = "full"
    dim: int = setting(64, "[2, inf)")
    layers: int = setting(2, "[1, inf)")
    heads: int = setting(4, "[1, inf)")
    ff_mult: int = setting(2, "[1, inf)")
    dropout: float = setting(0.1, "[0, 1)")
    max_len: int = setting(DEFAULT_MAX_LEN, "[1, inf)")
    conv: int = setting(0, "[0, inf)")
    path: str = ""

    def problems(self) -> Iterator[tuple[str, str]]:
        """Widths attention cannot split (see :func:`ppi.config.tools.check`)."""
        if self.dim % self.heads:
            yield "dim", f"expected a multiple of heads ({self.heads}), got {self.dim}"
        if self.dim % 2:
            yield "dim", f"expected an even width (sin/cos pairs), got {self.dim}"
        if self.conv % 2 == 0 and self.conv:
            yield "conv", f"expected 0 or an odd width (centred on the residue), got {self.conv}"


@dataclass(frozen=True)
class Esm2Config(BackboneConfig):
    """Config of the ``esm2`` backbone.

    Attributes:
        model: fair-esm hub name, used when ``path`` is empty.
        path: a local ``.pt`` checkpoint in fair-esm's format; when set it wins.
        layer: which representation to return: 0 is the token embedding, 1..n
            the blocks; negative values count from the end (-1 = last).
    """

    name: str = "esm2"
    model: str = "esm2_t6_8M_UR50D"
    path: str = ""
    layer: int = setting(-1, "[-49, 48]")  # ESM-2 has at most 48 blocks; checked on load


@dataclass(frozen=True)
class HfConfig(BackboneConfig):
    """Config of the ``hf`` backbone.

    Attributes:
        model: hub name (``Rostlab/prot_bert``) or a local folder.
        layer: which hidden state to return: 0 is the embedding output, 1..n
            the blocks; negative values count from the end (-1 = last).
        residues: how a sequence is written for the tokenizer: ``spaced``
            (``"A C D"``, ProtBert), ``plain`` (``"ACD"``, ESM, BPE models) or
            ``auto``: plain unless the tokenizer reads plain residues as its
            unknown token.
        revision: hub branch, tag or commit (ignored for a local folder).
        dtype: weights' precision; embeddings are returned as float32.
    """

    name: str = "hf"
    model: str = "Rostlab/prot_bert"
    layer: int = setting(-1, "(-inf, inf)")  # checked against the model's depth on load
    residues: Literal["auto", "spaced", "plain"] = "auto"
    revision: str = "main"
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"


@dataclass(frozen=True)
class AntibertyConfig(BackboneConfig):
    """AntiBERTy settings.

    Attributes:
        layer: which hidden state to return: 0 is the embedding layer, 1..8 the
            transformer blocks, negative counts from the end (-1 is the last).
            Blocks above it are dropped, so they cost nothing.
    """

    name: str = "antiberty"
    layer: int = setting(-1, "[-9, 8]")


@dataclass(frozen=True)
class UnirepConfig(BackboneConfig):
    """UniRep settings.

    Attributes:
        size: width of the published model: 64, 256 or 1900.
        path: a ``model_weights.npz``, a folder holding one, or a folder laid out
            as ``ppi fetch-unirep --dest`` writes it (``<size>_weights/``).
            Empty means the weights cache (:func:`default_weights_dir`).
        precision: dtype of the mLSTM's matrix products: ``float32``, or
            ``bfloat16`` (state and sums stay float32), about 3 times faster
            where the processor has bfloat16 matrix units (Intel AMX, recent
            GPUs) and slower where it emulates them. Part of the embeddings'
            cache key.
    """

    name: str = "unirep"
    size: Literal[64, 256, 1900] = 64
    path: str = ""
    precision: str = setting("float32", choices=("float32", "bfloat16"))


for _name, _config in {
    "scratch": ScratchConfig,
    "esm2": Esm2Config,
    "hf": HfConfig,
    "antiberty": AntibertyConfig,
    "unirep": UnirepConfig,
}.items():
    BACKBONES.register_lazy(_name, f"ppi.backbones.{_name}", _config)
