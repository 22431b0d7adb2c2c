"""AntiBERTy: a BERT (8 layers, width 512) trained on 558M antibody sequences.

Ruffolo, Gray and Sulam, "Deciphering antibody affinity maturation with
language models and weakly supervised learning" (2021). The trained weights
ship inside the ``antiberty==0.1.3`` package (1.0.0 no longer carries them):
``antiberty/trained_models/AntiBERTy_md_smooth/`` and ``trained_models/vocab.txt``.

The package's own code is never imported (it predates transformers 5); only
its files are read, into a plain :class:`transformers.BertModel`.
"""

from __future__ import annotations

import importlib.util
from importlib import metadata
from pathlib import Path

import torch
from torch import nn
from transformers import BertConfig, BertModel

from ppi.backbones.base import Backbone, resolve_layer
from ppi.backbones.configs import BACKBONES, AntibertyConfig
from ppi.errors import WeightsError
from ppi.utils.cache import file_digest

#: the checkpoint folder inside the package, and the vocabulary beside it
CHECKPOINT = Path("trained_models") / "AntiBERTy_md_smooth"
VOCAB = Path("trained_models") / "vocab.txt"
#: checkpoint keys a BertModel does not use: the MLM and species/chain/graft
#: heads, the pooler, and a position-id buffer that is rebuilt, not loaded
UNUSED_PREFIXES = ("cls.", "bert.pooler.", "bert.embeddings.position_ids")
INSTALL_HINT = (
    "install the extra: pip install 'ppi[antibody]' "
    "(antiberty==0.1.3 ships the weights; 1.0.0 no longer does)"
)


def package_dir() -> Path:
    """The installed ``antiberty`` folder, found without importing the package."""
    spec = importlib.util.find_spec("antiberty")
    if spec is None or not spec.submodule_search_locations:
        raise WeightsError(
            f"backbone 'antiberty': package antiberty is not installed; {INSTALL_HINT}"
        )
    return Path(list(spec.submodule_search_locations)[0])


def checkpoint_files(root: Path) -> tuple[Path, Path, Path]:
    """``(config.json, pytorch_model.bin, vocab.txt)`` under ``root``, each checked to exist."""
    files = (
        root / CHECKPOINT / "config.json",
        root / CHECKPOINT / "pytorch_model.bin",
        root / VOCAB,
    )
    for path in files:
        if not path.is_file():
            try:
                version = metadata.version("antiberty")
            except metadata.PackageNotFoundError:
                version = "unknown"
            raise WeightsError(
                f"backbone 'antiberty': {path} not found in antiberty {version}; {INSTALL_HINT}"
            )
    return files


def load_bert(config_path: Path, weights_path: Path) -> BertModel:
    """A BertModel holding the checkpoint's encoder weights, loaded strictly.

    Every BertModel key must be in the checkpoint; checkpoint keys other than
    the known heads (:data:`UNUSED_PREFIXES`) are reported as unexpected.
    """
    model = BertModel(BertConfig.from_json_file(str(config_path)), add_pooling_layer=False)
    state = torch.load(weights_path, map_location="cpu", weights_only=True)
    unexpected = [k for k in state if not k.startswith(("bert.", *UNUSED_PREFIXES))]
    used = [k for k in state if k.startswith("bert.") and not k.startswith(UNUSED_PREFIXES)]
    bert = {k.removeprefix("bert."): state[k] for k in used}
    result = model.load_state_dict(bert, strict=False)
    unexpected += [f"bert.{k}" for k in result.unexpected_keys]
    if result.missing_keys or unexpected:
        raise WeightsError(
            f"{weights_path}: does not match a BertModel: missing keys {result.missing_keys}, "
            f"unexpected keys {unexpected}"
        )
    return model


