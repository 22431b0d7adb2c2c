"""ESM-2 protein language models from fair-esm (``esm2_t6_8M_UR50D`` .. ``esm2_t48_15B_UR50D``).

Weights come from a local ``.pt`` checkpoint (``backbone.path``) or from the
fair-esm release, downloaded once into the torch hub cache. Checkpoints are
always read with ``torch.load(weights_only=True)``; the only extra type they
hold, :class:`argparse.Namespace`, is allowed explicitly.
"""

from __future__ import annotations

import urllib.error
import warnings
from argparse import Namespace
from pathlib import Path
from typing import Any

import torch
from esm.pretrained import load_model_and_alphabet_core
from torch import nn

from ppi.backbones._esm_fast import esm2_representation
from ppi.backbones.base import Backbone, freeze_unused, one_line, resolve_layer
from ppi.backbones.configs import BACKBONES, Esm2Config
from ppi.errors import ConfigError, WeightsError
from ppi.utils.cache import file_digest

#: ESM-2 checkpoints published by fair-esm.
HUB_MODELS = (
    "esm2_t6_8M_UR50D",
    "esm2_t12_35M_UR50D",
    "esm2_t30_150M_UR50D",
    "esm2_t33_650M_UR50D",
    "esm2_t36_3B_UR50D",
    "esm2_t48_15B_UR50D",
)
HUB_URL = "https://dl.fbaipublicfiles.com/fair-esm/models/{name}.pt"
#: ESM-2 was trained on 1024 tokens: 1022 residues plus BOS and EOS.
MAX_RESIDUES = 1022


