"""Fixtures of the language-model tests: a tiny random ``ppi pretrain`` folder."""

from __future__ import annotations

import pytest
import torch

from ppi.backbones.scratch import ScratchConfig
from ppi.lm.model import ScratchLM


@pytest.fixture(scope="session")
def tiny_lm_folder(tmp_path_factory):
    """A folder as ``ppi pretrain`` writes it, with random weights (dim 16, one block)."""
    torch.manual_seed(0)
    model = ScratchLM(ScratchConfig(dim=16, layers=1, heads=2, max_len=64))
    folder = tmp_path_factory.mktemp("tiny-lm")
    model.save_pretrained(folder, train_sequences={"p1": "MKTAYIAKQRQISFVKSHFSRQ"})
    return folder
