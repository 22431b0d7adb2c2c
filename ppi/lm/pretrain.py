"""``ppi pretrain``: masked-LM (and GO) pretraining of the scratch backbone with Accelerate.

Each epoch crops every training sequence at random to ``crop`` residues,
groups the crops into length-sorted batches under ``batch_tokens`` padded
tokens, masks 15% of residues (80/10/10) and minimises the cross-entropy of
the hidden residues, plus ``go_weight`` times the binary cross-entropy of
the GO head for proteins that have terms. After each epoch it reports the
held-out loss and perplexity over every residue of the held-out proteins
(against the unigram perplexity of the same positions) and GO Fmax (against
the naive baseline), saves the Accelerate state for ``resume=true`` and
writes the backbone folder.

The crops, batches and masks of epoch ``e`` come from a generator seeded by
``(seed, e)``, so a run resumed after a kill repeats what the uninterrupted
run would have done.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from accelerate.utils import gather_object
from torch.nn import functional

from ppi.backbones.base import RESIDUES
from ppi.backbones.configs import ScratchConfig
from ppi.backbones.scratch import FIRST_RESIDUE
from ppi.config.tools import build, setting, to_dict
from ppi.data.sequence_store import SequenceStore, open_store
from ppi.errors import InputError
from ppi.lm import go
from ppi.lm.folder import CONFIG, TRAIN_FASTA, read_json
from ppi.lm.masking import IGNORE, eval_mask, mask_tokens
from ppi.lm.model import ScratchLM
from ppi.lm.pretrain_data import (
    MAX_BATCH,
    EpochBatches,
    batch_order,
    batches,
    crop_starts,
    encode,
    load_or_split,
    save_split,
)
from ppi.utils.batching import token_budget_bounds
from ppi.utils.cache import digest
from ppi.utils.files import atomic_write_text

log = logging.getLogger("ppi")
STATE = "trainer_state.json"
#: a line per finished epoch: its training figures and held-out metrics
METRICS = "metrics.jsonl"


@dataclass(frozen=True)
class PretrainSettings:
    """How to pretrain.

    Attributes:
        epochs: passes over the training sequences.
        stop_after: end this invocation after this many epochs (0 = never); resume later.
        save_every: also checkpoint every this many batches (per process) inside an
            epoch, so a kill loses at most that much of a long epoch (0 = at epoch
            ends only); ``resume=true`` continues from the batch after it.
        lr: peak learning rate (AdamW; linear warm-up, cosine decay).
        warmup: share of the steps spent warming up.
        weight_decay: AdamW weight decay.
        batch_tokens: padded tokens per batch (per process).
        grad_accum: batches per optimizer step.
        crop: residues per random crop (0 = the backbone's max_len).
        mask_rate: share of residues the training objective hides; the held-out
            figures always hide :data:`HELDOUT_MASK_RATE` (15%, as ESM and BERT
            report them), so runs with other training rates compare.
        heldout: share of proteins held out, by whole identity clusters.
        train_share: share of the training proteins learned from, drawn at random
            with ``seed`` after the split (the held-out set unchanged): a learning
            curve over data, with ``epochs`` scaled up to keep the compute.
        cluster_identity: proteins at or above this identity share a cluster.
        cluster_measure: how identity is computed (``mmseqs``, ``phmmer``, ``kmer``), or
            ``none`` for input already clustered below ``cluster_identity`` (UniRef50):
            no search, each sequence its own cluster.
        annotations: an annotation store or a GO table for the GO objective (empty: none).
        id_map: maps a GO table's gene names to accessions (a UniProt FASTA's GN=).
        go_weight: weight of the GO loss.
        min_freq: a GO term is learned when at least this many training proteins carry it.
        seed: seeds the split, the crops, the masks and the weights.
        cpu_threads: torch threads on CPU (0 = the cores this process may use).
        log_with: Accelerate trackers (``tensorboard``, ``wandb``, ``mlflow``).
        keep_sequences: save the training sequences in the folder (novelty in ppi generate).
        retrieval: each epoch, also the held-out perplexity ratio of the model mixed with
            homologs phmmer retrieves from the training proteins under ``cluster_identity``
            (:mod:`ppi.lm.retrieval`): ``perplexity_ratio_retrieval`` in the metrics.
    """

    epochs: int = setting(10, "[1, inf)")
    stop_after: int = setting(0, "[0, inf)")
    save_every: int = setting(0, "[0, inf)")
    lr: float = setting(1e-3, "(0, 1)")
    warmup: float = setting(0.05, "[0, 1)")
    weight_decay: float = setting(0.01, "[0, 1)")
    batch_tokens: int = setting(8192, "[16, inf)")
    grad_accum: int = setting(1, "[1, inf)")
    crop: int = setting(0, "[0, inf)")
    mask_rate: float = setting(0.15, "(0, 1)")
    heldout: float = setting(0.05, "(0, 0.5]")
    train_share: float = setting(1.0, "(0, 1]")
    cluster_identity: float = setting(0.5, "(0, 1]")
    cluster_measure: str = setting("mmseqs", choices=("mmseqs", "phmmer", "kmer", "none"))
    annotations: str = ""
    id_map: str = ""
    go_weight: float = setting(1.0, "[0, inf)")
    min_freq: int = setting(10, "[1, inf)")
    seed: int = 0
    cpu_threads: int = setting(0, "[0, inf)")
    log_with: tuple[str, ...] = ()
    keep_sequences: bool = True
    retrieval: bool = False


@dataclass(frozen=True)
class PretrainConfig:
    """The whole job: the backbone, the settings, and whether to resume."""

    backbone: ScratchConfig = field(default_factory=ScratchConfig)
    pretrain: PretrainSettings = field(default_factory=PretrainSettings)
    resume: bool = False


#: the settings :func:`job_key` leaves out: a resumed job may change them
OUTSIDE_THE_JOB = ("stop_after", "save_every", "log_with", "retrieval")


def job_key(config: PretrainConfig, dumps: list[str]) -> str:
    """What makes two invocations the same job (resume checks it).

    ``stop_after``, ``save_every``, ``log_with``, ``retrieval`` (what is reported) and
    ``resume`` aside.
    """
    kept = dataclasses.replace(config.pretrain, stop_after=0, save_every=0, log_with=())
    settings = to_dict(kept)
    settings.pop("retrieval")  # absent from the keys of jobs begun before it existed
    settings.pop("save_every")  # the same
    if settings["train_share"] == 1:
        settings.pop("train_share")  # the same: jobs begun before it keep their key
    return digest("pretrain-v1", json.dumps(to_dict(config.backbone)), json.dumps(settings), *dumps)


@dataclass
class Data:
    """Sequences, the split and the GO targets (``(N, T)`` per side, empty without GO).

    ``train`` and ``held`` are indices into ``store`` (int64 arrays, in the
    order of the dumps): the sequences stay on disk in the cache,
    memory-mapped, shared by every process of the machine.
    """

    store: SequenceStore
    train: np.ndarray
    held: np.ndarray
    terms: list[str]
    train_go: torch.Tensor
    held_go: torch.Tensor

    @functools.cached_property
    def train_digest(self) -> str:
        """Digest of the training accessions, the key of ``train.fasta.gz``: once a job.

        The training set does not change within a job; for UniRef50 the digest
        reads some 60M accessions, too much to repeat at every epoch's save.
        """
        return self.store.digest("pretrain-train", self.train)


def load_data(
    config: PretrainConfig,
    dumps: list[str],
    out: Path,
    main: bool,
    saved: bool = False,
    resuming: bool = False,
    processes: int = 1,
) -> Data:
    """Read the dumps, split by cluster (or reuse the saved split), build GO targets.

    ``saved=True`` takes the folder's saved split whatever settings drew it
    (a finished folder read again); otherwise a saved split is reused only
    if it was drawn for the same inputs and split settings. A new split is
    saved once every input is known to be good, including fewer batches an
    epoch than ``processes`` (a process without batches would stall the others).
    """
    s = config.pretrain
    # the annotations first: a bad table is an error before the store is built (UniRef50's
    # takes some 35 minutes)
    known = go.read_terms(s.annotations, s.id_map or _fasta(dumps)) if s.annotations else {}
    store = open_store(dumps)
    key = None if saved else split_key(s, dumps)
    train, held, drawn = load_or_split(out, store, s, key, resuming)
    if s.train_share < 1:
        count = max(1, round(s.train_share * len(train)))
        train = train[sorted(random.Random(s.seed).sample(range(len(train)), count))]
        log.info(
            "pretrain.train_share=%g: learning from %d training proteins", s.train_share, len(train)
        )
    terms, tgo, hgo = [], torch.zeros(len(train), 0), torch.zeros(len(held), 0)
    if s.annotations:
        names = store.accessions(train)
        terms = go.vocabulary(known, names, s.min_freq)
        if not terms:
            raise InputError(
                f"pretrain.annotations={s.annotations}: no GO term is carried by "
                f"{s.min_freq} training proteins (check pretrain.id_map)"
            )
        tgo, hgo = go.targets(known, names, terms), go.targets(known, store.accessions(held), terms)
        log.info(
            "GO objective: %d terms; %d of %d training proteins annotated",
            len(terms),
            int((tgo.sum(1) > 0).sum()),
            len(train),
        )
    data = Data(store, train, held, terms, tgo, hgo)
    per_epoch = batches_per_epoch(data, config)
    if per_epoch < processes:
        raise InputError(
            f"pretrain: {per_epoch} batch(es) an epoch for {processes} processes; "
            "lower pretrain.batch_tokens or launch fewer processes"
        )
    if drawn and main:  # only now that the inputs are known to be good
        save_split(out, store, held, key)
    return data


def split_key(settings: PretrainSettings, dumps: list[str]) -> str:
    """What decides the held-out split: the inputs and the split settings."""
    fields = (settings.heldout, settings.cluster_identity, settings.cluster_measure, settings.seed)
    return digest("pretrain-split-v1", *map(str, fields), *dumps)


def _fasta(dumps: list[str]) -> str:
    first = dumps[0]
    return first if ".fa" in Path(first).name or first.startswith("example:") else ""


def lr_lambda(total: int, warmup: float):
    """Linear warm-up to 1, cosine decay to 0.1."""
    warm = max(1, int(total * warmup))

    def fn(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        done = min(1.0, (step - warm) / max(1, total - warm))
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * done))

    return fn


def epoch_batches(data: Data, config: PretrainConfig, epoch: int, rank: int, world: int):
    """This process's batches of ``epoch`` (:class:`EpochBatches`) and the epoch's generator.

    As many batches on every process. The crops are drawn for every training
    protein (their starts, not their residues), so each process draws the same.
    """
    s = config.pretrain
    gen = torch.Generator().manual_seed(s.seed * 100_003 + epoch)
    lengths, size = _training_lengths(data, config)
    starts = crop_starts(lengths, size, gen)
    order, begins, ends = batch_order(np.minimum(lengths, size) + 2, s.batch_tokens, gen)
    count = len(ends) - len(ends) % world if len(ends) >= world else len(ends)
    mine = slice(rank, count, world)
    return EpochBatches(data.store, data.train, order, begins[mine], ends[mine], starts, size), gen


def batches_per_epoch(data: Data, config: PretrainConfig) -> int:
    """How many batches an epoch has over all processes, without drawing its crops.

    A crop is at most ``size`` residues, so the batches depend on the lengths only.
    """
    lengths, size = _training_lengths(data, config)
    tokens = np.minimum(lengths, size) + 2
    return len(token_budget_bounds(tokens, config.pretrain.batch_tokens, MAX_BATCH)[2])


def _training_lengths(data: Data, config: PretrainConfig) -> tuple[np.ndarray, int]:
    """The training proteins' lengths ``(N,)`` and the crop size."""
    size = config.pretrain.crop or config.backbone.max_len
    return np.asarray(data.store.lengths[data.train]), size


