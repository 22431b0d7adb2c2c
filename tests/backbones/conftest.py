"""Fixtures of the backbone tests: tiny ESM-2 and BERT models (UniRep: tests/conftest.py)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a module on one thread: on a busy 2-core machine two threads are several times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_esm2(tmp_path_factory):
    """A tiny random ESM-2 (2 layers, width 32) in fair-esm's checkpoint format, and the model."""
    import esm
    from esm.model.esm2 import ESM2

    from ppi.backbones.esm2 import save_checkpoint

    torch.manual_seed(0)
    alphabet = esm.data.Alphabet.from_architecture("ESM-1b")
    model = ESM2(num_layers=2, embed_dim=32, attention_heads=4, alphabet=alphabet).eval()
    path = tmp_path_factory.mktemp("esm") / "esm2_tiny.pt"
    save_checkpoint(model, path)
    return path, model


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory, tiny_bert_folder):
    """A folder with a ProtBert-like two-block base model (no masked-LM head)."""
    torch.manual_seed(0)
    return tiny_bert_folder(tmp_path_factory.mktemp("hf-bert") / "bert", layers=2)
