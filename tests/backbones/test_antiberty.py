"""The AntiBERTy backbone on the real weights shipped in antiberty==0.1.3."""

from __future__ import annotations

import hashlib
import importlib.util

import pytest
import torch
from transformers import BertConfig, BertModel, BertTokenizer
from transformers.models.bert.modeling_bert import BertOnlyMLMHead

import ppi.backbones.antiberty as antiberty
from ppi.backbones import BACKBONES
from ppi.backbones.antiberty import AntibertyBackbone, AntibertyConfig, load_bert
from ppi.errors import ConfigError, WeightsError

# Antibody variable domains from IEDB (CC BY 4.0), as collected by
# naity/protein-transformer (Apache-2.0): the first four rows of bcr_test.parquet
# in shared/data/bcr_antibody.
ANTIBODIES = [
    "EVQLVESGGGLIQPGGSLRLSCAASGFTVSSNYMSWVRQAPGKGLEWVSVIYSGGSTFYADSVKGRFTISRDNSKNTLYLQMNSLRAED"
    "TAVYYCARDLGTGLFDYWGQGTLVTVSS",
    "QEQLVESGGRLVTPGTALTLTCKVSGFSLSGFWLNWVRQAPGKGLEWVGAIYRGSGSEWYASWAKGRFTISDTSTTVTLKLTSPTTEDT"
    "ATYFCAADTTDNGYFTIWGPGTLVTVSS",
    "EVQLVESGGGLVQPGGSLRLSCAASGFTFDDYAMSWVRQAPGKGLEWIGRMYNNGRTSYNPSLKSLVTISRDNSKNTLYLQMNSLRAED"
    "TATYYCARDNLGYRPSENLYGMDVWGQGTTVTVSSSGQAGHHHHHHGDYKDDDDKG",
    "EVQLLEQSGAEVKKPGASVRVSCKVSGYTLPEVAMHWVRQAPGKGLEWMGGFDPEDGETMYAQKFQGRVTMTEDTSTDTAYMELSSLRSED"
    "TAVYYCATTTPFSSSYWFDPWGQGTLVTV",
]

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def model():
    return AntibertyBackbone(AntibertyConfig()).eval()


@pytest.fixture(scope="module")
def checkpoint(model):
    return torch.load(model.weights_path, map_location="cpu", weights_only=True)


def test_loads_every_encoder_weight_of_the_checkpoint(model, checkpoint):
    assert BACKBONES.get("antiberty") is AntibertyBackbone
    state = model.bert.state_dict()
    assert len(state) == 5 + 16 * 8  # embeddings + 16 tensors per block, nothing left random
    for key, value in state.items():
        assert torch.equal(value, checkpoint[f"bert.{key}"]), key


def test_shape_mask_and_unknown_residue(model):
    with torch.no_grad():
        emb, mask = model(["EVQLVESGG", "DIQXTQ"])
    assert (model.dim, model.max_len) == (512, 510)
    assert emb.shape == (2, 9, 512)
    assert mask.sum(1).tolist() == [9, 6]
    assert torch.all(emb[1, 6:] == 0) and torch.all(emb[1, :6].abs().sum(-1) > 0)


def test_token_ids_match_the_package_vocabulary(model):
    tokenizer = BertTokenizer(str(model.weights_path.parents[1] / "vocab.txt"), do_lower_case=False)
    seqs = ["ACDEFGHIKLMNPQRSTVWYX", "QVQ"]
    expected = tokenizer([" ".join(s) for s in seqs], padding=True, return_tensors="pt")
    ids, attention = model.tokenize(seqs)
    assert torch.equal(ids, expected["input_ids"])
    assert torch.equal(attention, expected["attention_mask"])
    assert ids[0, 1] == model.vocab["A"] == 5 and ids[0, 21] == model.vocab["[UNK]"]


def test_embeddings_do_not_depend_on_the_batch(model):
    with torch.no_grad():
        together, _ = model.embed_windows(ANTIBODIES[:3])
        for i, seq in enumerate(ANTIBODIES[:3]):
            alone, _ = model.embed_windows([seq])
            assert (together[i, : len(seq)] - alone[0]).abs().max() < 1e-4


