import torch

from ppi.backbones.scratch import ScratchTokenizer
from ppi.lm.masking import IGNORE, eval_mask, mask_tokens
from ppi.lm.pretrain_data import encode

RESIDUE_IDS = torch.arange(5, 25)


def _batch():
    tok = ScratchTokenizer()
    gen = torch.Generator().manual_seed(0)
    seqs = [
        "".join("ACDEFGHIKLMNPQRSTVWY"[int(i)] for i in torch.randint(20, (n,), generator=gen))
        for n in torch.randint(50, 400, (200,), generator=gen).tolist()
    ]
    return tok, encode(tok, seqs)


def test_selection_and_corruption_follow_bert_shares():
    tok, (ids, keep, residue) = _batch()
    inputs, labels = mask_tokens(
        ids, residue, tok.mask_id, RESIDUE_IDS, torch.Generator().manual_seed(1)
    )
    selected = labels != IGNORE
    n = int(selected.sum())
    assert abs(n / int(residue.sum()) - 0.15) < 0.01
    masked = (inputs == tok.mask_id) & selected
    changed = (inputs != ids) & ~masked & selected
    kept = (inputs == ids) & selected
    assert abs(int(masked.sum()) / n - 0.8) < 0.02
    # a random replacement draws the original residue 1 time in 20: 9.5% change, 10.5% stay
    assert abs(int(changed.sum()) / n - 0.095) < 0.015
    assert abs(int(kept.sum()) / n - 0.105) < 0.015
    assert bool((inputs[changed] >= 5).all())  # random replacements are residues
    assert torch.equal(labels[selected], ids[selected])


def test_special_tokens_and_padding_are_never_selected_or_changed():
    tok, (ids, keep, residue) = _batch()
    inputs, labels = mask_tokens(
        ids, residue, tok.mask_id, RESIDUE_IDS, torch.Generator().manual_seed(2)
    )
    assert bool((labels[~residue] == IGNORE).all())
    assert torch.equal(inputs[~residue], ids[~residue])


def test_masks_repeat_with_the_same_generator_seed():
    tok, (ids, keep, residue) = _batch()
    a = mask_tokens(ids, residue, tok.mask_id, RESIDUE_IDS, torch.Generator().manual_seed(5))
    b = mask_tokens(ids, residue, tok.mask_id, RESIDUE_IDS, torch.Generator().manual_seed(5))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_held_out_masking_hides_every_selected_residue():
    tok, (ids, keep, residue) = _batch()
    inputs, labels = eval_mask(ids, residue, tok.mask_id, torch.Generator().manual_seed(3))
    selected = labels != IGNORE
    assert bool((inputs[selected] == tok.mask_id).all())
    assert torch.equal(inputs[~selected], ids[~selected])
