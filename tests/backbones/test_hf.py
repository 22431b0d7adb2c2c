"""The hf backbone against tiny random BERT, ESM and Llama models saved in folders."""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

import huggingface_hub.constants
import pytest
import torch
from tokenizers import Tokenizer, models, processors
from transformers import (
    AutoModel,
    AutoTokenizer,
    EsmConfig,
    EsmModel,
    EsmTokenizer,
    LlamaConfig,
    LlamaModel,
    PreTrainedTokenizerFast,
)

from ppi.backbones.configs import BACKBONES
from ppi.backbones.hf import HfBackbone, HfConfig
from ppi.errors import ConfigError, WeightsError

LETTERS = list("LAGVESIKRDTPNQFYMHCWXUBZO")  # 20 residues, X and the ambiguous codes
SEQS = ["MKTAYIAKQR", "GAVLX", "ACDEFGHIKLMNPQRSTVWYX"]
LONG = "ACDEFGHIKLMNPQRSTVWYMKTAYIAKQR"  # 30 residues


def save_esm(folder: Path) -> None:
    """ESM-2 in Hugging Face format: a slow tokenizer over plain strings, rotary positions."""
    vocab = ["<cls>", "<pad>", "<eos>", "<unk>", *LETTERS, ".", "-", "<null_1>", "<mask>"]
    folder.mkdir()
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    EsmTokenizer(vocab_file=str(folder / "vocab.txt")).save_pretrained(folder)
    config = EsmConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        position_embedding_type="rotary",
        pad_token_id=1,
        mask_token_id=len(vocab) - 1,
        token_dropout=True,
        emb_layer_norm_before=False,
    )
    EsmModel(config).save_pretrained(folder)


def save_llama(folder: Path) -> None:
    """A decoder with a BOS token and a BPE that merges "AC" and "ACD" into one token."""
    specials = ["<pad>", "<unk>", "<s>", "</s>"]
    vocab = {t: i for i, t in enumerate([*specials, *LETTERS, "AC", "ACD"])}
    bpe = models.BPE(vocab=vocab, merges=[("A", "C"), ("AC", "D")], unk_token="<unk>")
    core = Tokenizer(bpe)
    core.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", 2)]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )
    tokenizer.save_pretrained(folder)
    config = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=64,
        bos_token_id=2,
        eos_token_id=3,
    )
    LlamaModel(config).save_pretrained(folder)


SAVERS = {"esm": save_esm, "llama": save_llama}  # "bert": the tiny_bert fixture


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory, tiny_bert: Path) -> dict[str, Path]:
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("hf")
    for kind, save in SAVERS.items():
        save(root / kind)
    return {"bert": tiny_bert} | {kind: root / kind for kind in SAVERS}


def build(folder: Path, **kwargs) -> HfBackbone:
    return HfBackbone(HfConfig(model=str(folder), **kwargs))


@functools.cache
def load_reference(folder: Path) -> tuple:
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    return tokenizer, AutoModel.from_pretrained(folder, local_files_only=True).eval()


def reference(folder: Path, seq: str, layer: int, spaced: bool) -> torch.Tensor:
    """Hidden state of the token carrying each residue, one sequence alone.

    The residue-to-token map comes from the tokenizer's own token strings
    (lengths of the pieces), independently of the backbone's offset logic.

    Shapes:
        returns ``(L, D)``.
    """
    tokenizer, model = load_reference(folder)
    text = " ".join(seq) if spaced else seq
    enc = tokenizer([text], return_tensors="pt")
    with torch.no_grad():
        hidden = model(**enc, output_hidden_states=True).hidden_states[layer][0]  # (T, D)
    owner = []
    for t, piece in enumerate(tokenizer.tokenize(text)):
        owner += [t + 1] * len(piece.removeprefix("##"))  # +1: the CLS/BOS token
    assert len(owner) == len(seq)
    return hidden[owner]


@pytest.mark.parametrize(
    ("kind", "mode", "max_len"),
    [("bert", "spaced", 38), ("esm", "plain", 62), ("llama", "plain", 63)],
)
def test_residues_mode_and_max_len_from_tokenizer(folders, kind, mode, max_len) -> None:
    backbone = build(folders[kind])
    assert backbone.residues == mode
    assert backbone.max_len == max_len
    assert backbone.dim == 16
    assert backbone.causal is (kind == "llama")
    assert not getattr(backbone.model.config, "use_cache", False)


