"""Masked language models behind one interface: residues in, residue log-probabilities out.

Every backbone with a masked-LM head is registered in :data:`MASKED_LMS`:
``scratch`` (a ``ppi pretrain`` folder), ``antiberty`` (its real MLM head,
shipped in ``antiberty==0.1.3``), ``esm2`` (fair-esm's LM head) and ``hf``
(a transformers masked-LM model such as ProtBert or ESM in HF format). A
backbone without one (``unirep``, a base model) is a :class:`WeightsError`
that says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from ppi.backbones.base import RESIDUES, one_line
from ppi.errors import ConfigError, WeightsError
from ppi.lm.folder import TRAIN_FASTA

#: backbone name -> builder ``(settings) -> MaskedLM``
MASKED_LMS: dict[str, Any] = {}


def register(name: str):
    """Decorator registering a builder of a masked LM under a backbone name."""

    def deco(fn):
        MASKED_LMS[name] = fn
        return fn

    return deco


class MaskedLM:
    """Token ids around residues, and the model's residue log-probabilities at each position.

    Subclasses set ``model``, the special ids and ``residue_ids`` (the token
    id of each letter of :data:`RESIDUES`) and implement :meth:`logits`.
    """

    name = ""
    model: nn.Module
    cls_id: int
    eos_id: int
    pad_id: int
    mask_id: int
    residue_ids: torch.Tensor
    max_len: int = 1022
    #: the model's training sequences (for novelty), when known
    reference: Path | None = None

    def logits(self, ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        """Shapes: ids ``(B, T)``, attention ``(B, T)`` bool -> ``(B, T, V)``."""
        raise NotImplementedError

    def identity(self) -> str:
        """Names the model and its weights (written into the output)."""
        return self.name

    def tokens(self, seqs: list[str], masked: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``<cls> residues <eos>`` ids, masked positions as the mask token, right-padded.

        Shapes:
            masked ``(B, L)`` bool -> ids ``(B, L + 2)``, attention ``(B, L + 2)`` bool.
        """
        width = max(len(s) for s in seqs) + 2
        ids = torch.full((len(seqs), width), self.pad_id, dtype=torch.long)
        lookup = {aa: int(self.residue_ids[i]) for i, aa in enumerate(RESIDUES)}
        for b, seq in enumerate(seqs):
            row = [lookup.get(aa, self.mask_id) for aa in seq]
            ids[b, 0], ids[b, 1 : len(seq) + 1], ids[b, len(seq) + 1] = (
                self.cls_id,
                torch.tensor(row, dtype=torch.long),
                self.eos_id,
            )
            ids[b, 1 : len(seq) + 1][masked[b, : len(seq)]] = self.mask_id
        return ids, ids != self.pad_id

    @torch.no_grad()
    def residue_log_probs(self, seqs: list[str], masked: torch.Tensor) -> torch.Tensor:
        """Log-probabilities over the 20 residues at every position, given the rest.

        Shapes:
            masked ``(B, L)`` bool (True: hidden from the model) -> ``(B, L, 20)``.
        """
        longest = max(len(s) for s in seqs)
        if longest > self.max_len:
            raise ConfigError(
                f"{self.name}: sequences of at most {self.max_len} residues, got {longest}"
            )
        ids, attention = self.tokens(seqs, masked)
        device = next(self.model.parameters()).device
        out = self.logits(ids.to(device), attention.to(device)).float()  # (B, L + 2, V)
        res = out[:, 1 : longest + 1][..., self.residue_ids.to(device)]  # (B, L, 20)
        return torch.log_softmax(res, dim=-1).cpu()


