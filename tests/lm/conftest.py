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
    model.save_pretrained(folder, train_sequences=[("p1", "MKTAYIAKQRQISFVKSHFSRQ")])
    return folder


@pytest.fixture
def store_of(tmp_path):
    """A function: accession -> sequence dict to a sequence store of them, in that order."""
    from ppi.data.sequence_store import open_store

    def make(proteins: dict[str, str]):
        fasta = tmp_path / f"store{len(list(tmp_path.glob('*.fasta')))}.fasta"
        fasta.write_text("".join(f">{k}\n{v}\n" for k, v in proteins.items()))
        return open_store([str(fasta)], fasta.with_suffix(""))

    return make
