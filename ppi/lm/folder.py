"""The backbone folder of ``ppi pretrain``: ``config.json`` + ``model.safetensors`` + vocabularies.

Layout::

    config.json          {"format": "ppi-scratch-lm", "backbone": {...}, "go_terms": T, ...}
    model.safetensors    backbone.* (the scratch encoder), lm_head.*, go_head.* (if any)
    vocab.txt            the token vocabulary, one token a line, id = line number
    go_terms.json        the annotation head's terms and the leak filter (if any)
    train.fasta.gz       the training sequences (novelty of generated ones)

A pair (or single-sequence) model folder written by ``ppi train`` with a
scratch backbone is read too: its backbone weights are the keys under
``channels.sequence.backbone.``. Loading is strict: missing and unexpected
keys are named.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from ppi.errors import WeightsError

FORMAT = "ppi-scratch-lm"
CONFIG = "config.json"
WEIGHTS = "model.safetensors"
VOCAB = "vocab.txt"
TRAIN_FASTA = "train.fasta.gz"
#: the architecture a folder decides; everything else (finetune, windows) stays the user's
ARCHITECTURE = ("dim", "layers", "heads", "ff_mult", "max_len", "conv")
PAIR_PREFIX = "channels.sequence.backbone."


def read_json(path: Path) -> dict[str, Any]:
    """A folder's ``config.json``; a missing or damaged one is a one-line error."""
    if not path.is_file():
        raise WeightsError(
            f"{path.parent}: not a backbone folder (no {CONFIG}; expected the --out of "
            "ppi pretrain or a ppi train model folder)"
        )
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WeightsError(f"{path}: cannot be read as JSON ({exc})") from None
    if not isinstance(data, dict):
        raise WeightsError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def folder_backbone(folder: Path) -> tuple[dict[str, Any], str]:
    """The backbone settings a folder was trained with, and the prefix of its weights."""
    data = read_json(folder / CONFIG)
    if data.get("format") == FORMAT:
        return dict(data["backbone"]), "backbone."
    backbone = (
        data.get("config", {}).get("backbone") if isinstance(data.get("config"), dict) else None
    )
    if not isinstance(backbone, dict):
        raise WeightsError(
            f"{folder / CONFIG}: neither a ppi pretrain folder (format {FORMAT!r}) nor a "
            "ppi model folder (config.backbone)"
        )
    if backbone.get("name", "scratch") != "scratch":
        raise WeightsError(
            f"{folder}: its backbone is {backbone.get('name')!r}; backbone.path of 'scratch' "
            "needs a scratch backbone"
        )
    return backbone, PAIR_PREFIX


def read_tensors(path: Path) -> dict[str, torch.Tensor]:
    """``model.safetensors``; missing or damaged is a one-line error."""
    if not path.is_file():
        raise WeightsError(f"{path.parent}: backbone folder has no {WEIGHTS}")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise WeightsError(f"{path}: cannot be loaded ({exc})") from None


def read_backbone(config: Any) -> tuple[Any, dict[str, torch.Tensor]]:
    """``config`` with the folder's architecture, and the backbone tensors (prefix removed).

    An architecture value the user set that differs from the folder's is an
    error: the weights would not fit it.
    """
    folder = Path(config.path).expanduser()
    saved, prefix = folder_backbone(folder)
    defaults = type(config)()
    changes = {}
    for key in ARCHITECTURE:
        if key not in saved:
            continue
        mine = getattr(config, key)
        if mine != getattr(defaults, key) and mine != saved[key]:
            raise WeightsError(
                f"backbone.{key}={mine}: the folder {folder} holds a backbone with "
                f"{key}={saved[key]}; leave backbone.{key} unset"
            )
        changes[key] = saved[key]
    tensors = read_tensors(folder / WEIGHTS)
    state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
    return dataclasses.replace(config, **changes), state


def load_strict(module: nn.Module, state: dict[str, torch.Tensor], where: str) -> None:
    """``load_state_dict`` that names missing and unexpected keys in one line."""
    result = module.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise WeightsError(
            f"{where}: weights do not fit: missing keys {result.missing_keys[:5]}, "
            f"unexpected keys {result.unexpected_keys[:5]}"
        )
