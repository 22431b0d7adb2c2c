"""The model: enabled channels -> fusion -> the pair stage (or a single-sequence head).

On disk a model is a folder (:meth:`PPIModel.save_pretrained`): ``config.json``
(the run's resolved config, outputs and class names), ``model.safetensors``
(every weight except a frozen pretrained backbone, which is loaded from its
own source), one sub-folder per channel for its vocabularies and one
(``evidence-<name>/``) per pair-evidence provider.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from ppi import __version__
from ppi.backbones.base import one_line
from ppi.channels import CHANNELS, ChannelContext, Proteins, RunData, Tokens
from ppi.config.run import Config, config_from_dict, config_to_dict
from ppi.errors import ConfigError, InputError, WeightsError
from ppi.fusion import FUSIONS, HEADS, PairStage
from ppi.lm.folder import FORMAT as LM_FORMAT
from ppi.utils.batching import token_budget_groups
from ppi.utils.cache import cache_root, digest, file_digest
from ppi.utils.files import atomic_save_tensors, atomic_write_text

WEIGHTS = "model.safetensors"
CONFIG = "config.json"


class PPIModel(nn.Module):
    """Channels, fusion and the pair stage (or head), built from a :class:`ppi.config.run.Config`.

    Args:
        config: the run config.
        outputs: logits per example (1 for pairs; classes or labels for single).
        class_names: names of the single-task classes, kept with the model.
        multi_label: single task with independent labels (sigmoid, not softmax).
    """

    def __init__(
        self,
        config: Config,
        outputs: int = 1,
        class_names: tuple[str, ...] = (),
        multi_label: bool = False,
    ) -> None:
        super().__init__()
        self.config = config
        self.outputs = outputs
        self.class_names = tuple(class_names)
        self.multi_label = multi_label
        ctx = ChannelContext(config.fusion.dim, config.backbone, cache_root())
        enabled = {n: c for n, c in config.channels.items() if c.enabled}
        if not enabled:
            raise ConfigError(
                "no channel is enabled; set channels.<name>.enabled=true "
                f"(choices: {', '.join(CHANNELS.names())})"
            )
        self.channels = nn.ModuleDict({n: CHANNELS.get(n)(c, ctx) for n, c in enabled.items()})
        self.fusion = FUSIONS.build(config.fusion, list(self.channels))
        if config.task == "pair":
            self.pair = PairStage(
                config.fusion, config.head, outputs, config.evidence, self.fusion.norm
            )
            clash = sorted(set(self.channels) & set(self.pair.evidence))
            if clash:
                raise ConfigError(f"evidence.{clash[0]}: a channel has this name too")
        else:
            self.head = HEADS.get("single")(config.head, config.fusion.dim, outputs)
        #: names of channels (and evidence providers) hidden, as if missing (:meth:`hide`)
        self.hidden: frozenset[str] = frozenset()

    def named_parameters(self, *args: Any, **kwargs: Any) -> Iterator[tuple[str, nn.Parameter]]:
        """Parameters in the order of earlier releases: the fusion's norm after the pair blocks.

        The norm is the fusion's and the pair stage's; registered with the
        fusion it would come before the pair blocks. The order is what the
        gradient norm of clipping sums over, so keeping it keeps a training
        run's numbers those of earlier releases to the last digit.
        """
        named = list(super().named_parameters(*args, **kwargs))
        if self.task != "pair" or not len(self.pair.blocks):
            return iter(named)
        norm = {id(p) for p in self.fusion.norm.parameters()}
        moved = [item for item in named if id(item[1]) in norm]
        rest = [item for item in named if id(item[1]) not in norm]
        first_head = id(next(self.pair.head.parameters()))
        at = next((i for i, (_, p) in enumerate(rest) if id(p) == first_head), len(rest))
        return iter(rest[:at] + moved + rest[at:])

    @property
    def task(self) -> str:
        """``pair`` or ``single``."""
        return self.config.task

    def prepare_channels(
        self, proteins: dict[str, str], accelerator: Any = None, run: RunData | None = None
    ) -> None:
        """Let every channel compute or load what it needs for these proteins.

        ``run`` (training only) lets channels fit what they learn from the data.
        """
        for channel in self.channels.values():
            channel.prepare(proteins, accelerator, run)
        if self.task == "pair":
            self.pair.prepare(proteins, run, accelerator)

    def sources(self) -> list[str]:
        """What :meth:`hide` can hide: the channels, then the pair-evidence providers."""
        return [*self.channels, *(self.pair.evidence if self.task == "pair" else ())]

    @contextmanager
    def hide(self, names: Sequence[str]) -> Iterator[None]:
        """Within the block the named channels and evidence providers report no evidence.

        A hidden channel hands the fusion an all-masked output, a hidden
        provider all-zero numbers: as if the evidence were missing. This is
        how ``ppi ablate --mask`` evaluates one model without each in turn.
        """
        unknown = [n for n in names if n not in self.sources()]
        if unknown:
            raise InputError(
                f"'{unknown[0]}' is not a channel or evidence provider of this model "
                f"(choices: {', '.join(self.sources())})"
            )
        before = self.hidden
        self.hidden = frozenset(names)
        if self.task == "pair":
            self.pair.hidden = self.hidden
        try:
            yield
        finally:
            self.hidden = before
            if self.task == "pair":
                self.pair.hidden = before

    @property
    def uses_ids(self) -> bool:
        """Whether a protein's representation depends on its id, not only its sequence."""
        return any(c.uses_ids for c in self.channels.values())

    def encode(self, batch: Proteins, max_tokens: int = 65536) -> torch.Tensor:
        """Fused latent tokens of each protein.

        Proteins are encoded in length-sorted chunks of at most ``max_tokens``
        padded residues, so one long protein does not pad every other protein
        of the batch to its length. During training each channel is hidden for
        a protein with the probability of its ``dropout`` setting.

        Shapes:
            returns ``(B, M, D)``.
        """
        groups = token_budget_groups([len(s) for s in batch.seqs], max_tokens, max_batch=1 << 16)
        if len(groups) == 1:
            return self._encode(batch)
        parts = []
        for group in groups:
            sub = Proteins([batch.ids[i] for i in group], [batch.seqs[i] for i in group])
            parts.append((group, self._encode(sub)))
        z = parts[0][1].new_empty(len(batch), *parts[0][1].shape[1:])  # (B, M, D)
        for group, part in parts:
            z[group] = part
        return z

    def _encode(self, batch: Proteins) -> torch.Tensor:
        parts = {}
        for name, channel in self.channels.items():
            part = channel(batch)
            if name in self.hidden:
                part = Tokens(part.tokens, torch.zeros_like(part.mask))
            p = channel.config.dropout
            if self.training and p > 0:
                keep = torch.rand(part.mask.shape[0], 1, device=part.mask.device) >= p  # (B, 1)
                part = channel.drop(part, keep)
            parts[name] = part
        return self.fusion.encode(parts)

    def forward(self, ids: list[str], seqs: list[str], pairs: torch.Tensor | None = None):
        """Logits for the pairs (pair task) or the proteins (single task).

        Shapes:
            pairs ``(P, 2)`` indices into the proteins -> ``(P,)``;
            single task -> ``(B, C)``.
        """
        z = self.encode(Proteins(list(ids), list(seqs)))  # (B, M, D)
        if self.task == "single":
            return self.head(z)
        return pairs_logits(self.pair, z, list(seqs), pairs)

    @torch.no_grad()
    def memo_forward(
        self,
        ids: list[str],
        seqs: list[str],
        pairs: torch.Tensor | None,
        memo: dict[str, torch.Tensor],
    ) -> torch.Tensor:
        """:meth:`forward` for evaluation, encoding only proteins not yet in ``memo``.

        A protein in many pairs of a split is encoded once per pass, not once
        per batch it appears in.

        Shapes:
            as :meth:`forward`.
        """
        z = memo_encode(self.encode, ids, seqs, memo)  # (B, M, D)
        if self.task == "single":
            return self.head(z)
        return pairs_logits(self.pair, z, list(seqs), pairs)

    # -- saving and loading ----------------------------------------------------------
    def _saved_keys(self) -> dict[str, str]:
        """Saved weights: their name in ``model.safetensors`` -> their name in the model.

        The file keeps the layout of every release so far: the pair stage's
        blocks as ``fusion.pair_blocks.*`` and its head as ``head.*``; its norm
        is the fusion's, saved once.
        """
        skip = [
            f"channels.{name}.{prefix}"
            for name, ch in self.channels.items()
            for prefix in ch.frozen_state_prefixes()
        ]
        keys = {}
        for key in self.state_dict():
            if any(key.startswith(s) for s in skip) or key.startswith("pair.norm."):
                continue
            disk = key.replace("pair.blocks.", "fusion.pair_blocks.", 1)
            keys[disk.replace("pair.head.", "head.", 1)] = key
        return keys

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write the model folder (config, weights, channel assets)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = self.state_dict()
        tensors = {
            disk: state[k].detach().cpu().contiguous().clone()
            for disk, k in self._saved_keys().items()
        }
        atomic_save_tensors(tensors, directory / WEIGHTS)
        for name, channel in self.channels.items():
            channel.save_assets(directory / name)
        if self.task == "pair":
            self.pair.save_assets(directory)
        meta = {
            "ppi_version": __version__,
            "outputs": self.outputs,
            "class_names": list(self.class_names),
            "multi_label": self.multi_label,
            "config": config_to_dict(self.config),
        }
        atomic_write_text(directory / CONFIG, json.dumps(meta, indent=2))
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | Path, map_location: str = "cpu") -> PPIModel:
        """Load a model folder strictly: missing or unexpected weights are an error."""
        directory = Path(directory)
        for name in (CONFIG, WEIGHTS):
            if not (directory / name).is_file():
                raise WeightsError(f"{directory}: not a ppi model folder (no {name})")
        meta = read_meta(directory / CONFIG)
        try:
            model = cls(
                config_from_dict(meta["config"]),
                outputs=meta["outputs"],
                class_names=tuple(meta.get("class_names", ())),
                multi_label=meta.get("multi_label", False),
            )
        except InputError as exc:  # a key or value of config.json: name the file
            raise type(exc)(f"{directory / CONFIG}: {exc}") from None
        for name, channel in model.channels.items():
            channel.load_assets(directory / name)
        if model.task == "pair":
            model.pair.load_assets(directory)
        model.load_weights(directory / WEIGHTS, map_location)
        model.source = directory
        return model

    def load_weights(self, path: Path, map_location: str = "cpu") -> None:
        """Load ``model.safetensors`` strictly (frozen backbones excepted).

        A damaged file, missing or unexpected weights, or weights of another
        shape than the config builds (a width edited in ``config.json``) are
        a :class:`WeightsError` naming the file.
        """
        try:
            state = load_file(str(path), device=map_location)
        except (SafetensorError, OSError) as exc:
            raise WeightsError(
                f"{path}: not a readable safetensors file, damaged or truncated ({one_line(exc)})"
            ) from None
        names = self._saved_keys()
        missing, unexpected = sorted(set(names) - set(state)), sorted(set(state) - set(names))
        if missing or unexpected:
            raise WeightsError(
                f"{path}: weights do not match the model "
                f"(missing: {', '.join(missing[:5]) or 'none'}; "
                f"unexpected: {', '.join(unexpected[:5]) or 'none'})"
            )
        mine = self.state_dict()
        own = {disk: mine[key] for disk, key in names.items()}
        wrong = [k for k in sorted(state) if state[k].shape != own[k].shape]
        if wrong:
            k = wrong[0]
            raise WeightsError(
                f"{path}: {len(wrong)} weight(s) have another shape than {CONFIG} builds "
                f"(first: {k} is {tuple(state[k].shape)} in the file, {tuple(own[k].shape)} "
                f"from the config); was a width in {CONFIG} edited?"
            )
        self.load_state_dict({names[k]: v for k, v in state.items()}, strict=False)

    def identity(self) -> str:
        """Names everything a protein's fused representation depends on."""
        source = getattr(self, "source", None)
        weights = file_digest(Path(source) / WEIGHTS) if source else "unsaved"
        channel_ids = [f"{n}={c.identity()}" for n, c in self.channels.items()]
        hidden = [f"hidden={','.join(sorted(self.hidden))}"] if self.hidden else []
        return digest("ppi-representation", weights, *channel_ids, *hidden)