def step_loss(model, tok, seqs, go_rows, data: Data, config, gen, device) -> torch.Tensor:
    """The masked-LM loss of one batch, plus the weighted GO loss of its annotated proteins."""
    ids, keep, residue = encode(tok, seqs)
    inputs, labels = mask_tokens(
        ids,
        residue,
        tok.mask_id,
        torch.arange(FIRST_RESIDUE, FIRST_RESIDUE + len(RESIDUES)),
        gen,
        config.pretrain.mask_rate,
    )
    at = labels != IGNORE  # (B, T)
    logits, go_logits = model(inputs.to(device), keep.to(device), at.to(device))  # (S, V)
    # divided by at least 1: a batch that drew no position adds 0, not NaN
    picked = labels[at].to(device)
    loss = functional.cross_entropy(logits.float(), picked, reduction="sum") / max(len(picked), 1)
    if go_logits is not None and config.pretrain.go_weight > 0:
        target = data.train_go[go_rows].to(device)  # (B, T)
        has = target.sum(1) > 0
        if bool(has.any()):
            bce = functional.binary_cross_entropy_with_logits(go_logits.float()[has], target[has])
            loss = loss + config.pretrain.go_weight * bce
    elif go_logits is not None:
        loss = loss + 0.0 * go_logits.sum()  # every weight gets a gradient under DDP
    return loss