class ScratchMaskedLM(MaskedLM):
    """A ``ppi pretrain`` folder."""

    name = "scratch"

    def __init__(self, folder: Path) -> None:
        from ppi.lm.model import ScratchLM

        self.folder = folder
        self.model = ScratchLM.from_pretrained(folder)
        tok = self.model.tokenizer
        self.cls_id, self.eos_id, self.pad_id, self.mask_id = (
            tok.cls_id,
            tok.eos_id,
            tok.pad_id,
            tok.mask_id,
        )
        self.residue_ids = torch.tensor([tok.vocab[aa] for aa in RESIDUES])
        self.max_len = self.model.config.max_len
        beside = folder / TRAIN_FASTA
        self.reference = beside if beside.is_file() else None

    def logits(self, ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        """Shapes: ``(B, T)`` -> ``(B, T, V)``."""
        return self.model(ids, attention)[0]

    def identity(self) -> str:
        """``scratch:`` and the folder."""
        return f"scratch:{self.folder}"


@register("scratch")
def _scratch(settings: dict[str, Any]) -> MaskedLM:
    path = settings.get("path", "")
    if not path:
        raise ConfigError("backbone 'scratch' for generation needs a folder: --model FOLDER")
    return ScratchMaskedLM(Path(path).expanduser())


class AntibertyMaskedLM(MaskedLM):
    """AntiBERTy's encoder with its own masked-LM head, both from the package's checkpoint."""

    name = "antiberty"

    def __init__(self) -> None:
        from transformers import BertConfig, BertForMaskedLM

        from ppi.backbones.antiberty import checkpoint_files, package_dir, read_vocab

        config_path, weights, vocab_path = checkpoint_files(package_dir())
        self.model = BertForMaskedLM(BertConfig.from_json_file(str(config_path)))
        state = torch.load(weights, map_location="cpu", weights_only=True)
        heads = ("cls.species.", "cls.chain.", "cls.graft.", "bert.pooler.")
        wanted = {k: v for k, v in state.items() if not k.startswith(heads)}
        wanted.pop("bert.embeddings.position_ids", None)
        result = self.model.load_state_dict(wanted, strict=False)
        missing = result.missing_keys
        if missing or result.unexpected_keys:
            raise WeightsError(
                f"{weights}: does not fit BertForMaskedLM: missing {missing[:5]}, "
                f"unexpected {result.unexpected_keys[:5]}"
            )
        self.model.tie_weights = lambda *a, **k: None  # the checkpoint's decoder is its own
        self.model.eval()
        vocab = read_vocab(vocab_path)
        self.cls_id, self.eos_id, self.pad_id = vocab["[CLS]"], vocab["[SEP]"], vocab["[PAD]"]
        self.mask_id = vocab["[MASK]"]
        self.residue_ids = torch.tensor([vocab[aa] for aa in RESIDUES])
        self.max_len = self.model.config.max_position_embeddings - 2
        self.weights = weights

    def logits(self, ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        """Shapes: ``(B, T)`` -> ``(B, T, V)``."""
        return self.model(input_ids=ids, attention_mask=attention.long()).logits

    def identity(self) -> str:
        """The package checkpoint."""
        return f"antiberty:{self.weights.parent.name}"


@register("antiberty")
def _antiberty(settings: dict[str, Any]) -> MaskedLM:
    return AntibertyMaskedLM()


class Esm2MaskedLM(MaskedLM):
    """A fair-esm ESM-2 checkpoint with its LM head."""

    name = "esm2"

    def __init__(self, settings: dict[str, Any]) -> None:
        from ppi.backbones.esm2 import Esm2Config, load_esm2
        from ppi.config.tools import build

        config = build(Esm2Config, {"name": "esm2", **settings}, "backbone")
        self.model, alphabet = load_esm2(config)
        self.model.eval()
        self.cls_id, self.eos_id = alphabet.cls_idx, alphabet.eos_idx
        self.pad_id, self.mask_id = alphabet.padding_idx, alphabet.mask_idx
        self.residue_ids = torch.tensor([alphabet.get_idx(aa) for aa in RESIDUES])
        self.where = config.path or config.model

    def logits(self, ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        """Shapes: ``(B, T)`` -> ``(B, T, V)``."""
        return self.model(ids)["logits"]

    def identity(self) -> str:
        """The checkpoint."""
        return f"esm2:{self.where}"


@register("esm2")
def _esm2(settings: dict[str, Any]) -> MaskedLM:
    return Esm2MaskedLM(settings)


class HfMaskedLM(MaskedLM):
    """A transformers ``AutoModelForMaskedLM`` whose tokenizer has one token per residue."""

    name = "hf"

    def __init__(self, settings: dict[str, Any]) -> None:
        from transformers import AutoModelForMaskedLM, AutoTokenizer

        from ppi.backbones.hf import local_folder

        source = settings.get("model", "")
        local = local_folder(source) if source else None
        if local is None:
            raise WeightsError(
                f"hf: generation reads a local folder (backbone.model=/folder), got {source!r}"
            )
        try:
            tok = AutoTokenizer.from_pretrained(str(local), local_files_only=True)
            self.model, info = AutoModelForMaskedLM.from_pretrained(
                str(local), local_files_only=True, output_loading_info=True
            )
        except (OSError, ValueError, KeyError) as exc:
            raise WeightsError(
                f"{local}: no masked-LM model can be loaded from it ({one_line(exc)})"
            ) from None
        if info["missing_keys"]:
            raise WeightsError(
                f"{local}: has no masked-LM head (missing {sorted(info['missing_keys'])[:3]}); "
                "a base model cannot generate"
            )
        self.model.eval()
        ids = tok.convert_tokens_to_ids(list(RESIDUES))
        if tok.unk_token_id in ids or tok.mask_token_id is None:
            raise WeightsError(f"{local}: its tokenizer has no token per residue or no mask token")
        self.residue_ids = torch.tensor(ids)
        self.cls_id = tok.cls_token_id if tok.cls_token_id is not None else tok.bos_token_id
        self.eos_id = tok.sep_token_id if tok.sep_token_id is not None else tok.eos_token_id
        self.pad_id, self.mask_id = tok.pad_token_id, tok.mask_token_id
        self.max_len = getattr(self.model.config, "max_position_embeddings", 1024) - 2
        self.where = local

    def logits(self, ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        """Shapes: ``(B, T)`` -> ``(B, T, V)``."""
        return self.model(input_ids=ids, attention_mask=attention.long()).logits

    def identity(self) -> str:
        """The folder."""
        return f"hf:{self.where}"


@register("hf")
def _hf(settings: dict[str, Any]) -> MaskedLM:
    return HfMaskedLM(settings)


def load_masked_lm(name: str, settings: dict[str, Any]) -> MaskedLM:
    """The masked LM of backbone ``name``; a backbone without an LM head is an error."""
    from ppi.backbones import BACKBONES

    if name not in MASKED_LMS:
        known = name in BACKBONES
        why = "has no masked-LM head to sample from" if known else "is not a backbone"
        raise ConfigError(f"backbone '{name}' {why} (choices: {', '.join(sorted(MASKED_LMS))})")
    return MASKED_LMS[name](settings)