def memo_encode(
    encode: Callable[[Proteins], torch.Tensor],
    ids: list[str],
    seqs: list[str],
    memo: dict[str, torch.Tensor],
) -> torch.Tensor:
    """Each protein's encoding, stacked; only proteins not yet in ``memo`` are encoded.

    Shapes:
        returns ``(B, ...)``, one row per id, each as ``encode`` gives it.
    """
    new = [(i, s) for i, s in zip(ids, seqs, strict=True) if i not in memo]
    if new:
        z = encode(Proteins([i for i, _ in new], [s for _, s in new]))  # (N, ...)
        memo.update({i: z[k] for k, (i, _) in enumerate(new)})
    return torch.stack([memo[i] for i in ids])  # (B, ...)


def pairs_logits(pair: Any, z: torch.Tensor, seqs: list[str], pairs: torch.Tensor) -> torch.Tensor:
    """A pair stage's logits of the pairs ``(P, 2)``, indices into ``z`` and ``seqs``."""
    seqs_a = [seqs[i] for i in pairs[:, 0].tolist()]
    seqs_b = [seqs[j] for j in pairs[:, 1].tolist()]
    return pair.pairs(z[pairs[:, 0]], z[pairs[:, 1]], seqs_a, seqs_b)


def read_meta(path: Path) -> dict[str, Any]:
    """A model folder's ``config.json``: valid JSON holding the run's config and its outputs."""
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise WeightsError(f"{path}: not valid JSON ({exc})") from None
    if isinstance(meta, dict) and meta.get("format") == LM_FORMAT:
        raise WeightsError(
            f"{path.parent}: expected a model folder of ppi train, got a backbone folder of "
            f"ppi pretrain (start a pair model from it with backbone.path={path.parent})"
        )
    if not isinstance(meta, dict) or not isinstance(meta.get("config"), dict):
        raise WeightsError(f"{path}: expected a JSON object with a 'config' mapping")
    if not isinstance(meta.get("outputs"), int) or meta["outputs"] < 1:
        raise WeightsError(
            f"{path}: expected 'outputs', a positive integer, got {meta.get('outputs')!r}"
        )
    # Folders written before the fusion had the setting were trained with
    # the summary as the mean of all tokens: keep what they were trained with.
    fusion = meta["config"].setdefault("fusion", {})
    if isinstance(fusion, dict):  # anything else is refused, naming the key, when it is built
        fusion.setdefault("balance_channels", False)
    _retired_interolog(path, meta["config"])
    return meta


def _retired_interolog(path: Path, config: dict[str, Any]) -> None:
    """Drop the homology channel's retired ``interolog`` flag; refuse a folder that used it.

    Interolog evidence is the pair stage's (``evidence.interolog``). The
    homology channel's own variant (two numbers per pair from FAISS
    neighbour lists) is gone: its numbers are not the provider's (five numbers
    from alignments), so the head of such a folder has inputs of another
    meaning and width, and no mapping could score as it did.
    """
    homology = (config.get("channels") or {}).get("homology")
    if not isinstance(homology, dict) or "interolog" not in homology:
        return
    if homology.pop("interolog"):
        raise WeightsError(
            f"{path}: trained with channels.homology.interolog=true, the homology channel's "
            "interolog numbers, which were retired for the pair stage's evidence.interolog "
            "(other numbers, another head width); retrain with evidence.interolog.enabled=true"
        )