#: seed of the held-out batches and of each batch's mask (batch i: HELDOUT_SEED + i)
HELDOUT_SEED = 12345
#: share of held-out residues hidden for the held-out loss, whatever the training rate
HELDOUT_MASK_RATE = 0.15


@torch.no_grad()
def evaluate(
    model, tok, data: Data, config: PretrainConfig, unigram: torch.Tensor, acc, log_probs=None
) -> dict:
    """Held-out masked-LM loss and perplexity (with the unigram baseline), and GO Fmax.

    Every residue of each held-out protein is read, in consecutive windows of
    ``max_len`` residues (:func:`heldout_windows`). Each process scores every
    n-th held-out batch and the sums are added up across processes, so every
    window counts exactly once (``heldout_windows``); batch i is masked by a
    generator seeded with ``HELDOUT_SEED + i``, so the figures do not depend
    on the number of processes either. A protein's GO scores are the mean of
    its windows'. The forward runs on the unwrapped model: DDP's forward
    broadcasts buffers, a collective that a process without held-out batches
    would never join. ``log_probs``, a dict, receives this process's
    log-probabilities of the true residues, ``(S,)`` per batch index
    (``pretrain.retrieval`` mixes them without running the model again).
    """
    net = acc.unwrap_model(model)
    model.eval()
    seqs, owner = heldout_windows(data, config)
    groups = heldout_groups(seqs, config)
    mine = range(acc.process_index, len(groups), acc.num_processes)
    sums, go_scores = _score_heldout(net, tok, seqs, groups, mine, unigram, acc.device, log_probs)
    # model NLL, unigram NLL, hidden residues, windows
    totals = acc.reduce(sums.to(acc.device), "sum").cpu()
    model.train()
    n = max(float(totals[2]), 1.0)
    out = {
        "heldout_loss": float(totals[0] / n),
        "heldout_perplexity": math.exp(totals[0] / n),
        "unigram_perplexity": math.exp(totals[1] / n),
    }
    out["perplexity_ratio"] = out["heldout_perplexity"] / out["unigram_perplexity"]
    out["heldout_sequences"] = len(data.held)
    out["training_sequences"] = len(data.train)
    out["heldout_windows"] = int(totals[3])
    if acc.num_processes > 1:
        go_scores = gather_object(go_scores)
    if go_scores and data.terms:  # a model with a GO head read without its terms: none
        scores = protein_scores(go_scores, owner, len(data.held), len(data.terms))
        truth = data.held_go.numpy()
        out["go_fmax"] = go.fmax(truth, scores.numpy())
        out["go_fmax_naive"] = go.fmax(truth, go.naive_scores(data.train_go, len(data.held)))
    return out


