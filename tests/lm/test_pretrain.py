import json
import math
import random
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from ppi.cli import run
from ppi.data.examples import resolve
from ppi.data.fasta import read_fasta, write_fasta

ARCH = ["backbone.dim=16", "backbone.layers=1", "backbone.heads=2", "backbone.max_len=64"]
FAST = [
    *ARCH,
    "pretrain.cluster_measure=kmer",
    "pretrain.heldout=0.2",
    "pretrain.lr=0.005",
    "pretrain.batch_tokens=2048",
    "pretrain.cpu_threads=1",
]
GO = [
    "pretrain.annotations=example:go_yeast/go_annotations.tsv.gz",
    "pretrain.id_map=example:yeast_swissprot/uniprot_sprot_yeast.fasta.gz",
    "pretrain.min_freq=3",
]


@pytest.fixture(scope="module")
def yeast_slice(tmp_path_factory):
    """150 reviewed yeast proteins of the bundled proteome, as a FASTA."""
    proteins = read_fasta(resolve("example:yeast_swissprot/uniprot_sprot_yeast.fasta.gz"))
    path = tmp_path_factory.mktemp("yeast") / "slice.fasta"
    write_fasta(dict(list(proteins.items())[:150]), path)
    return path


def metrics(out):
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


# smaller batches than FAST: in 4 epochs enough steps to beat uniform on every held-out residue
FIXTURE_RUN = ["pretrain.batch_tokens=512", "pretrain.epochs=4"]


@pytest.fixture(scope="module")
def pretrained(yeast_slice, tmp_path_factory):
    out = tmp_path_factory.mktemp("pre") / "lm"
    assert run(["pretrain", "--out", str(out), str(yeast_slice), *FAST, *GO, *FIXTURE_RUN]) == 0
    return out


def test_pretraining_lowers_held_out_loss_below_uniform(pretrained, yeast_slice):
    from ppi.lm import pretrain as pt

    rows = metrics(pretrained)
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4]
    assert rows[-1]["heldout_loss"] < rows[0]["heldout_loss"]
    assert rows[-1]["heldout_loss"] < math.log(20)
    assert 0 <= rows[-1]["go_fmax"] <= 1 and 0 < rows[-1]["go_fmax_naive"] <= 1
    split = json.loads((pretrained / "split.json").read_text())
    data = pt.load_run(pretrained, [str(yeast_slice)])[1]
    assert data.store.accessions(data.held) == split["held_out"] and len(split["held_out"]) >= 20
    train = set(data.store.accessions(data.train))
    assert not train & set(split["held_out"]) and len(train) + len(data.held) == len(data.store)
    # every residue of the held-out proteins is read, in windows of max_len (64)
    proteins = read_fasta(resolve("example:yeast_swissprot/uniprot_sprot_yeast.fasta.gz"))
    windows = sum(math.ceil(len(proteins[p]) / 64) for p in split["held_out"])
    assert rows[-1]["heldout_sequences"] == len(split["held_out"])
    assert rows[-1]["heldout_windows"] == windows > len(split["held_out"])


def test_folder_holds_config_weights_vocab_and_go_terms(pretrained):
    config = json.loads((pretrained / "config.json").read_text())
    assert config["format"] == "ppi-scratch-lm" and config["backbone"]["dim"] == 16
    terms = json.loads((pretrained / "go_terms.json").read_text())["terms"]
    assert config["go_terms"] == len(terms) > 0 and "GO:0005515" not in terms
    keys = load_file(str(pretrained / "model.safetensors"))
    assert {k.split(".")[0] for k in keys} == {"backbone", "lm_head", "go_head"}
    assert (pretrained / "vocab.txt").read_text().split()[:5] == [
        "<pad>",
        "<cls>",
        "<eos>",
        "<unk>",
        "<mask>",
    ]


def test_resume_after_a_kill_gives_the_same_weights(yeast_slice, tmp_path):
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert run(["pretrain", "--out", str(full), str(yeast_slice), *FAST, "pretrain.epochs=2"]) == 0
    args = ["pretrain", "--out", str(cut), str(yeast_slice), *FAST, "pretrain.epochs=2"]
    assert run([*args, "pretrain.stop_after=1"]) == 0
    assert [r["epoch"] for r in metrics(cut)] == [1]
    # what a kill inside epoch 2's checkpoint leaves: its metrics line written, half a line
    # after it, and a checkpoint folder never marked done
    with open(cut / "metrics.jsonl", "a") as handle:
        handle.write(json.dumps({**metrics(cut)[0], "epoch": 2}) + '\n{"epoch": 3, "heldo')
    (cut / "checkpoints" / "epoch_2").mkdir()
    assert run([*args, "resume=true"]) == 0
    assert [r["epoch"] for r in metrics(cut)] == [1, 2]
    a, b = load_file(str(full / "model.safetensors")), load_file(str(cut / "model.safetensors"))
    assert a.keys() == b.keys()
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    assert metrics(full)[-1]["heldout_loss"] == pytest.approx(
        metrics(cut)[-1]["heldout_loss"], abs=1e-6
    )


