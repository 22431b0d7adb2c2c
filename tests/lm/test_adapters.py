import pytest
import torch
from esm.data import Alphabet
from esm.model.esm2 import ESM2

from ppi.backbones.base import RESIDUES
from ppi.backbones.esm2 import save_checkpoint
from ppi.errors import ConfigError, WeightsError
from ppi.lm.adapters import load_masked_lm
from ppi.lm.constraints import Constraints, parse_template
from ppi.lm.generate import SamplerConfig, generate, pseudo_log_likelihood

#: the first heavy chain of the bundled BCR test set (data/examples/bcr_antibody)
HEAVY = (
    "EVQLVESGGGLIQPGGSLRLSCAASGFTVSSNYMSWVRQAPGKGLEWVSVIYSGGSTFYADSVKGRFTISRDNSKNTLYLQMNSLRAEDTAVYYC"
    "ARDLGTGLFDYWGQGTLVTVSS"
)
CDR3 = (HEAVY.index("YYCAR") + 3, HEAVY.index("WGQG"))  # residues between C and W (IMGT CDR3)


@pytest.fixture(scope="module")
def antiberty():
    torch.set_num_threads(1)
    return load_masked_lm("antiberty", {})


def test_antiberty_real_mlm_head_recovers_framework_residues(antiberty):
    positions = list(range(5, 90, 6))  # 15 framework and CDR1/2 residues, masked one at a time
    masked_rows = torch.zeros(len(positions), len(HEAVY), dtype=torch.bool)
    for r, p in enumerate(positions):
        masked_rows[r, p] = True
    logp = antiberty.residue_log_probs([HEAVY] * len(positions), masked_rows)  # (R, L, 20)
    hits = sum(RESIDUES[int(logp[r, p].argmax())] == HEAVY[p] for r, p in enumerate(positions))
    assert hits >= 12, hits  # a random head would recover about 1 in 20


def test_antiberty_fills_cdr_h3_and_keeps_the_rest(antiberty):
    template = parse_template(HEAVY[: CDR3[0]] + "X" * (CDR3[1] - CDR3[0]) + HEAVY[CDR3[1] :])
    out = generate(
        antiberty,
        Constraints((len(template),) * 2, template=template),
        4,
        SamplerConfig(rounds=3, sweeps=1),
        seed=0,
    )
    assert out.dropped == 0 and len(out.sequences) == 4
    for seq in out.sequences:
        assert seq[: CDR3[0]] == HEAVY[: CDR3[0]] and seq[CDR3[1] :] == HEAVY[CDR3[1] :]
    cdr = [list(range(*CDR3))] * 2
    native = pseudo_log_likelihood(antiberty, [HEAVY, HEAVY[::-1]], [cdr[0], []])[0]
    assert native < 0


def test_esm2_checkpoint_samples_through_its_lm_head(tmp_path):
    alphabet = Alphabet.from_architecture("ESM-1b")
    torch.manual_seed(0)
    save_checkpoint(
        ESM2(num_layers=1, embed_dim=16, attention_heads=2, alphabet=alphabet),
        tmp_path / "esm2_tiny.pt",
    )
    lm = load_masked_lm("esm2", {"path": str(tmp_path / "esm2_tiny.pt")})
    logp = lm.residue_log_probs(["MKTAY", "GAV"], torch.ones(2, 5, dtype=torch.bool))
    assert logp.shape == (2, 5, 20)
    assert torch.allclose(logp.exp().sum(-1), torch.ones(2, 5), atol=1e-5)
    out = generate(lm, Constraints((12, 12), forbidden="C"), 3, SamplerConfig(rounds=2, sweeps=0))
    assert len(out.sequences) == 3 and not any("C" in s for s in out.sequences)


def test_hf_masked_lm_folder_samples(tmp_path, tiny_bert_folder):
    folder = tiny_bert_folder(tmp_path / "mlm", layers=1, masked_lm=True)
    lm = load_masked_lm("hf", {"model": str(folder)})
    out = generate(lm, Constraints((10, 10)), 2, SamplerConfig(rounds=2, sweeps=0))
    assert [len(s) for s in out.sequences] == [10, 10]


def test_hf_base_model_without_lm_head_is_an_error(tmp_path, tiny_bert_folder):
    folder = tiny_bert_folder(tmp_path / "base", layers=1)
    with pytest.raises(WeightsError, match="no masked-LM head"):
        load_masked_lm("hf", {"model": str(folder)})


def test_backbone_without_lm_head_says_so():
    with pytest.raises(ConfigError, match="unirep' has no masked-LM head"):
        load_masked_lm("unirep", {})
