import json
from dataclasses import dataclass

import pytest
import torch
from torch import nn

from ppi.channels import CHANNELS, Channel, ChannelConfig, Tokens
from ppi.cli import run
from ppi.errors import InputError
from ppi.evaluation.ablation import channel_subsets

AMINO = "ACDEFGHIKLMNPQRSTVWY"


@dataclass(frozen=True)
class ProbeConfig(ChannelConfig):
    """Off unless asked for."""


class ProbeChannel(Channel):
    """A test-only channel: one token per protein from its amino-acid composition."""

    Config = ProbeConfig

    def __init__(self, config, context):
        super().__init__(config, context)
        self.proj = nn.Linear(20, context.dim)

    def forward(self, batch):
        comp = torch.tensor(
            [[s.count(a) / len(s) for a in AMINO] for s in batch.seqs],
            device=self.proj.weight.device,
        )  # (B, 20)
        tokens = self.proj(comp).unsqueeze(1)  # (B, 1, D)
        return Tokens(tokens, torch.ones(tokens.shape[:2], dtype=torch.bool, device=tokens.device))


@pytest.fixture
def probe():
    CHANNELS.register("probe")(ProbeChannel)
    yield "probe"
    CHANNELS._entries.pop("probe", None)


def test_subsets_of_each_mode(probe):
    assert channel_subsets(["sequence", "probe"], "leave-one-out") == [
        ("sequence", "probe"),
        ("probe",),
        ("sequence",),
    ]
    assert len(channel_subsets(["sequence", "probe"], "all")) == 3
    assert channel_subsets([], "list", "probe; sequence+probe") == [
        ("probe",),
        ("sequence", "probe"),
    ]
    with pytest.raises(InputError, match=r"Unknown channel 'struct' \(choices: .*probe"):
        channel_subsets(["sequence", "struct"], "all")


def test_summary_over_seeds_is_mean_and_sample_sd():
    from ppi.evaluation.ablation import summarise

    row = summarise("a+b", [{"aupr": 0.2, "auroc": 0.6}, {"aupr": 0.4, "auroc": 0.8}])
    assert row["seeds"] == 2 and row["aupr"] == pytest.approx(0.3)
    assert row["aupr_sd"] == pytest.approx(0.1414, abs=1e-4)
    assert row["ece"] != row["ece"]  # missing everywhere: NaN, not a made-up number


def test_ablation_then_masking(probe, guo_slice, train_args, tmp_path, capsys):
    fasta, pairs = guo_slice
    out = tmp_path / "abl"
    base = train_args(
        fasta,
        pairs,
        tmp_path,
        "train.epochs=1",
        "data.limit=60",
        "data.valid_split=random",
        "evaluation.baselines=false",
    )[1:]
    base = [a for a in base if not a.startswith("output_dir=")]  # ablate sets it (--out)
    subsets = ["--mode", "list", "--subsets", "sequence+probe;probe", "--seeds", "0"]
    argv = ["ablate", "--out", str(out), *subsets, *base]
    assert run(argv) == 0
    rows = json.loads((out / "ablation.json").read_text())
    assert [r["channels"] for r in rows] == ["sequence+probe", "probe"]
    assert all(r["seeds"] == 1 and 0 <= r["aupr"] <= 1 for r in rows)
    assert {p.name for p in (out / "runs").iterdir()} == {"probe-seed0", "sequence+probe-seed0"}
    probe_only = (out / "runs" / "probe-seed0" / "config.yaml").read_text()
    assert (
        "probe:\n    enabled: true" in probe_only and "sequence:\n    enabled: false" in probe_only
    )
    assert "| sequence+probe | 1 |" in (out / "report.md").read_text()
    assert (out / "ablation.png").stat().st_size > 1000 and (out / "ablation.csv").is_file()
    capsys.readouterr()
    assert run(argv) == 0  # a second call reuses every finished run
    assert capsys.readouterr().out.count("already done") == 2

    full = out / "runs" / "sequence+probe-seed0"
    mask_out = tmp_path / "mask"
    assert run(["ablate", "--mask", "--run", str(full), "--out", str(mask_out)]) == 0
    masks = {r["channels"]: r for r in json.loads((mask_out / "masking.json").read_text())}
    # the default model has interolog evidence, which is masked like a channel
    assert set(masks) == {"none masked", "without sequence", "without probe", "without interolog"}
    test = json.loads((full / "metrics.json").read_text())["test"]
    assert masks["none masked"]["aupr"] == pytest.approx(test["aupr"])


def test_masking_changes_the_output(probe, trained_run):
    from ppi.model import PPIModel

    model = PPIModel.from_pretrained(trained_run / "model").eval()
    seqs = ["MKVLAAGIT" * 5, "WWPPKKEE" * 6]
    pairs = torch.tensor([[0, 1]])
    plain = model(["a", "b"], seqs, pairs)
    assert list(model.channels) == ["properties", "sequence"]  # both read the sequence
    with model.hide(["sequence", "properties"]):
        hidden = model(["a", "b"], seqs, pairs)
        other = model(["a", "b"], [seqs[0], "GGGG" * 10], pairs)
    with model.hide(["sequence"]):
        some = model(["a", "b"], seqs, pairs)
    assert not torch.allclose(plain, hidden) and not torch.allclose(plain, some)
    assert torch.allclose(hidden, other)  # with both channels hidden the model sees no sequence
    assert torch.allclose(model(["a", "b"], seqs, pairs), plain)  # shown again after the block


def test_bad_ablation_inputs_exit_2(probe, tmp_path, capsys):
    assert run(["ablate", "--out", str(tmp_path), "--channels", "sequence,nope"]) == 2
    assert "Unknown channel 'nope' (choices:" in capsys.readouterr().err
    assert run(["ablate", "--out", str(tmp_path), "--mode", "pairs"]) == 2
    assert "--mode: expected one of leave-one-out, all, list" in capsys.readouterr().err
    assert run(["ablate", "--out", str(tmp_path), "--mask"]) == 2
    assert "--mask: expected --run" in capsys.readouterr().err
    assert run(["ablate", "--out", str(tmp_path), "--seeds", "a,b"]) == 2
    assert "--seeds: expected integers" in capsys.readouterr().err