def heldout_windows(data: Data, config: PretrainConfig) -> tuple[list[str], list[int]]:
    """Every residue of each held-out protein in consecutive ``max_len`` windows, and their owners.

    Returns the windows and, for each, the index of its protein in ``data.held``.
    """
    size = config.backbone.max_len
    seqs, owner = [], []
    for i, s in enumerate(data.store.sequences(data.held)):
        for start in range(0, len(s), size):
            seqs.append(s[start : start + size])
            owner.append(i)
    return seqs, owner


def protein_scores(go_scores, owner: list[int], proteins: int, terms: int) -> torch.Tensor:
    """Each protein's GO probabilities, the mean over its windows; ``(proteins, terms)``.

    ``go_scores`` holds ``(window indices, (len, terms) probabilities)`` per batch.
    """
    total = torch.zeros(proteins, terms)
    count = torch.zeros(proteins)
    for g, prob in go_scores:
        rows = torch.tensor([owner[i] for i in g])
        total.index_add_(0, rows, prob)
        count.index_add_(0, rows, torch.ones(len(g)))
    return total / count.clamp(min=1).unsqueeze(1)


def heldout_groups(seqs: list[str], config: PretrainConfig) -> list[list[int]]:
    """The held-out batches (indices into ``seqs``), the same in every run of a config."""
    gen = torch.Generator().manual_seed(HELDOUT_SEED)
    return batches([len(s) + 2 for s in seqs], config.pretrain.batch_tokens, gen)