def test_resuming_another_job_or_overwriting_one_is_refused(yeast_slice, tmp_path, capsys):
    args = ["pretrain", "--out", str(tmp_path / "j"), str(yeast_slice), *FAST, "pretrain.epochs=2"]
    assert run([*args, "pretrain.stop_after=1"]) == 0
    # a stopped job says so, not "pretrained" as a finished one does
    assert "stopped after epoch 1 of 2" in capsys.readouterr().out
    assert run(args) == 2
    assert "resume=true" in capsys.readouterr().err
    assert run([*args, "pretrain.lr=0.001", "resume=true"]) == 2
    err = capsys.readouterr().err
    assert "another job (pretrain.lr: 0.005 there, 0.001 now)" in err  # names what differs
    assert run([*args, "pretrain.seed=3", "backbone.dim=32", "resume=true"]) == 2
    err = capsys.readouterr().err
    assert "backbone.dim: 16 there, 32 now; pretrain.seed: 0 there, 3 now" in err
    other = tmp_path / "other.fasta"
    other.write_text(yeast_slice.read_text())
    assert run([*args[:3], str(other), *args[4:], "resume=true"]) == 2
    assert "the dumps or their order differ" in capsys.readouterr().err


def test_bad_inputs_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.fasta"
    bad.write_text(">a\nMK7V\n")
    assert run(["pretrain", "--out", str(tmp_path / "o"), str(bad), *FAST]) == 2
    err = capsys.readouterr().err
    assert "bad.fasta" in err and len(err.strip().splitlines()) == 1
    assert run(["pretrain", "--out", str(tmp_path / "o"), str(tmp_path / "none.fa"), *FAST]) == 2
    assert run(["pretrain", "--out", str(tmp_path / "o"), str(bad), "backbone.name=esm2"]) == 2
    assert not (tmp_path / "o" / "model.safetensors").exists()