def test_masked_residues_of_real_antibodies_are_recovered(model, checkpoint):
    config = BertConfig.from_json_file(str(model.weights_path.parent / "config.json"))
    head = BertOnlyMLMHead(config).eval()  # the MLM head of BertForMaskedLM
    prefix = "cls.predictions."
    head.load_state_dict({k[4:]: v for k, v in checkpoint.items() if k.startswith(prefix)})
    ids, attention = model.tokenize(ANTIBODIES)
    residues = ids >= model.vocab["A"]
    chosen = residues & (torch.rand(ids.shape, generator=torch.Generator().manual_seed(0)) < 0.15)
    masked = ids.masked_fill(chosen, model.vocab["[MASK]"])
    with torch.no_grad():
        guess = head(model.encode(masked, attention)).argmax(-1)  # (B, L + 2)
    assert chosen.sum() > 50
    accuracy = (guess[chosen] == ids[chosen]).float().mean()
    assert accuracy > 0.5  # chance is 1/20; the trained model gets about 0.75


def test_layer_choice_returns_that_hidden_state(model):
    seqs = ANTIBODIES[:2]
    middle = AntibertyBackbone(AntibertyConfig(layer=4)).eval()
    assert len(middle.blocks()) == 5 and middle.layer == 4
    ids, attention = model.tokenize(seqs)
    with torch.no_grad():  # the default model keeps all 8 blocks
        hidden = model.bert(input_ids=ids, attention_mask=attention, output_hidden_states=True)
        emb, mask = middle.embed_windows(seqs)
    expected = hidden.hidden_states[4][:, 1:-1]  # (B, L, D), [CLS] and last [SEP] dropped
    assert (emb[mask] - expected[mask]).abs().max() < 1e-4
    assert (emb[mask] - hidden.last_hidden_state[:, 1:-1][mask]).abs().max() > 0.1
    assert middle.identity().endswith(":layer=4") and model.identity().endswith(":layer=8")
    with pytest.raises(ConfigError, match="valid: 0..8, or -9..-1"):
        AntibertyBackbone(AntibertyConfig(layer=9))


def test_identity_has_the_checkpoint_sha256(model):
    digest = hashlib.sha256(model.weights_path.read_bytes()).hexdigest()
    assert f"sha256={digest}" in model.identity()


def test_finetune_last_trains_the_last_block_only():
    model = AntibertyBackbone(AntibertyConfig(finetune="last", finetune_layers=1))
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith("bert.encoder.layer.7.") for n in trainable)


def test_missing_package_says_which_extra_to_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        antiberty.importlib.util,
        "find_spec",
        lambda name: None if name == "antiberty" else real(name),
    )
    with pytest.raises(WeightsError, match=r"pip install 'ppi\[antibody\]'.*0\.1\.3"):
        AntibertyBackbone(AntibertyConfig())


def test_a_package_without_weights_is_refused(monkeypatch, tmp_path):
    monkeypatch.setattr(antiberty, "package_dir", lambda: tmp_path)
    with pytest.raises(WeightsError, match=r"config\.json not found .*antiberty==0\.1\.3"):
        AntibertyBackbone(AntibertyConfig())


def test_strict_load_names_missing_and_unexpected_keys(tmp_path):
    config = BertConfig(
        vocab_size=25,
        hidden_size=8,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=16,
        max_position_embeddings=16,
    )
    config.to_json_file(str(tmp_path / "config.json"))
    tiny = BertModel(config, add_pooling_layer=False)
    state = {f"bert.{k}": v for k, v in tiny.state_dict().items()}
    state.pop("bert.encoder.layer.0.output.dense.bias")
    state["cls.species.weight"] = torch.zeros(6, 8)  # a known head: fine
    state["other.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "pytorch_model.bin")
    expected = (
        r"missing keys \['encoder.layer.0.output.dense.bias'\], unexpected keys \['other.weight'\]"
    )
    with pytest.raises(WeightsError, match=expected):
        load_bert(tmp_path / "config.json", tmp_path / "pytorch_model.bin")