def heldout_batch(tok, seqs: list[str], groups: list[list[int]], index: int):
    """Held-out batch ``index``: ``(keep, inputs, labels)``, its mask seeded by the index.

    Shapes:
        three ``(B, T)`` tensors; labels are -100 except at the hidden residues.
    """
    gen = torch.Generator().manual_seed(HELDOUT_SEED + index)
    ids, keep, residue = encode(tok, [seqs[i] for i in groups[index]])
    inputs, labels = eval_mask(ids, residue, tok.mask_id, gen, HELDOUT_MASK_RATE)
    return keep, inputs, labels


def hidden_log_probs(net, tok, seqs, groups, mine, device):
    """For each held-out batch in ``mine``: ``(index, sel, labels, logp, go_logits)``.

    Shapes:
        sel, labels ``(B, T)``; logp ``(S, V)`` over the S hidden residues, in
        ``sel.nonzero()`` order; go_logits ``(S, T)`` or None.
    """
    for index in mine:
        keep, inputs, labels = heldout_batch(tok, seqs, groups, index)
        sel = labels != IGNORE
        logits, go_logits = net(inputs.to(device), keep.to(device), sel.to(device))  # (S, V)
        yield index, sel, labels, torch.log_softmax(logits.float().cpu(), -1), go_logits


def _score_heldout(net, tok, seqs, groups, mine, unigram, device, log_probs: dict | None = None):
    """NLL sums of the held-out batches ``mine`` and their GO probabilities.

    ``log_probs``, if given, receives each batch's log-probabilities of its true residues.
    """
    log_probs = {} if log_probs is None else log_probs
    sums = torch.zeros(4, dtype=torch.float64)  # model NLL, unigram NLL, residues, windows
    go_scores = []
    for index, sel, labels, logp, go_logits in hidden_log_probs(
        net, tok, seqs, groups, mine, device
    ):
        g = groups[index]
        log_probs[index] = logp.gather(1, labels[sel][:, None])[:, 0].double()  # (S,)
        sums[0] -= log_probs[index].sum()
        sums[1] -= unigram[labels[sel]].sum().double()
        sums[2] += int(sel.sum())
        sums[3] += len(g)
        if go_logits is not None:
            go_scores.append((g, torch.sigmoid(go_logits.float()).cpu()))
    return sums, go_scores


def load_run(folder: str | Path, dumps: list[str], annotations: bool = True):
    """A pretraining folder's config, data (its saved split) and model: ``(config, data, net)``.

    ``annotations=False`` leaves the GO targets out (the masked-LM figures only).
    """
    folder = Path(folder)
    meta = read_json(folder / CONFIG)
    settings = dict(meta["pretrain"])
    if not annotations:
        settings.update(annotations="", id_map="")
    config = build(PretrainConfig, {"backbone": meta["backbone"], "pretrain": settings})
    data = load_data(config, dumps, folder, main=False, saved=True)
    return config, data, ScratchLM.from_pretrained(folder)


def evaluate_folder(
    folder: str | Path, dumps: list[str], on_training: bool = False, annotations: bool = True
) -> dict:
    """The held-out figures of a folder's weights, measured now as :func:`evaluate` does.

    ``on_training=True`` scores :func:`training_stand_in` proteins in their
    place: how well the model fits proteins it learned from, against how well
    it predicts new ones. ``annotations=False``: the masked-LM figures only.
    """
    from accelerate import Accelerator

    config, data, net = load_run(folder, dumps, annotations)
    if on_training:
        data = training_stand_in(data)
    unigram = unigram_log_probs(data, len(net.tokenizer))
    return evaluate(net, net.tokenizer, data, config, unigram, Accelerator(cpu=True))