@BACKBONES.register("esm2")
class Esm2Backbone(Backbone):
    """Per-residue representations of an ESM-2 model at one layer."""

    Config = Esm2Config

    def __init__(self, config: Esm2Config) -> None:
        super().__init__(config)
        self.model, self.esm_alphabet = load_esm2(config)
        self.layer = resolve_layer(config.layer, self.model.num_layers)
        self.dim = self.model.embed_dim
        self.max_len = MAX_RESIDUES
        self.causal = False
        self._identity = ""
        self.model.eval()
        self.apply_finetune()

    def embed_windows(self, seqs: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Embed sequences of at most ``max_len`` residues.

        Shapes:
            returns embeddings ``(B, L, D)`` (residues only, BOS/EOS dropped)
            and a bool mask ``(B, L)``, True on residues.
        """
        device = next(self.model.parameters()).device
        tokens = self.tokenize(seqs).to(device)  # (B, L + 2)
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.trainable):
            out = esm2_representation(self.model, tokens, self.layer)  # (B, L + 2, D)
        longest = max((len(s) for s in seqs), default=0)
        rep = out[:, 1 : longest + 1]  # (B, L, D)
        lengths = torch.tensor([len(s) for s in seqs], device=device)
        mask = torch.arange(longest, device=device)[None, :] < lengths[:, None]  # (B, L)
        return rep * mask.unsqueeze(-1).to(rep.dtype), mask

    def tokenize(self, seqs: list[str]) -> torch.Tensor:
        """Token ids with BOS before and EOS after each sequence, right-padded.

        Shapes:
            returns ``(B, L + 2)``, L = longest sequence.
        """
        abc = self.esm_alphabet
        longest = max((len(s) for s in seqs), default=0)
        tokens = torch.full((len(seqs), longest + 2), abc.padding_idx, dtype=torch.long)
        for i, seq in enumerate(seqs):
            tokens[i, 0] = abc.cls_idx
            tokens[i, 1 : len(seq) + 1] = torch.tensor([abc.get_idx(c) for c in seq])
            tokens[i, len(seq) + 1] = abc.eos_idx
        return tokens

    def blocks(self) -> list[nn.Module]:
        """The transformer blocks up to the chosen layer (later ones do not count)."""
        return list(self.model.layers[: self.layer])

    def apply_finetune(self) -> None:
        """Set the fine-tuning mode, then freeze weights the chosen layer never uses.

        The language-model head, the contact head and blocks past ``layer``
        get no gradient; leaving them trainable would break distributed
        training, which expects a gradient for every trainable weight.
        """
        super().apply_finetune()
        freeze_unused(self.model, lambda: self.embed_windows(["ACDE"])[0])

    def identity(self) -> str:
        """``esm2:<hub name or sha256 of the checkpoint>:layer=<k>``."""
        if not self._identity:
            path = self.config.path
            source = f"sha256={file_digest(Path(path))}" if path else self.config.model
            self._identity = f"esm2:{source}:layer={self.layer}"
        return self._identity


def load_esm2(config: Esm2Config) -> tuple[nn.Module, Any]:
    """Build the fair-esm ESM-2 model and alphabet from a local file or the hub."""
    if config.path:
        path = Path(config.path).expanduser()
        if not path.is_file():
            raise WeightsError(
                f"backbone.path: ESM-2 checkpoint {path} not found; expected a fair-esm "
                f".pt file such as {config.model}.pt"
            )
        return build_model(str(path), read_checkpoint(path), read_regression(path))
    return build_model(config.model, download_checkpoint(config.model), None)


def read_checkpoint(path: Path) -> dict[str, Any]:
    """Load a fair-esm ESM-2 checkpoint and check its top-level keys."""
    data = load_tensors(path)
    if not isinstance(data, dict) or "model" not in data or "cfg" not in data:
        found = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise WeightsError(
            f"{path}: not an ESM-2 checkpoint (expected keys 'model' and 'cfg', found {found})"
        )
    return data


def read_regression(path: Path) -> dict[str, Any] | None:
    """The contact-regression weights fair-esm keeps beside a checkpoint, if present."""
    beside = path.with_name(f"{path.stem}-contact-regression.pt")
    return load_tensors(beside) if beside.is_file() else None


def load_tensors(path: Path) -> Any:
    """``torch.load`` with ``weights_only=True``, allowing fair-esm's Namespace."""
    try:
        with torch.serialization.safe_globals([Namespace]):
            return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # any unreadable file is a weights error
        raise WeightsError(f"{path}: cannot read checkpoint ({one_line(exc)})") from None


def download_checkpoint(name: str) -> dict[str, Any]:
    """Fetch ``name`` from the fair-esm release into the torch hub cache and load it."""
    if name not in HUB_MODELS:
        raise ConfigError(
            f"backbone.model: '{name}' is not an ESM-2 hub model "
            f"(choices: {', '.join(HUB_MODELS)}; or set backbone.path to a local .pt file)"
        )
    url = HUB_URL.format(name=name)
    cached = Path(torch.hub.get_dir()) / "checkpoints" / f"{name}.pt"
    try:
        with torch.serialization.safe_globals([Namespace]):
            return torch.hub.load_state_dict_from_url(
                url, map_location="cpu", progress=False, weights_only=True
            )
    except (OSError, urllib.error.URLError, RuntimeError) as exc:
        raise WeightsError(
            f"esm2: could not download {url} and {cached} is missing ({one_line(exc)}); "
            f"download {name}.pt from the fair-esm release and set "
            f"backbone.path=/path/to/{name}.pt"
        ) from None


def build_model(where: str, data: dict[str, Any], regression: dict | None) -> tuple[Any, Any]:
    """Instantiate the model with fair-esm's own loader; key mismatches name the file."""
    with warnings.catch_warnings():
        # Contact-regression weights only matter for contact prediction.
        warnings.filterwarnings("ignore", message="Regression weights not found")
        try:
            # fair-esm picks the ESM-2 format from a name starting with "esm2".
            return load_model_and_alphabet_core("esm2", data, regression)
        except (RuntimeError, KeyError, AttributeError, TypeError) as exc:
            raise WeightsError(
                f"{where}: weights do not fit an ESM-2 model ({one_line(exc)})"
            ) from None


REGRESSION = ("contact_head.regression.weight", "contact_head.regression.bias")


def save_checkpoint(model: nn.Module, path: Path, with_regression: bool = True) -> None:
    """Write a fair-esm ``ESM2`` the way fair-esm publishes ESM-2 weights.

    The main file holds ``model`` (keys under ``encoder.sentence_encoder.`` and
    ``encoder.lm_head.``) and ``cfg`` (an ``argparse.Namespace``); the contact
    regression lives beside it in ``<stem>-contact-regression.pt``. Tests and
    the embedding benchmark build random models of a published shape this way.
    """
    state = model.state_dict()
    main = {}
    for key, value in state.items():
        if key in REGRESSION:
            continue
        prefix = "encoder." if key.startswith("lm_head.") else "encoder.sentence_encoder."
        main[prefix + key] = value.clone()
    cfg = Namespace(
        encoder_layers=model.num_layers,
        encoder_embed_dim=model.embed_dim,
        encoder_attention_heads=model.attention_heads,
        token_dropout=model.token_dropout,
    )
    torch.save({"model": main, "cfg": {"model": cfg}, "args": None}, path)
    if with_regression:
        regression = {k: state[k].clone() for k in REGRESSION}
        torch.save({"model": regression}, path.with_name(f"{path.stem}-contact-regression.pt"))