@pytest.mark.parametrize("kind", ["bert", "esm", "llama"])
@pytest.mark.parametrize("layer", [-1, 1])
def test_values_are_the_models_hidden_states_at_residues(folders, kind, layer) -> None:
    backbone = build(folders[kind], layer=layer)
    emb, mask = backbone.embed_windows(SEQS)
    assert emb.shape == (3, 21, 16) and emb.dtype == torch.float32
    assert mask.tolist() == [[j < len(s) for j in range(21)] for s in SEQS]
    for i, seq in enumerate(SEQS):
        ref = reference(folders[kind], seq, layer, spaced=kind == "bert")
        torch.testing.assert_close(emb[i, : len(seq)], ref, atol=1e-5, rtol=1e-4)
        assert emb[i, len(seq) :].abs().sum() == 0


def test_merged_tokens_give_one_vector_per_residue(folders) -> None:
    backbone = build(folders["llama"])
    assert backbone.tokenizer.tokenize("KACDE") == ["K", "ACD", "E"]
    emb, mask = backbone.embed_windows(["KACDE"])
    assert emb.shape == (1, 5, 16) and mask.all()
    torch.testing.assert_close(emb[0, 1], emb[0, 3])  # A, C, D share the token "ACD"
    assert not torch.allclose(emb[0, 0], emb[0, 1])


@pytest.mark.parametrize("kind", ["bert", "esm", "llama"])
def test_batch_independent(folders, kind) -> None:
    backbone = build(folders[kind])
    alone, _ = backbone.embed_windows([SEQS[1]])
    batched, _ = backbone.embed_windows(SEQS)
    torch.testing.assert_close(batched[1, : len(SEQS[1])], alone[0], atol=1e-5, rtol=1e-4)


def test_pool_last_residue_for_decoder_mean_for_encoder(folders) -> None:
    llama, bert = build(folders["llama"]), build(folders["bert"])
    emb, mask = llama.embed_windows(SEQS)
    torch.testing.assert_close(llama.pool(emb, mask)[1], emb[1, len(SEQS[1]) - 1])
    emb, mask = bert.embed_windows(SEQS)
    torch.testing.assert_close(bert.pool(emb, mask)[1], emb[1, : len(SEQS[1])].mean(0))