def read_vocab(path: Path) -> dict[str, int]:
    """Token -> id from a BERT ``vocab.txt`` (one token a line, id = line number)."""
    vocab = {tok: i for i, tok in enumerate(path.read_text().split())}
    needed = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", *"ACDEFGHIKLMNPQRSTVWY"]
    missing = [t for t in needed if t not in vocab]
    if missing:
        raise WeightsError(f"{path}: vocabulary lacks tokens {missing}")
    return vocab


@BACKBONES.register("antiberty")
class AntibertyBackbone(Backbone):
    """AntiBERTy embeddings of residues (``[CLS]``/``[SEP]`` outputs dropped)."""

    Config = AntibertyConfig

    def __init__(self, config: AntibertyConfig) -> None:
        super().__init__(config)
        config_path, self.weights_path, vocab_path = checkpoint_files(package_dir())
        self.bert = load_bert(config_path, self.weights_path)
        self.vocab = read_vocab(vocab_path)
        self.layer = resolve_layer(config.layer, len(self.bert.encoder.layer))
        self.bert.encoder.layer = self.bert.encoder.layer[: self.layer]
        self.dim = self.bert.config.hidden_size
        self.max_len = self.bert.config.max_position_embeddings - 2
        self._sha256: str | None = None
        self.apply_finetune()

    def tokenize(self, seqs: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids ``[CLS] r1 .. rn [SEP] [PAD]..`` and the attention mask.

        Residues missing from the vocabulary (X) become ``[UNK]``, as the
        package's BertTokenizer reads them.

        Shapes:
            returns ids ``(B, L + 2)`` and attention ``(B, L + 2)``, L = longest.
        """
        width = max((len(s) for s in seqs), default=0) + 2
        ids = torch.full((len(seqs), width), self.vocab["[PAD]"], dtype=torch.long)
        unk = self.vocab["[UNK]"]
        for i, seq in enumerate(seqs):
            tokens = [
                self.vocab["[CLS]"],
                *(self.vocab.get(r, unk) for r in seq),
                self.vocab["[SEP]"],
            ]
            ids[i, : len(tokens)] = torch.tensor(tokens)
        lengths = torch.tensor([len(s) + 2 for s in seqs])
        attention = torch.arange(width)[None, :] < lengths[:, None]  # (B, L + 2)
        device = self.bert.embeddings.word_embeddings.weight.device
        return ids.to(device), attention.long().to(device)

    def encode(self, ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        """Hidden states of the configured layer for every token.

        Shapes:
            ids ``(B, T)``, attention ``(B, T)`` -> ``(B, T, D)``.
        """
        return self.bert(input_ids=ids, attention_mask=attention).last_hidden_state

    def embed_windows(self, seqs: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Embed sequences of at most ``max_len`` residues.

        Shapes:
            returns ``(B, L, D)`` (zero where the mask is False) and mask ``(B, L)``.
        """
        too_long = [len(s) for s in seqs if len(s) > self.max_len]
        if too_long:
            raise ValueError(f"AntiBERTy windows hold {self.max_len} residues, got {max(too_long)}")
        ids, attention = self.tokenize(seqs)
        hidden = self.encode(ids, attention)  # (B, L + 2, D)
        length = ids.shape[1] - 2
        emb = hidden[:, 1 : length + 1]  # (B, L, D), [CLS] dropped
        lengths = torch.tensor([len(s) for s in seqs], device=emb.device)
        mask = torch.arange(length, device=emb.device)[None, :] < lengths[:, None]  # (B, L)
        return emb.masked_fill(~mask[..., None], 0.0), mask

    def blocks(self) -> list[nn.Module]:
        """The embedding layer, then the transformer blocks up to the chosen layer."""
        return [self.bert.embeddings, *self.bert.encoder.layer]

    def identity(self) -> str:
        """Names the checkpoint, its sha256 and the layer."""
        if self._sha256 is None:
            self._sha256 = file_digest(self.weights_path)
        return f"antiberty:{CHECKPOINT.name}:sha256={self._sha256}:layer={self.layer}"