def training_stand_in(data: Data) -> Data:
    """``data`` with as many training proteins as are held out (all, if fewer) in their place.

    Drawn at random with seed 0, in training order, with their GO targets: the
    same proteins each time, to score a model on what it learned from.
    """
    count = min(len(data.held), len(data.train))
    rows = sorted(random.Random(0).sample(range(len(data.train)), count))
    return dataclasses.replace(data, held=data.train[rows], held_go=data.train_go[rows])


def unigram_log_probs(data: Data, vocab: int) -> torch.Tensor:
    """Log-frequency of each token among training residues (Laplace-smoothed), ``(V,)``."""
    counts = torch.ones(vocab, dtype=torch.float64)
    seen = data.store.counts(data.train)  # (256,) by byte
    for i, aa in enumerate(RESIDUES):
        counts[FIRST_RESIDUE + i] += int(seen[ord(aa)])
    counts[:FIRST_RESIDUE] = 0
    return torch.log(counts / counts.sum()).float()


#: ``config.json`` key: the digest of the training proteins ``train.fasta.gz`` holds
TRAIN_DIGEST = "train_sequences_digest"


def save_folder(model: ScratchLM, out: Path, data: Data, metrics: dict, config) -> None:
    """The backbone folder, rewritten each epoch; its training sequences only when it lacks them.

    The training set does not change within a job, and for UniRef50 writing it
    again each epoch would compress some 16 GB of text every time.
    """
    extra = {"pretrain": to_dict(config.pretrain), "metrics": metrics}
    seqs = None
    if config.pretrain.keep_sequences:
        extra[TRAIN_DIGEST] = data.train_digest
        if not _holds_sequences(out, extra[TRAIN_DIGEST]):
            seqs = ((data.store.accession(i), data.store.sequence(i)) for i in data.train)
    model.save_pretrained(out, data.terms, extra, seqs)


def _holds_sequences(out: Path, key: str) -> bool:
    """Whether ``out`` holds ``train.fasta.gz`` of the training set whose digest is ``key``."""
    try:
        saved = json.loads((out / CONFIG).read_text()).get(TRAIN_DIGEST)
    except (OSError, ValueError, AttributeError):
        return False
    return saved == key and (out / TRAIN_FASTA).is_file()


def trim_metrics(out: Path, epochs: int) -> None:
    """Keep the ``metrics.jsonl`` lines of the first ``epochs`` epochs only.

    A run killed after writing an epoch's line but before its checkpoint was
    marked done trains that epoch again on resume; a kill can also cut a line
    in half. Neither may leave a line behind that the resumed run repeats.
    """
    path = out / METRICS
    if not path.is_file():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict) and isinstance(row.get("epoch"), int) and row["epoch"] <= epochs:
            kept.append(line + "\n")
    atomic_write_text(path, "".join(kept))


#: the folder's plot of its held-out figures, redrawn after every epoch
CURVES = "learning_curves.png"


def plot_curves(out: Path) -> None:
    """Draw ``metrics.jsonl`` as :data:`CURVES`: losses, and the ratios against their baselines.

    The second panel holds the perplexity ratio to the unigram and, with the
    GO objective, GO Fmax and its naive baseline, so a run's distance from
    both targets can be read off it.
    """
    from ppi.evaluation.plots import plot_history

    rows = [json.loads(line) for line in (out / METRICS).read_text().splitlines()]
    history = [
        {"epoch": r["epoch"], **{name: r[key] for key, name in _PLOTTED.items() if key in r}}
        for r in rows
    ]
    plot_history(history, out / CURVES)


#: metrics.jsonl keys -> plot_history names (``*loss`` on the first panel, ``valid_*`` the second)
_PLOTTED = {
    "train_loss": "train_loss",
    "heldout_loss": "heldout_loss",
    "perplexity_ratio": "valid_perplexity_ratio",
    "perplexity_ratio_retrieval": "valid_perplexity_ratio_retrieval",
    "go_fmax": "valid_go_fmax",
    "go_fmax_naive": "valid_go_fmax_naive",
}


def elapsed(start: float) -> float:
    """Seconds since ``start``."""
    return time.monotonic() - start
