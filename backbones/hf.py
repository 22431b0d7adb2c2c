"""Any Hugging Face protein language model: encoders (ProtBert, ESM) and decoders (Llama).

The model is a hub name or a local folder written by ``save_pretrained``.
Hidden states are mapped back to residues through the tokenizer: a fast
tokenizer's offset mapping gives each residue the token covering it (so
tokenizers that merge residues still give one vector per residue); a slow
tokenizer must give exactly one non-special token per residue.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import try_to_load_from_cache
from torch import nn
from transformers import AutoModel, AutoTokenizer

from ppi.backbones.base import RESIDUES, Backbone, freeze_unused, one_line, resolve_layer
from ppi.backbones.configs import BACKBONES, HfConfig
from ppi.errors import ConfigError, WeightsError
from ppi.utils.cache import file_digest

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
#: Cap on residues per window, also used when a model states no limit.
MAX_RESIDUES = 1022


@BACKBONES.register("hf")
class HfBackbone(Backbone):
    """Per-residue hidden states of a Hugging Face ``AutoModel`` at one layer."""

    Config = HfConfig

    def __init__(self, config: HfConfig) -> None:
        super().__init__(config)
        self.local = local_folder(config.model)
        self.tokenizer, self.model = load_pretrained(config, self.local)
        self.layers_name = find_layers(self.model, config.model)
        self.layer = resolve_layer(config.layer, len(self.model.get_submodule(self.layers_name)))
        self.dim = int(self.model.config.hidden_size)
        self.causal = any(getattr(m, "is_causal", False) is True for m in self.model.modules())
        self.residues = pick_residues(self.tokenizer, config)
        self.max_len = residue_limit(self.model, self.tokenizer, config.model)
        prepare_padding(self.tokenizer, config.model)
        self._identity = ""
        self.model.eval()
        self.apply_finetune()

    def embed_windows(self, seqs: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Embed sequences of at most ``max_len`` residues.

        Shapes:
            returns embeddings ``(B, L, D)`` (residues only, special tokens
            dropped) and a bool mask ``(B, L)``, True on residues.
        """
        device = next(self.model.parameters()).device
        texts = [residue_text(s, self.residues) for s in seqs]
        fast = bool(self.tokenizer.is_fast)
        enc = self.tokenizer(
            texts,
            padding=True,
            return_tensors="pt",
            **({"return_offsets_mapping": True} if fast else {"return_special_tokens_mask": True}),
        )
        pos, mask = self.residue_positions(enc, seqs, fast)  # (B, L), (B, L)
        inputs = {k: enc[k].to(device) for k in ("input_ids", "attention_mask")}
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.trainable):
            hidden = self.model(**inputs, output_hidden_states=True).hidden_states[self.layer]
        index = pos.to(device).unsqueeze(-1).expand(-1, -1, hidden.shape[-1])  # (B, L, D)
        emb = hidden.gather(1, index).float()  # (B, L, D)
        mask = mask.to(device)
        return emb * mask.unsqueeze(-1).to(emb.dtype), mask

    def residue_positions(
        self, enc: Any, seqs: list[str], fast: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """For each residue, the index of the token that carries it.

        Shapes:
            returns positions ``(B, L)`` (0 on padding) and mask ``(B, L)``.
        """
        lengths = torch.tensor([len(s) for s in seqs])
        longest = int(lengths.max()) if seqs else 0
        pos = torch.zeros(len(seqs), longest, dtype=torch.long)  # (B, L)
        for b, seq in enumerate(seqs):
            pick = self._from_offsets if fast else self._from_special_mask
            pos[b, : len(seq)] = pick(enc, b, seq)
        mask = torch.arange(longest)[None, :] < lengths[:, None]  # (B, L)
        return pos, mask

    def _from_offsets(self, enc: Any, b: int, seq: str) -> torch.Tensor:
        """Token covering each residue's character, from a fast tokenizer's offsets."""
        stride = 2 if self.residues == "spaced" else 1
        owner = torch.full((len(seq) * stride,), -1, dtype=torch.long)
        for t, (start, end) in enumerate(enc["offset_mapping"][b].tolist()):
            if end > start:  # special and padding tokens cover no text
                owner[start:end] = t
        found = owner[torch.arange(len(seq)) * stride]
        if (found < 0).any():
            i = int((found < 0).nonzero()[0])
            raise WeightsError(
                f"{self.config.model}: its tokenizer drops residue '{seq[i]}' at position "
                f"{i + 1} of a sequence (residues written {self.residues})"
            )
        self._check_known(enc["input_ids"][b][found].tolist(), seq)
        return found

    def _check_known(self, ids: list[int], seq: str) -> None:
        """Fail when a residue other than X lands on the unknown token."""
        unk = self.tokenizer.unk_token_id
        for i, (letter, token) in enumerate(zip(seq, ids, strict=True)):
            if token == unk and letter != "X":
                raise WeightsError(
                    f"{self.config.model}: its tokenizer reads residue '{letter}' at position "
                    f"{i + 1} as the unknown token (residues written {self.residues}; "
                    "try backbone.residues=spaced or plain)"
                )

    def _from_special_mask(self, enc: Any, b: int, seq: str) -> torch.Tensor:
        """Positions of the non-special tokens, which must be one per residue."""
        keep = (enc["special_tokens_mask"][b] == 0) & (enc["attention_mask"][b] == 1)
        found = keep.nonzero().squeeze(1)
        if len(found) != len(seq):
            raise WeightsError(
                f"{self.config.model}: its slow tokenizer gives {len(found)} residue tokens "
                f"for a {len(seq)}-residue sequence (residues written {self.residues}); "
                "expected one per residue"
            )
        return found

    def blocks(self) -> list[nn.Module]:
        """The transformer blocks up to the chosen layer (later ones do not count)."""
        return list(self.model.get_submodule(self.layers_name))[: self.layer]

    def apply_finetune(self) -> None:
        """Set the fine-tuning mode, then freeze weights the chosen layer never uses.

        Poolers, contact heads and blocks past ``layer`` get no gradient;
        leaving them trainable would break distributed training.
        """
        super().apply_finetune()
        freeze_unused(self.model, lambda: self.embed_windows(["ACDE"])[0])

    def identity(self) -> str:
        """``hf:<hub name@commit or sha256 of the folder>:layer=<k>:...``."""
        if not self._identity:
            if self.local is not None:
                source = f"sha256={sha256_folder(self.local)}"
            else:
                source = (
                    f"{self.config.model}@{hub_commit(self.config.model, self.config.revision)}"
                )
            self._identity = (
                f"hf:{source}:layer={self.layer}:residues={self.residues}:dtype={self.config.dtype}"
            )
        return self._identity


def local_folder(name: str) -> Path | None:
    """The folder ``name`` points to, or None for a hub name; a missing path is an error."""
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    looks_local = name.startswith(("/", ".", "~")) or name.count("/") > 1 or "\\" in name
    if path.exists() or looks_local:
        raise WeightsError(
            f"backbone.model: local model folder {path} not found (expected a folder with "
            "config.json, weights and tokenizer files written by save_pretrained)"
        )
    return None


def load_pretrained(config: HfConfig, local: Path | None) -> tuple[Any, nn.Module]:
    """Tokenizer and base model, from the folder only or from the hub (and its cache)."""
    if config.dtype not in DTYPES:
        raise ConfigError(
            f"backbone.dtype: expected one of {', '.join(DTYPES)}, got {config.dtype!r}"
        )
    source = str(local) if local is not None else config.model
    where = {"local_files_only": True} if local is not None else {"revision": config.revision}
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **where)
        model = AutoModel.from_pretrained(source, dtype=DTYPES[config.dtype], **where)
    except (OSError, ValueError, KeyError) as exc:
        if local is not None:
            raise WeightsError(
                f"{local}: cannot load a Hugging Face model from this folder ({one_line(exc)})"
            ) from None
        raise WeightsError(
            f"hf: could not load '{config.model}' (revision {config.revision}) from the "
            f"Hugging Face hub or its local cache ({one_line(exc)}); download it where the "
            f"hub is reachable with `huggingface-cli download {config.model}` and set "
            "backbone.model=/local/folder"
        ) from None
    if getattr(model.config, "use_cache", False):
        model.config.use_cache = False  # embeddings only: no generation cache to keep
    return tokenizer, model


