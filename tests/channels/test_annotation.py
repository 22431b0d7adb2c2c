import dataclasses

import pytest
import torch

from ppi.channels import CHANNELS, ChannelContext, Proteins, RunData
from ppi.channels.annotation import AnnotationChannel, AnnotationConfig
from ppi.config.run import load_config
from ppi.data.annotation_store import write_store
from ppi.data.annotations import Annotation
from ppi.errors import ConfigError, InputError

# Handmade annotations over real GO terms, covering the leak cases; P3 has none.
TERMS = {
    "P40534": [
        ("GO:0005737", "go_cc", "IDA"),
        ("GO:0005515", "go_mf", "IPI"),
        ("KW-0963", "keyword", ""),
    ],
    "P40454": [("GO:0005737", "go_cc", "IEA"), ("GO:0003674", "go_mf", "ND")],
    "P12345": [
        ("GO:0005737", "go_cc", "IDA"),
        ("GO:0005515", "go_mf", "IDA"),
        ("GO:0003674", "go_mf", "IPI"),
    ],
}


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "a.sqlite"
    anns = [Annotation(a, t, ns, ev, "test") for a, ts in TERMS.items() for t, ns, ev in ts]
    write_store(path, anns)
    return path


def _channel(store, tmp_path, **cfg):
    torch.manual_seed(0)
    backbone = load_config(None, []).backbone
    config = AnnotationConfig(enabled=True, store=str(store), min_freq=1, **cfg)
    return AnnotationChannel(config, ChannelContext(8, backbone, tmp_path))


def _run(ids, pairs=True):
    train_pairs = (("P40534", "P40454", 1.0),) if pairs else ()
    return RunData(frozenset(ids), frozenset(), train_pairs)


def test_registered_under_its_module_name():
    assert CHANNELS.get("annotation") is AnnotationChannel


def test_pair_task_excludes_protein_binding_and_ipi_and_records_it(store, tmp_path):
    ch = _channel(store, tmp_path)
    ch.prepare(dict.fromkeys(TERMS, ""), run=_run(TERMS))
    terms = {t for ts in ch.vocab.terms.values() for t in ts}
    assert "GO:0005515" not in terms
    assert ch.vocab.excluded == {"GO:0005515": 2, "evidence:IPI": 1}
    assert terms == {"GO:0005737", "GO:0003674", "KW-0963"}  # GO:0003674 still comes via ND
    leaky = _channel(store, tmp_path, include_leaky=True)
    leaky.prepare(dict.fromkeys(TERMS, ""), run=_run(TERMS))
    assert "GO:0005515" in leaky.vocab.terms["go_mf"] and not leaky.vocab.leak.active
    single = _channel(store, tmp_path)
    single.prepare(dict.fromkeys(TERMS, ""), run=_run(TERMS, pairs=False))
    assert "GO:0005515" in single.vocab.terms["go_mf"]  # no pairs to leak into


def test_min_freq_counts_training_proteins_only(store, tmp_path):
    ch = _channel(store, tmp_path)
    ch = AnnotationChannel(dataclasses.replace(ch.config, min_freq=2), ch.context)
    ch.prepare(dict.fromkeys(TERMS, ""), run=_run(["P40534", "P40454"]))
    assert ch.vocab.terms["go_cc"] == ["GO:0005737"] and ch.vocab.terms["keyword"] == []
    with pytest.raises(InputError, match="no term is carried by 2 training proteins"):
        ch.prepare({"P3": ""}, run=_run(["P3"]))


def test_tokens_mask_and_the_no_annotation_token(store, tmp_path):
    ch = _channel(store, tmp_path)
    ch.prepare(dict.fromkeys(TERMS, ""), run=_run(TERMS))
    out = ch(Proteins(["P40534", "P3"], ["", ""]))
    spaces = len(ch.config.namespaces)
    assert out.tokens.shape == (2, spaces + 1, 8)
    ns = list(ch.config.namespaces)
    real = {ns[i] for i in range(spaces) if out.mask[0, i]}
    assert real == {"go_cc", "keyword"} and not out.mask[0, -1]  # GO:0005515 dropped: no go_mf
    assert out.mask[1].tolist() == [False] * spaces + [True]  # only the learned empty token
    assert torch.equal(out.tokens[1, -1], ch.empty)
    # channel dropout makes an annotated protein look like an unannotated one
    dropped = ch.drop(ch(Proteins(["P40534", "P3"], ["", ""])), torch.tensor([[False], [True]]))
    assert dropped.mask.tolist() == out.mask.tolist()[1:] * 2


def test_vocabulary_round_trip_gives_the_same_tokens(store, tmp_path):
    ch = _channel(store, tmp_path)
    ch.prepare(dict.fromkeys(TERMS, ""), run=_run(TERMS))
    ch.save_assets(tmp_path / "model")
    again = _channel(store, tmp_path)
    again.load_assets(tmp_path / "model")
    again.load_state_dict(ch.state_dict())
    batch = Proteins(list(TERMS), [""] * 3)
    assert torch.allclose(ch(batch).tokens, again(batch).tokens)
    assert again.vocab.leak.active and again.vocab.excluded == ch.vocab.excluded


def test_string_ids_map_through_the_id_map(store, tmp_path):
    ch = _channel(store, tmp_path, id_map="example:yeast_swissprot/string_map.tsv")
    ids = ["4932.YIL037C", "4932.YIL153W", "4932.UNKNOWN"]  # P40534, P40454, nothing
    ch.prepare(dict.fromkeys(ids, ""), run=_run(ids))
    out = ch(Proteins(ids, [""] * 3))
    assert out.mask[:2, -1].tolist() == [False, False] and out.mask[2, -1]


def test_propagation_to_go_ancestors(store, tmp_path):
    obo = tmp_path / "go.obo"
    obo.write_text(
        "[Term]\nid: GO:0005737\nname: cytoplasm\nrelationship: part_of GO:0005622\n\n"
        "[Term]\nid: GO:0005622\nname: intracellular\n\n"
        "[Term]\nid: GO:0005515\nname: protein binding\nis_a: GO:0005488\n"
    )
    ch = _channel(store, tmp_path, ontology=str(obo))
    ch.prepare(dict.fromkeys(TERMS, ""), run=_run(TERMS))
    assert set(ch.vocab.terms["go_cc"]) == {"GO:0005737", "GO:0005622"}
    assert "GO:0005488" not in ch.vocab.terms["go_mf"]  # leaky terms are not propagated


def test_config_errors(store, tmp_path):
    with pytest.raises(ConfigError, match="needs a store"):
        _channel("", tmp_path)
    with pytest.raises(ConfigError, match="unknown 'pfam'"):
        _channel(store, tmp_path, namespaces=("go_bp", "pfam"))
