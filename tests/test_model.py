import pytest
import torch

from ppi.config.run import load_config
from ppi.errors import ConfigError, WeightsError
from ppi.model import PPIModel

SEQS = ["MKTAYIAKQRQISFVKSHFSRQ", "MSTNPKPQRKTKRNTNRRPQDVKFPGG", "ACDEFGHIKLMNPQRSTVWYX"]


@pytest.fixture
def make(tiny):
    def build(*extra, **kw):
        torch.manual_seed(0)
        return PPIModel(load_config(None, [*tiny, *extra]), **kw).eval()

    return build


def test_pair_forward_and_symmetry(make):
    model = make()
    pairs = torch.tensor([[0, 1], [1, 0], [2, 2], [0, 2]])
    with torch.no_grad():
        logits = model(["a", "b", "c"], SEQS, pairs)
    assert logits.shape == (4,)
    assert logits[0].item() == logits[1].item()


def test_single_task_outputs_classes_and_has_no_pair_stage(make):
    model = make("task=single", outputs=3, class_names=("x", "y", "z"))
    with torch.no_grad():
        out = model(["a", "b"], SEQS[:2])
    assert out.shape == (2, 3)
    assert not hasattr(model, "pair")
    assert not any(k.startswith("fusion.pair_blocks") for k in model._saved_keys())


def test_save_and_load_round_trip(make, tmp_path):
    model = make()
    pairs = torch.tensor([[0, 1], [0, 2]])
    with torch.no_grad():
        before = model(["a", "b", "c"], SEQS, pairs)
    model.save_pretrained(tmp_path / "m")
    assert (tmp_path / "m" / "config.json").is_file()
    loaded = PPIModel.from_pretrained(tmp_path / "m").eval()
    with torch.no_grad():
        after = loaded(["a", "b", "c"], SEQS, pairs)
    assert torch.equal(before, after)
    assert loaded.config == model.config


def test_a_folder_from_before_the_balanced_summary_keeps_the_summary_it_was_trained_with(
    make, tmp_path
):
    import json

    model = make("fusion.balance_channels=false")
    pairs = torch.tensor([[0, 1], [0, 2]])
    with torch.no_grad():
        before = model(["a", "b", "c"], SEQS, pairs)
    model.save_pretrained(tmp_path / "m")
    meta_path = tmp_path / "m" / "config.json"
    meta = json.loads(meta_path.read_text())
    del meta["config"]["fusion"]["balance_channels"]  # as written by the earlier code
    meta_path.write_text(json.dumps(meta))
    loaded = PPIModel.from_pretrained(tmp_path / "m").eval()
    assert loaded.fusion.config.balance_channels is False
    with torch.no_grad():
        assert torch.equal(loaded(["a", "b", "c"], SEQS, pairs), before)
    assert make().fusion.config.balance_channels is True  # new models balance


def test_frozen_backbone_is_not_saved(make, tmp_path):
    model = make("backbone.finetune=frozen")
    model.save_pretrained(tmp_path / "m")
    from safetensors.torch import load_file

    keys = load_file(str(tmp_path / "m" / "model.safetensors")).keys()
    assert not any(".backbone." in k for k in keys)
    assert any(k.startswith("fusion.") for k in keys)


def test_strict_loading_names_missing_and_unexpected(make, tmp_path):
    make().save_pretrained(tmp_path / "m")
    from safetensors.torch import load_file, save_file

    state = load_file(str(tmp_path / "m" / "model.safetensors"))
    state.pop("fusion.latents")
    state["extra.weight"] = torch.zeros(1)
    save_file(state, str(tmp_path / "m" / "model.safetensors"))
    with pytest.raises(WeightsError, match=r"missing: fusion.latents.*unexpected: extra.weight"):
        PPIModel.from_pretrained(tmp_path / "m")
    with pytest.raises(WeightsError, match="not a ppi model folder"):
        PPIModel.from_pretrained(tmp_path / "nothing")


def test_no_channel_enabled_is_a_config_error(make):
    with pytest.raises(ConfigError, match="no channel is enabled"):
        make("channels.sequence.enabled=false", "channels.properties.enabled=false")


def test_channel_dropout_hides_channel_only_in_training(make):
    model = make(
        "channels.sequence.dropout=1.0", "fusion.dropout=0.0", "channels.properties.enabled=false"
    )
    from ppi.channels import Proteins

    batch = Proteins(["a", "b"], SEQS[:2])
    with torch.no_grad():
        eval_z = model.encode(batch)
        model.train()
        torch.manual_seed(1)
        hidden = model.encode(batch)
    # with the channel hidden, both proteins see only the null token: same latents
    assert torch.allclose(hidden[0], hidden[1], atol=1e-5)
    assert not torch.allclose(eval_z[0], eval_z[1], atol=1e-3)