def hub_commit(name: str, revision: str) -> str:
    """The commit a hub revision was loaded from: the name of its cached snapshot folder."""
    found = try_to_load_from_cache(name, "config.json", revision=revision)
    # After a successful load config.json is in the cache; the revision is a last resort.
    return Path(found).parent.name if isinstance(found, str) else revision


def find_layers(model: nn.Module, where: str) -> str:
    """Name of the module list holding the transformer blocks (``encoder.layer``, ``layers``)."""
    count = getattr(model.config, "num_hidden_layers", None)
    for name, module in model.named_modules():
        if isinstance(module, nn.ModuleList) and len(module) == count and count:
            return name
    raise WeightsError(
        f"{where}: found no list of num_hidden_layers={count} blocks in {type(model).__name__}"
    )


def residue_text(seq: str, mode: str) -> str:
    """The sequence as the tokenizer expects it: ``"ACD"`` or ``"A C D"``."""
    return " ".join(seq) if mode == "spaced" else seq


def pick_residues(tokenizer: Any, config: HfConfig) -> str:
    """``plain`` or ``spaced``: the configured one, or the first the tokenizer reads."""
    if config.residues != "auto":
        return config.residues
    for mode in ("plain", "spaced"):
        ids = tokenizer(residue_text(RESIDUES, mode), add_special_tokens=False)["input_ids"]
        if ids and tokenizer.unk_token_id not in ids:
            return mode
    raise WeightsError(
        f"{config.model}: its tokenizer reads amino-acid letters as the unknown token "
        f"'{tokenizer.unk_token}' whether spaced or not; is it a protein model?"
    )


def residue_limit(model: nn.Module, tokenizer: Any, where: str) -> int:
    """Residues per window: position embeddings minus special tokens, at most 1022."""
    limit = getattr(model.config, "max_position_embeddings", None)
    if not limit:
        return MAX_RESIDUES
    positions = getattr(getattr(model, "embeddings", None), "position_embeddings", None)
    offset = 0
    if isinstance(positions, nn.Embedding) and positions.padding_idx is not None:
        offset = positions.padding_idx + 1  # RoBERTa-style positions start after padding
    room = limit - offset - tokenizer.num_special_tokens_to_add(pair=False)
    if room < 1:
        raise WeightsError(f"{where}: max_position_embeddings={limit} leaves no room for residues")
    return min(room, MAX_RESIDUES)


def prepare_padding(tokenizer: Any, where: str) -> None:
    """Pad on the right (positions stay put for decoders) with a masked-out pad token."""
    tokenizer.padding_side = "right"
    if tokenizer.pad_token is not None:
        return
    fill = tokenizer.eos_token or tokenizer.unk_token
    if fill is None:
        raise WeightsError(f"{where}: tokenizer has no pad, eos or unk token to pad batches with")
    tokenizer.pad_token = fill  # padded positions are masked out of attention and output


def sha256_folder(folder: Path) -> str:
    """Hex sha256 over a model folder's files (names and contents), read in chunks."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
        digest.update(path.name.encode())
        digest.update(file_digest(path).encode())
    return digest.hexdigest()