def test_bad_annotations_are_one_line_and_leave_no_folder(yeast_slice, tmp_path, capsys):
    # the split used to be written before the GO table was read, leaving a folder behind
    out = tmp_path / "o"
    args = ["pretrain", "--out", str(out), str(yeast_slice), *FAST]
    assert run([*args, f"pretrain.annotations={yeast_slice}"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1  # read before the sequence store is built (no note of it)
    assert "slice.fasta:1: expected a tab-separated header" in err and "got '>" in err
    assert not out.exists()
    table = tmp_path / "go.tsv"
    table.write_text(
        "go_id\tgo_name\tgo_domain\tgene_symbols\nGO:0000001\tx\tbiological_process\tNOSUCHGENE\n"
    )
    assert run([*args, f"pretrain.annotations={table}", f"pretrain.id_map={yeast_slice}"]) == 2
    assert "no GO term is carried" in capsys.readouterr().err
    assert not out.exists()


def test_pretrained_folder_trains_a_pair_model_and_back(
    pretrained, guo_slice, tmp_path, train_args
):
    fasta, pairs = guo_slice
    args = train_args(
        fasta, pairs, tmp_path, "train.epochs=1", "run_name=from_lm", f"backbone.path={pretrained}"
    )
    assert run(args) == 0
    from ppi.model import PPIModel

    model = PPIModel.from_pretrained(tmp_path / "from_lm" / "model")
    backbone = model.channels["sequence"].backbone
    assert backbone.pretrained and backbone.dim == 16
    # the pair model's backbone can be pretrained further
    out = tmp_path / "again"
    assert (
        run(
            [
                "pretrain",
                "--out",
                str(out),
                str(fasta),
                *FAST,
                "pretrain.epochs=1",
                f"backbone.path={tmp_path / 'from_lm' / 'model'}",
            ]
        )
        == 0
    )
    assert json.loads((out / "config.json").read_text())["backbone"]["dim"] == 16


def test_pretrained_weights_reach_the_sequence_channel(pretrained):
    from ppi.backbones.scratch import ScratchBackbone, ScratchConfig

    loaded = ScratchBackbone(ScratchConfig(path=str(pretrained), finetune="frozen"))
    saved = load_file(str(pretrained / "model.safetensors"))
    assert loaded.dim == 16 and loaded.max_len == 64
    assert torch.equal(loaded.layers[0].attn.qkv.weight, saved["backbone.layers.0.attn.qkv.weight"])
    with pytest.raises(Exception, match="dim=16"):
        ScratchBackbone(ScratchConfig(path=str(pretrained), dim=32, heads=2))


def test_generate_from_the_pretrained_folder(pretrained, tmp_path, capsys):
    args = ["generate", "--model", str(pretrained), "--num", "4", "--length", "30-40"]
    args += ["--motif", "HEXXH@5", "--max-fraction", "C=0.05", "--seed", "1"]
    out, again = tmp_path / "gen.fasta", tmp_path / "again.fasta"
    assert run([*args, "--out", str(out)]) == 0
    seqs = read_fasta(out)
    assert len(seqs) == 4 and all(s[4:6] == "HE" and s[8] == "H" for s in seqs.values())
    assert all(s.count("C") <= 0.05 * len(s) for s in seqs.values())
    rows = (tmp_path / "gen.tsv").read_text().splitlines()
    header = "id length pll pll_per_residue pll_positions checks max_identity".split()
    assert rows[0].split("\t")[:7] == header
    assert len(rows) == 5 and all(r.split("\t")[6] != "NA" for r in rows[1:])
    assert run([*args, "--out", str(again)]) == 0
    assert read_fasta(again) == seqs


def test_impossible_generation_writes_nothing(pretrained, tmp_path, capsys):
    out = tmp_path / "gen.fasta"
    code = run(
        [
            "generate",
            "--model",
            str(pretrained),
            "--length",
            "10",
            "--template",
            "XXXXXXXXXXXX",
            "--out",
            str(out),
        ]
    )
    assert code == 2 and not out.exists()
    assert "template has 12" in capsys.readouterr().err
    # a backbone folder given as the pair model to score with is named as such
    scored = ["generate", "--model", str(pretrained), "--length", "10", "--out", str(out)]
    fasta = tmp_path / "partner.fasta"
    fasta.write_text(">p\nMKVLAAGIV\n")
    assert run([*scored, "--score-with", str(pretrained), "--partner", str(fasta)]) == 2
    err = capsys.readouterr().err
    assert "got a backbone folder of ppi pretrain" in err and f"backbone.path={pretrained}" in err
    assert not out.exists()


def test_held_out_scoring_splits_over_processes_without_changing_the_sums(yeast_slice):
    """Every n-th held-out batch on each of n processes: summed, the figures of one process."""
    from ppi.backbones.configs import ScratchConfig
    from ppi.lm import pretrain as pt
    from ppi.lm.model import ScratchLM
    from ppi.lm.pretrain_data import batches

    torch.manual_seed(0)
    net = ScratchLM(ScratchConfig(dim=16, layers=1, heads=2, max_len=64), go_terms=3).eval()
    seqs = [s[:64] for s in read_fasta(yeast_slice).values()][:40]
    groups = batches([len(s) + 2 for s in seqs], 512, torch.Generator().manual_seed(0))
    unigram = torch.full((len(net.tokenizer),), -math.log(20))
    with torch.no_grad():
        one, go_one = pt._score_heldout(
            net, net.tokenizer, seqs, groups, range(len(groups)), unigram, "cpu"
        )
        parts = [
            pt._score_heldout(
                net, net.tokenizer, seqs, groups, range(r, len(groups), 3), unigram, "cpu"
            )
            for r in range(3)
        ]
    assert len(groups) > 3 and int(one[3]) == len(seqs)  # each sequence scored once
    assert torch.allclose(sum(p[0] for p in parts), one, rtol=1e-12)
    rows = sorted(i for p in parts for g, _ in p[1] for i in g)
    assert rows == list(range(len(seqs))) == sorted(i for g, _ in go_one for i in g)


def test_held_out_windows_cover_every_residue_once_and_go_is_a_proteins_mean(store_of):
    from ppi.backbones.configs import ScratchConfig
    from ppi.lm import pretrain as pt

    proteins = {"a": "M" * 150, "b": "K" * 64, "c": "W" * 10, "d": "A" * 500}
    store, held = store_of(proteins), np.array([0, 1, 2])
    data = pt.Data(store, np.array([3]), held, [], torch.zeros(1, 0), torch.zeros(3, 0))
    config = pt.PretrainConfig(backbone=ScratchConfig(max_len=64))
    seqs, owner = pt.heldout_windows(data, config)
    assert [len(s) for s in seqs] == [64, 64, 22, 64, 10] and owner == [0, 0, 0, 1, 2]
    for i, p in enumerate("abc"):
        assert "".join(s for s, o in zip(seqs, owner, strict=True) if o == i) == proteins[p]
    # GO scores of a protein: the mean of its windows', whichever batch each window sat in
    batch_scores = [
        ([0, 3], torch.tensor([[0.2], [0.5]])),
        ([4, 1, 2], torch.tensor([[0.9], [0.4], [0.6]])),
    ]
    scores = pt.protein_scores(batch_scores, owner, 3, 1)
    assert torch.allclose(scores[:, 0], torch.tensor([0.4, 0.5, 0.9]))


def test_held_out_figures_hide_fifteen_percent_whatever_the_training_rate(yeast_slice, store_of):
    """Runs trained with other mask rates are scored on the same held-out positions."""
    from accelerate import Accelerator

    from ppi.backbones.configs import ScratchConfig
    from ppi.lm import pretrain as pt
    from ppi.lm.model import ScratchLM

    torch.manual_seed(0)
    arch = ScratchConfig(dim=16, layers=1, heads=2, max_len=64)
    net = ScratchLM(arch).eval()
    proteins = dict(list(read_fasta(yeast_slice).items())[:40])
    none = torch.zeros(0, 0)
    everyone = np.arange(len(proteins))
    data = pt.Data(store_of(proteins), everyone[:0], everyone, [], none, torch.zeros(40, 0))
    unigram = torch.full((len(net.tokenizer),), -math.log(20))
    figures, hidden = [], []
    for rate in (0.15, 0.4):
        settings = pt.PretrainSettings(batch_tokens=512, mask_rate=rate)
        config = pt.PretrainConfig(backbone=arch, pretrain=settings)
        log_probs: dict = {}
        figures.append(
            pt.evaluate(net, net.tokenizer, data, config, unigram, Accelerator(cpu=True), log_probs)
        )
        hidden.append(sum(len(v) for v in log_probs.values()))
    residues = sum(len(s) for s in proteins.values())
    assert figures[0] == figures[1] and hidden[0] == hidden[1]
    assert 0.1 < hidden[0] / residues < 0.2
    # the log-probabilities handed out are the ones the loss sums
    assert figures[0]["heldout_loss"] == pytest.approx(
        -float(sum(v.sum() for v in log_probs.values())) / hidden[0]
    )


def test_a_convolutional_backbone_round_trips_through_its_folder(yeast_slice, tmp_path):
    """backbone.conv is part of the folder's architecture: the sequence channel rebuilds it."""
    from ppi.backbones.scratch import ScratchBackbone, ScratchConfig

    out = tmp_path / "lm"
    args = ["pretrain", "--out", str(out), str(yeast_slice), *FAST, "backbone.conv=3"]
    assert run([*args, "pretrain.epochs=1"]) == 0
    assert json.loads((out / "config.json").read_text())["backbone"]["conv"] == 3
    loaded = ScratchBackbone(ScratchConfig(path=str(out)))
    assert loaded.config.conv == 3 and loaded.pretrained
    saved = load_file(str(out / "model.safetensors"))
    conv = "layers.0.conv.depthwise.weight"
    assert torch.equal(loaded.state_dict()[conv], saved["backbone." + conv])


def test_shortcut_baselines_score_the_models_own_held_out_positions(pretrained, yeast_slice):
    from ppi.lm.baselines import shortcut_baselines

    out = shortcut_baselines(pretrained, [str(yeast_slice)], passes=2, epochs=1)
    last = metrics(pretrained)[-1]
    # the same positions and weights as the run's own last evaluation
    assert out["model"]["perplexity"] == pytest.approx(last["heldout_perplexity"], rel=1e-4)
    assert out["unigram"]["perplexity"] == pytest.approx(last["unigram_perplexity"], rel=1e-4)
    assert out["model"]["ratio"] == pytest.approx(last["perplexity_ratio"], rel=1e-4)
    assert out["positions"] > 100 and out["training_positions"] > out["positions"]
    for name in ("composition", "window"):
        assert 0.5 < out[name]["ratio"] < 1.5


def test_a_folder_measured_again_gives_its_last_epochs_figures(pretrained, yeast_slice):
    """evaluate_folder (bench_generate --dumps) reads the same split, weights and GO terms."""
    from ppi.lm import pretrain as pt
    from ppi.lm.pretrain import evaluate_folder

    out, last = evaluate_folder(pretrained, [str(yeast_slice)]), metrics(pretrained)[-1]
    for key in ("heldout_perplexity", "unigram_perplexity", "go_fmax", "go_fmax_naive"):
        assert out[key] == pytest.approx(last[key], rel=1e-4), key
    assert out["heldout_windows"] == last["heldout_windows"]
    assert out["heldout_sequences"] == last["heldout_sequences"]
    # as many training proteins in the held-out proteins' place, every residue read
    fit = evaluate_folder(pretrained, [str(yeast_slice)], on_training=True)
    split = json.loads((pretrained / "split.json").read_text())
    data = pt.load_run(pretrained, [str(yeast_slice)])[1]
    train = data.store.accessions(data.train)
    drawn = random.Random(0).sample(train, len(split["held_out"]))
    proteins = read_fasta(yeast_slice)
    assert fit["heldout_sequences"] == len(split["held_out"])
    assert fit["heldout_windows"] == sum(math.ceil(len(proteins[p]) / 64) for p in drawn)
    assert fit["heldout_windows"] != out["heldout_windows"]


def test_position_features_see_visible_neighbours_and_composition():
    from ppi.backbones.scratch import ScratchTokenizer
    from ppi.lm.baselines import position_features
    from ppi.lm.masking import IGNORE

    tok = ScratchTokenizer()
    ids, _ = tok.encode(["ACDA"])  # <cls> A C D A <eos>
    inputs, labels = ids.clone(), torch.full_like(ids, IGNORE)
    inputs[0, 2], labels[0, 2] = tok.mask_id, ids[0, 2]  # C hidden
    got = position_features(inputs, labels, tok.pad_id, 2)
    assert got.target.tolist() == [tok.vocab["C"] - 5]
    v = tok.vocab
    assert got.window.tolist() == [[v["<cls>"], v["A"], v["D"], v["A"]]]
    comp = dict(zip("ACDEFGHIKLMNPQRSTVWY", got.composition[0].tolist(), strict=True))
    assert comp["A"] == pytest.approx(2 / 3) and comp["D"] == pytest.approx(1 / 3)
    assert comp["C"] == 0  # hidden residues do not count
    far = position_features(inputs, labels, tok.pad_id, 4)
    assert far.window.tolist()[0][:2] == [tok.pad_id, tok.pad_id]  # beyond the row


def test_the_window_baseline_learns_what_neighbours_say():
    """On sequences of runs, a hidden residue is its neighbours': the window sees it."""
    import random

    from ppi.backbones.scratch import ScratchTokenizer
    from ppi.lm.baselines import WindowMLP, fit, nll_sum, training_positions

    rng = random.Random(0)
    aas = "ACDEFGHIKLMNPQRSTVWY"
    seqs = ["".join(rng.choice(aas) * 6 for _ in range(10)) for _ in range(200)]
    tok = ScratchTokenizer()
    train = training_positions(tok, seqs, 60, 3, 2, seed=0)
    test = training_positions(tok, seqs, 60, 1, 2, seed=1)
    window = fit(WindowMLP(len(tok), 2), train, epochs=5, seed=0, batch=128)
    comp = fit(WindowMLP(len(tok), 2, use_window=False), train, epochs=5, seed=0, batch=128)
    n = len(test.target)
    assert nll_sum(window, test) / n < 0.5 < nll_sum(comp, test) / n


def test_a_batch_without_hidden_residues_adds_zero_loss_not_nan():
    from ppi.backbones.configs import ScratchConfig
    from ppi.lm import pretrain as pt
    from ppi.lm.model import ScratchLM

    torch.manual_seed(0)
    net = ScratchLM(ScratchConfig(dim=16, layers=1, heads=2, max_len=64))
    gen = torch.Generator().manual_seed(0)
    none = pt.PretrainConfig(pretrain=pt.PretrainSettings(mask_rate=1e-12))
    loss = pt.step_loss(net, net.tokenizer, ["MKV"], [0], None, none, gen, "cpu")
    assert float(loss.detach()) == 0.0
    some = pt.PretrainConfig(pretrain=pt.PretrainSettings(mask_rate=0.99))
    loss = pt.step_loss(net, net.tokenizer, ["MKVLA"], [0], None, some, gen, "cpu")
    assert 0 < float(loss.detach()) < 10


def test_held_out_clusters_stay_whole_and_clustered_input_needs_no_search(monkeypatch, store_of):
    from ppi.data import similarity
    from ppi.lm.pretrain_data import cluster_split

    rng = random.Random(0)
    base = ["".join(rng.choice("ACDEFGHIKLMNPQRSTVWY") for _ in range(80)) for _ in range(20)]
    # each family: a sequence and a copy with two residues changed (97% identity)
    proteins = {}
    for i, s in enumerate(base):
        proteins[f"F{i}a"] = s
        proteins[f"F{i}b"] = "W" + s[1:40] + "W" + s[41:]
    store = store_of(proteins)

    def split(measure, seed):
        train, held = cluster_split(store, 0.2, 0.5, measure, seed)
        return store.accessions(train), store.accessions(held)

    for seed in range(5):
        train, held = split("kmer", seed)
        assert len(held) == 8
        assert {p[:-1] for p in held}.isdisjoint({p[:-1] for p in train})

    def no_search(*args):
        raise AssertionError("cluster_measure=none must not search")

    monkeypatch.setattr(similarity, "neighbours", no_search)
    train, held = split("none", 0)
    assert len(held) == 8 and set(train) | set(held) == set(proteins)
    # drawn one by one: some family is cut in two, as the setting's warning says
    assert {p[:-1] for p in held} & {p[:-1] for p in train}


def test_each_epoch_records_its_residues_and_time_and_redraws_the_curves(pretrained, yeast_slice):
    from PIL import Image

    from ppi.lm import pretrain as pt

    config, data, _ = pt.load_run(pretrained, [str(yeast_slice)])
    rows = metrics(pretrained)
    for epoch, row in enumerate(rows):
        mine, _ = pt.epoch_batches(data, config, epoch, 0, 1)
        assert row["train_residues"] == sum(len(s) for seqs, _ in mine for s in seqs)
        assert row["train_seconds"] > 0
        # one process trains on every crop: min(length, max_len 64) of each training protein
        lengths = [len(s) for s in data.store.sequences(data.train)]
        assert row["train_residues"] == sum(min(n, 64) for n in lengths)
    with Image.open(pretrained / pt.CURVES) as image:
        assert image.format == "PNG" and image.size[0] > image.size[1] > 200


def test_a_real_kill_mid_run_resumes_to_the_same_weights(yeast_slice, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    args = [str(yeast_slice), *FAST, "pretrain.batch_tokens=256", "pretrain.epochs=3"]
    assert run(["pretrain", "--out", str(tmp_path / "full"), *args]) == 0
    cut = tmp_path / "cut"
    cmd = [sys.executable, "-m", "ppi", "pretrain", "--out", str(cut), *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = cut / "checkpoints" / "epoch_1" / "trainer_state.json"
    deadline = time.monotonic() + 300
    while not first.is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    alive = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert alive and first.is_file(), "the run ended before it could be killed in epoch 2"
    assert not (cut / "checkpoints" / "epoch_3" / "trainer_state.json").is_file()
    assert run(["pretrain", "--out", str(cut), *args, "resume=true"]) == 0
    assert [r["epoch"] for r in metrics(cut)] == [1, 2, 3]
    a = load_file(str(tmp_path / "full" / "model.safetensors"))
    b = load_file(str(cut / "model.safetensors"))
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_a_job_whose_dumps_gained_a_protein_is_not_resumed_and_a_leftover_split_is_redrawn(
    yeast_slice, tmp_path, capsys
):
    """Training is every protein not held out: one added since must not join a resumed job."""
    dump = tmp_path / "slice.fasta"
    shutil.copy(yeast_slice, dump)
    out = tmp_path / "lm"
    args = ["pretrain", "--out", str(out), str(dump), *FAST, "pretrain.epochs=2"]
    assert run([*args, "pretrain.stop_after=1"]) == 0
    before = (out / "metrics.jsonl").read_text()
    with open(dump, "a") as handle:
        handle.write(">NEW1\nMKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ\n")
    assert run([*args, "resume=true"]) == 2
    err = capsys.readouterr().err
    assert "split.json: the saved split was drawn from 150 proteins" in err
    assert "differ from the 151 the dumps hold now" in err and "Traceback" not in err
    assert (out / "metrics.jsonl").read_text() == before
    # a split left by a run stopped before its first checkpoint is drawn again instead
    shutil.rmtree(out / "checkpoints")
    (out / "metrics.jsonl").unlink()
    assert run(args) == 0
    assert json.loads((out / "split.json").read_text())["sequences"] == 151
    # a damaged split.json is one line
    (out / "split.json").write_text("{not json")
    assert run([*args, "resume=true"]) == 2
    assert "split.json: cannot be read as JSON" in capsys.readouterr().err
    for bad, said in (
        ({"held_out": [1, 2]}, "held_out is a list of accessions"),
        ({"held_out": ["x"], "train": None}, "train to be a list of accessions"),
    ):
        (out / "split.json").write_text(json.dumps(bad))
        assert run([*args, "resume=true"]) == 2
        assert said in capsys.readouterr().err


def test_a_split_left_by_a_run_stopped_in_its_first_epoch_is_not_reused_for_other_settings(
    yeast_slice, tmp_path
):
    out = tmp_path / "lm"
    base = ["pretrain", "--out", str(out), str(yeast_slice), *FAST, "pretrain.epochs=1"]
    assert run(base) == 0
    held = json.loads((out / "split.json").read_text())["held_out"]
    # a run stopped before its first epoch ended leaves split.json and no checkpoint
    for leftover in ("checkpoints", "metrics.jsonl"):
        path = out / leftover
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    assert run([*base, "pretrain.heldout=0.3"]) == 0
    again = json.loads((out / "split.json").read_text())["held_out"]
    assert len(held) == 30 and len(again) >= 40
    # a finished folder read again keeps its own split, whatever settings are asked
    from ppi.lm import pretrain as pt

    data = pt.load_run(out, [str(yeast_slice)])[1]
    assert data.store.accessions(data.held) == again


def test_a_share_of_the_training_proteins_keeps_the_held_out_set(yeast_slice, tmp_path, capsys):
    base = ["pretrain", str(yeast_slice), *FAST, "pretrain.epochs=1"]
    assert run([*base[:1], "--out", str(tmp_path / "all"), *base[1:]]) == 0
    half = [*base[:1], "--out", str(tmp_path / "half"), *base[1:], "pretrain.train_share=0.5"]
    assert run([*half, "pretrain.stop_after=1"]) == 0
    everything = read_fasta(tmp_path / "all" / "train.fasta.gz")
    learned = read_fasta(tmp_path / "half" / "train.fasta.gz")
    assert len(learned) == round(len(everything) / 2) and set(learned) < set(everything)
    split = [json.loads((tmp_path / d / "split.json").read_text()) for d in ("all", "half")]
    assert split[0]["held_out"] == split[1]["held_out"]
    assert (
        metrics(tmp_path / "half")[0]["train_residues"]
        < metrics(tmp_path / "all")[0]["train_residues"]
    )
    from ppi.lm import pretrain as pt

    data = pt.load_run(tmp_path / "half", [str(yeast_slice)])[1]
    assert data.store.accessions(data.train) == list(learned)
    # another share is another job
    half[half.index("pretrain.train_share=0.5")] = "pretrain.train_share=0.6"
    assert run([*half, "resume=true"]) == 2
    assert "another job" in capsys.readouterr().err


def test_the_data_curve_script_measures_runs_on_one_split(yeast_slice, tmp_path, capsys):
    import runpy
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "scripts" / "lm_data_curve.py"
    main = runpy.run_path(str(script))["main"]
    folders = []
    for share, epochs in ((0.5, 2), (1.0, 1)):
        out = tmp_path / f"share{share}"
        # with GO heads, which the curve leaves out: it reads the masked-LM figures only
        args = [*FAST, *GO, f"pretrain.train_share={share}", f"pretrain.epochs={epochs}"]
        assert run(["pretrain", "--out", str(out), str(yeast_slice), *args]) == 0
        folders.append(out)
    result, png = tmp_path / "curve.json", tmp_path / "curve.png"
    argv = [
        *map(str, folders),
        "--dumps",
        str(yeast_slice),
        "--plot",
        str(png),
        "--out",
        str(result),
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "a doubling of the training proteins" in printed and png.stat().st_size > 1000
    curve = json.loads(result.read_text())
    # measured again on each folder's weights: the figure its last epoch reported
    for point, folder in zip(curve["points"], folders, strict=True):
        assert point["perplexity_ratio"] == pytest.approx(metrics(folder)[-1]["perplexity_ratio"])
        assert point["proteins"] == len(read_fasta(folder / "train.fasta.gz"))
    small, large = curve["points"]
    assert small["share"] == 0.5 and small["proteins"] == round(large["proteins"] / 2)
    slope = (large["perplexity_ratio"] - small["perplexity_ratio"]) / math.log2(
        large["proteins"] / small["proteins"]
    )
    assert curve["fit"]["per_doubling"] == pytest.approx(slope)
    # a run on another split is refused in one line, and nothing is written
    other = tmp_path / "other"
    args = [*FAST, "pretrain.heldout=0.3", "pretrain.epochs=1"]
    assert run(["pretrain", "--out", str(other), str(yeast_slice), *args]) == 0
    result.unlink()
    capsys.readouterr()
    assert main([*argv[:2], str(other), *argv[2:]]) == 2
    err = capsys.readouterr().err.strip()
    assert "other" in err and "held-out proteins differ" in err and len(err.splitlines()) == 1
    assert not result.exists()


def test_the_data_curve_line_and_what_it_needs():
    from ppi.errors import InputError
    from ppi.lm.curve import Point, fit

    def point(n, r):
        return Point("f", n, 1.0, 1, r, r * 18, 18.0)

    line = fit([point(1000, 0.96), point(2000, 0.95), point(4000, 0.94)], 0.85)
    assert line.per_doubling == pytest.approx(-0.01)
    assert line.proteins_for_target == pytest.approx(4000 * 2**9)  # 0.09 / 0.01 doublings more
    assert line.ratio_at(8000) == pytest.approx(0.93)
    assert fit([point(1000, 0.95), point(2000, 0.96)], 0.85).proteins_for_target is None
    with pytest.raises(InputError, match="at least 2 training-set sizes"):
        fit([point(1000, 0.95), point(1000, 0.96)], 0.85)


def test_a_stop_inside_an_epoch_resumes_from_its_last_batch_to_the_same_run(
    yeast_slice, tmp_path, monkeypatch
):
    """pretrain.save_every: a run stopped mid-epoch resumes there, as if never stopped."""
    from ppi.lm import pretrain as pt
    from ppi.lm.trainer import latest_checkpoint

    args = [str(yeast_slice), *FAST, "pretrain.batch_tokens=256", "pretrain.epochs=2"]
    args += ["backbone.dropout=0.1"]  # dropout draws too: its generator must be restored
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert run(["pretrain", "--out", str(full), *args]) == 0
    config, data, _ = pt.load_run(full, [str(yeast_slice)])
    per_epoch = len(pt.epoch_batches(data, config, 1, 0, 1)[0])
    assert per_epoch > 12
    real, calls, stop = pt.step_loss, [], [per_epoch + 11]  # the 11th batch of epoch 2

    def counted(*a, **k):
        calls.append(1)
        if len(calls) in stop:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(pt, "step_loss", counted)
    assert run(["pretrain", "--out", str(cut), *args, "pretrain.save_every=4"]) == 130
    assert latest_checkpoint(cut).name == "epoch_1_batch_8"
    calls.clear()
    stop.clear()
    assert run(["pretrain", "--out", str(cut), *args, "pretrain.save_every=4", "resume=true"]) == 0
    assert len(calls) == per_epoch - 8  # the rest of epoch 2 only: batches 9 to the end
    a, b = load_file(str(full / "model.safetensors")), load_file(str(cut / "model.safetensors"))
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    one, two = metrics(full), metrics(cut)
    assert [r["epoch"] for r in two] == [1, 2]
    assert two[-1]["train_loss"] == pytest.approx(one[-1]["train_loss"], rel=1e-9)
    assert two[-1]["train_residues"] == one[-1]["train_residues"]
    assert two[-1]["heldout_loss"] == pytest.approx(one[-1]["heldout_loss"], abs=1e-6)
    assert [p.name for p in (cut / "checkpoints").iterdir()] == ["epoch_2"]


def test_a_folder_another_pretraining_writes_is_refused(yeast_slice, tmp_path, capsys):
    from ppi.utils.locks import exclusive

    out = tmp_path / "lm"
    with exclusive(out, "--out"):  # as a running ppi pretrain holds it
        assert run(["pretrain", "--out", str(out), str(yeast_slice), *FAST]) == 2
    err = capsys.readouterr().err.strip()
    assert str(out) in err and len(err.splitlines()) == 1
    assert not out.exists()
    assert run(["pretrain", "--out", str(out), str(yeast_slice), *FAST, "pretrain.epochs=1"]) == 0


def test_a_checkpoint_record_changed_outside_ppi_is_one_line(yeast_slice, tmp_path, capsys):
    out = tmp_path / "lm"
    args = ["pretrain", "--out", str(out), str(yeast_slice), *FAST, "pretrain.epochs=2"]
    assert run([*args, "pretrain.stop_after=1"]) == 0
    marker = out / "checkpoints" / "epoch_1" / "trainer_state.json"
    assert json.loads(marker.read_text())["epoch"] == 1
    marker.write_text('{"epoch": 1, "jo')
    capsys.readouterr()
    assert run([*args, "resume=true"]) == 2
    err = capsys.readouterr().err.strip()
    assert "trainer_state.json" in err and "expected the JSON record" in err
    assert len(err.splitlines()) == 1


def test_the_training_sequences_are_written_once_a_job(yeast_slice, tmp_path):
    """Each epoch rewrites the folder but not train.fasta.gz, whose training set is fixed."""
    out = tmp_path / "lm"
    args = ["pretrain", "--out", str(out), str(yeast_slice), *FAST, "pretrain.epochs=3"]
    assert run([*args, "pretrain.stop_after=1"]) == 0
    fasta, weights = out / "train.fasta.gz", out / "model.safetensors"
    first = (fasta.stat().st_ino, weights.stat().st_ino)
    held = set(json.loads((out / "split.json").read_text())["held_out"])
    train = [p for p in read_fasta(yeast_slice) if p not in held]
    assert list(read_fasta(fasta)) == train
    assert run([*args, "pretrain.stop_after=1", "resume=true"]) == 0
    assert fasta.stat().st_ino == first[0] and weights.stat().st_ino != first[1]
    fasta.unlink()  # a folder that lost it gets it back at the next save
    assert run([*args, "resume=true"]) == 0
    assert list(read_fasta(fasta)) == train