def test_decoder_residue_sees_only_its_prefix(folders) -> None:
    backbone = build(folders["llama"])
    full, _ = backbone.embed_windows([LONG])
    prefix, _ = backbone.embed_windows([LONG[:12]])
    torch.testing.assert_close(full[0, :12], prefix[0], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("kind", ["bert", "esm", "llama"])
def test_long_sequence_goes_through_windows(folders, kind) -> None:
    backbone = build(folders[kind], max_len=8, window_overlap=0.5)
    emb, mask = backbone([LONG, "MKT"])
    assert emb.shape == (2, 30, 16)
    assert mask[0].all() and mask[1].sum() == 3
    first, _ = backbone.embed_windows([LONG[:8]])
    last, _ = backbone.embed_windows([LONG[-8:]])
    # Windows start at 0, 4, .., 20 and 22: the first 4 and last 2 residues
    # are each covered by one window only.
    torch.testing.assert_close(emb[0, :4], first[0, :4], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(emb[0, -2:], last[0, -2:], atol=1e-5, rtol=1e-4)


def test_layer_out_of_range_names_valid_range(folders) -> None:
    with pytest.raises(ConfigError, match=r"valid: 0\.\.2, or -3\.\.-1"):
        build(folders["bert"], layer=5)


def test_identity_tracks_weights_and_layer(folders, tmp_path: Path) -> None:
    first = build(folders["esm"]).identity()
    assert first == build(folders["esm"], layer=2).identity()
    assert first != build(folders["esm"], layer=1).identity()
    assert first.startswith("hf:sha256=") and first.endswith(
        ":layer=2:residues=plain:dtype=float32"
    )
    torch.manual_seed(1)
    save_esm(tmp_path / "other")
    assert build(tmp_path / "other").identity() != first


def test_finetune_frozen_has_no_gradients(folders) -> None:
    backbone = build(folders["bert"])
    assert not any(p.requires_grad for p in backbone.parameters())
    emb, _ = backbone.embed_windows(SEQS)
    assert not emb.requires_grad
    backbone.train()
    assert not backbone.model.training


def test_finetune_last_trains_only_last_block(folders) -> None:
    backbone = build(folders["llama"], finetune="last", finetune_layers=1)
    trainable = {n for n, p in backbone.named_parameters() if p.requires_grad}
    last_block = {n for n, _ in backbone.named_parameters() if n.startswith("model.layers.1.")}
    assert last_block and trainable == last_block
    emb, _ = backbone.embed_windows(SEQS)
    emb.sum().backward()
    assert all(p.grad is not None for n, p in backbone.named_parameters() if n in trainable)


def test_finetune_full_skips_unused_heads_and_later_blocks(folders) -> None:
    backbone = build(folders["esm"], finetune="full", layer=1)
    trainable = {n for n, p in backbone.named_parameters() if p.requires_grad}
    assert "model.embeddings.word_embeddings.weight" in trainable
    assert any(n.startswith("model.encoder.layer.0.") for n in trainable)
    unused = ("model.encoder.layer.1.", "model.contact_head.", "model.pooler.")
    assert not any(n.startswith(unused) for n in trainable)
    assert [b is backbone.model.encoder.layer[0] for b in backbone.blocks()] == [True]


def test_forced_residue_mode_is_used(folders) -> None:
    # ProtBert-style WordPiece reads unspaced residues as one unknown word.
    backbone = build(folders["bert"], residues="plain")
    assert backbone.residues == "plain"
    with pytest.raises(WeightsError, match="reads residue 'M' at position 1 as the unknown"):
        backbone.embed_windows(["MKTAY"])


def test_slow_tokenizer_must_give_one_token_per_residue(folders) -> None:
    backbone = build(folders["esm"])
    backbone.tokenizer.add_tokens(["KT"])  # now "MKTAY" is 4 tokens
    with pytest.raises(WeightsError, match="gives 4 residue tokens for a 5-residue sequence"):
        backbone.embed_windows(["MKTAY"])


def test_registered_and_built_by_name(folders) -> None:
    assert BACKBONES.get("hf") is HfBackbone
    assert isinstance(BACKBONES.build(HfConfig(model=str(folders["bert"]))), HfBackbone)


def test_missing_local_folder_is_one_line_weights_error(tmp_path: Path) -> None:
    missing = tmp_path / "no_such_model"
    with pytest.raises(WeightsError) as err:
        build(missing)
    assert str(missing) in str(err.value) and "\n" not in str(err.value)


def test_folder_without_model_is_one_line_weights_error(tmp_path: Path) -> None:
    with pytest.raises(WeightsError) as err:
        build(tmp_path)
    assert str(tmp_path) in str(err.value) and "\n" not in str(err.value)


def test_unreachable_hub_is_one_line_weights_error(monkeypatch) -> None:
    # Offline mode fails at once the way an unreachable hub does after its retries.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(WeightsError) as err:
        HfBackbone(HfConfig(model="ppi-tests/no-such-model"))
    message = str(err.value)
    assert "\n" not in message and "'ppi-tests/no-such-model'" in message
    assert "huggingface-cli download ppi-tests/no-such-model" in message
    assert "backbone.model=/local/folder" in message


def test_hub_name_loads_from_cache_and_identity_names_commit(folders, tmp_path, monkeypatch):
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "models--ppi-tests--tiny-bert"
    shutil.copytree(folders["bert"], repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    backbone = HfBackbone(HfConfig(model="ppi-tests/tiny-bert"))
    assert (
        backbone.identity()
        == f"hf:ppi-tests/tiny-bert@{commit}:layer=2:residues=spaced:dtype=float32"
    )
    emb, _ = backbone.embed_windows(SEQS[:1])
    ref = reference(folders["bert"], SEQS[0], -1, spaced=True)
    torch.testing.assert_close(emb[0], ref, atol=1e-5, rtol=1e-4)


def test_bfloat16_weights_give_float32_embeddings(folders) -> None:
    half, full = build(folders["bert"], dtype="bfloat16"), build(folders["bert"])
    assert next(half.model.parameters()).dtype == torch.bfloat16
    emb, _ = half.embed_windows(SEQS)
    assert emb.dtype == torch.float32
    torch.testing.assert_close(emb, full.embed_windows(SEQS)[0], atol=0.1, rtol=0.1)
    assert half.identity().endswith(":dtype=bfloat16") and half.identity() != full.identity()