def test_pair_evidence_reaches_the_head_and_survives_save_and_load(make, tmp_path, monkeypatch):
    from ppi.channels import RunData

    monkeypatch.setenv("PPI_CACHE", str(tmp_path / "cache"))
    model = make("evidence.interolog.enabled=true")
    assert model.pair.head.evidence == 5 and list(model.pair.evidence) == ["interolog"]
    proteins = dict(zip("abc", SEQS, strict=True))
    run = RunData(frozenset("abc"), frozenset(), (("a", "b", 1.0), ("a", "c", 0.0)))
    model.prepare_channels(proteins, run=run)
    pairs = torch.tensor([[0, 1], [1, 0], [0, 2]])
    with torch.no_grad():
        before = model(["a", "b", "c"], SEQS, pairs)
    assert torch.allclose(before[0], before[1], atol=1e-6)  # symmetric (to float rounding)
    model.save_pretrained(tmp_path / "m")
    assert (tmp_path / "m" / "evidence-interolog" / "positives.tsv").is_file()
    loaded = PPIModel.from_pretrained(tmp_path / "m").eval()
    with torch.no_grad():
        assert torch.equal(before, loaded(["a", "b", "c"], SEQS, pairs))
    assert make().pair.head.evidence == 5  # on by default
    # switched off, the head has no evidence inputs
    assert make("evidence.interolog.enabled=false").pair.head.evidence == 0


def _truncate(folder):
    path = folder / "model.safetensors"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _scramble_header(folder):
    path = folder / "model.safetensors"
    path.write_bytes(b"\xff" * 8 + path.read_bytes()[8:])


def _cut_json(folder):
    path = folder / "config.json"
    path.write_text(path.read_text()[:-20])


def _edit_json(change):
    def edit(folder):
        import json

        path = folder / "config.json"
        meta = json.loads(path.read_text())
        change(meta)
        path.write_text(json.dumps(meta))

    return edit


DAMAGES = {
    "truncated weights": (_truncate, r"model.safetensors: not a readable safetensors file"),
    "scrambled weights": (_scramble_header, r"model.safetensors: not a readable safetensors"),
    "malformed json": (_cut_json, r"config.json: not valid JSON \(.*line \d+"),
    "json not an object": (_edit_json(lambda m: m.update(config=5)), r"config.json: expected a"),
    "edited width": (
        _edit_json(lambda m: m["config"]["fusion"].update(dim=32)),
        r"model.safetensors: \d+ weight\(s\) have another shape than config.json builds "
        r"\(first: .* is \(16,?.*\) in the file, \(32,?.*\) from the config\)",
    ),
    "unknown key": (
        _edit_json(lambda m: m["config"]["fusion"].update(dims=32)),
        r"config.json: Unknown config key 'fusion.dims'",
    ),
    "bad value": (
        _edit_json(lambda m: m["config"]["fusion"].update(heads=3)),
        r"config.json: fusion.dim: expected a multiple of heads \(3\), got 16",
    ),
}


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_damaged_model_folder_is_one_error_naming_the_file(damage, make, tmp_path):
    make().save_pretrained(tmp_path / "m")
    spoil, message = DAMAGES[damage]
    spoil(tmp_path / "m")
    with pytest.raises((WeightsError, ConfigError), match=message) as err:
        PPIModel.from_pretrained(tmp_path / "m")
    assert str(tmp_path / "m") in str(err.value) and "\n" not in str(err.value)


def test_saved_weights_keep_the_layout_of_earlier_releases(make, tmp_path):
    from safetensors.torch import load_file

    model = make()
    model.save_pretrained(tmp_path / "m")
    keys = set(load_file(str(tmp_path / "m" / "model.safetensors")))
    assert any(k.startswith("fusion.pair_blocks.0.") for k in keys)
    assert any(k.startswith("head.mlp.") for k in keys)
    assert not any(k.startswith("pair.") for k in keys)  # the stage's norm is the fusion's
    assert model.pair.norm is model.fusion.norm


def test_a_folder_with_the_retired_homology_interolog_is_refused_naming_why(make, tmp_path):
    import json

    model = make()
    model.save_pretrained(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "config.json").read_text())
    meta["config"]["channels"]["homology"]["interolog"] = False  # every earlier folder has it
    (tmp_path / "m" / "config.json").write_text(json.dumps(meta))
    PPIModel.from_pretrained(tmp_path / "m")  # off: dropped, loads
    meta["config"]["channels"]["homology"]["interolog"] = True
    (tmp_path / "m" / "config.json").write_text(json.dumps(meta))
    with pytest.raises(WeightsError, match=r"retrain with evidence.interolog.enabled=true"):
        PPIModel.from_pretrained(tmp_path / "m")


def test_hide_masks_channels_and_evidence_by_name(make):
    model = make()
    assert model.sources() == ["properties", "sequence", "interolog"]
    with pytest.raises(Exception, match=r"'nope' is not a channel or evidence provider"):
        with model.hide(["nope"]):
            pass
    with model.hide(["sequence"]):
        assert model.hidden == model.pair.hidden == {"sequence"}
    with model.hide(["interolog"]):
        assert model.pair.hidden == {"interolog"}
    assert model.hidden == model.pair.hidden == frozenset()


def test_parameters_keep_the_order_earlier_releases_trained_with(make):
    # the gradient norm of clipping sums in this order: the fusion's norm after the pair blocks
    names = [n for n, _ in make().named_parameters()]
    at = names.index("fusion.norm.weight")
    assert names[at - 1].startswith("pair.blocks.") and names[at + 2].startswith("pair.head.")
    assert len(names) == len(set(names)) and not any(n.startswith("pair.norm") for n in names)
    assert len(names) == len(list(make().parameters()))
    single = [n for n, _ in make("task=single", outputs=2).named_parameters()]
    assert single[-1].startswith("head.")
