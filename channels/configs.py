"""The channels' config dataclasses and their registry, importable without torch.

Each channel's module (``channels/homology.py``) holds its code and takes its
``Config`` from here; :data:`CHANNELS` names the module, imported when the
channel is first used, and the config, read without importing it (the
homology channel would import FAISS, the structure channel torch-geometric).
"""

from __future__ import annotations

from dataclasses import dataclass

from ppi.backbones.configs import PRETRAINED
from ppi.config.tools import setting
from ppi.data.annotations import NAMESPACES
from ppi.registry import Registry

CHANNELS = Registry("channel")


@dataclass(frozen=True)
class ChannelConfig:
    """Fields every channel has.

    Attributes:
        enabled: whether the model uses this channel (the ablation switch).
        dropout: probability, during training, of hiding the whole channel for
            a protein, so the model copes when it is missing at prediction time.
    """

    enabled: bool = False
    dropout: float = setting(0.0, "[0, 1]")


@dataclass(frozen=True)
class SequenceConfig(ChannelConfig):
    """Sequence channel settings.

    Attributes:
        enabled: off by default for the pair task: the ``scratch`` transformer
            learned from the training pairs carried nothing to proteins outside
            training (the same test AUPR with and without it on the D-SCRIPT
            and human benchmarks of RESULTS.md) at three quarters of the
            training time. Turn it on with a pretrained backbone
            (``backbone.name=esm2`` ...), and for the single-sequence task
            (the BCR presets do).
        train_crop: while training a non-frozen backbone, embed a random window
            of this many residues per protein (0 = whole sequences). Evaluation
            and scoring read whole sequences: a pretrained backbone in its own
            windows, one learned from zero (``scratch``) in windows of
            ``train_crop`` residues stitched back, since it was never trained
            on positions beyond the crop.
    """

    enabled: bool = False
    train_crop: int = setting(64, "[0, inf)")


@dataclass(frozen=True)
class HomologyConfig(ChannelConfig):
    """Homology channel settings.

    Attributes:
        index: folder of an index built with ``ppi build-index``.
        k: neighbours (tokens) per protein, K.
        exclude_holdout: remove index entries with the sequence of a validation
            or test protein of the run.
        exclude: a file of ids or accessions (one per line, ``#`` comments) to
            remove from every neighbour list.
        min_similarity: drop neighbours with a lower cosine similarity.
        search_depth: hits fetched (and cached) per protein before filtering
            (0 = 4 K + 16); filtering may leave fewer than K.
    """

    index: str = ""
    k: int = setting(8, "[1, inf)")
    exclude_holdout: bool = True
    exclude: str = ""
    min_similarity: float = setting(-1.0, "[-1, 1]")
    search_depth: int = setting(0, "[0, inf)")


@dataclass(frozen=True)
class AnnotationConfig(ChannelConfig):
    """Annotation channel settings.

    Attributes:
        dropout: hide the channel for a protein with this probability while
            training, so the model also works for unannotated proteins.
        store: the annotation store (SQLite; ``ppi annotations build``).
        id_map: table mapping the dataset's ids to accessions (empty = the ids
            are accessions), e.g. ``example:yeast_swissprot/string_map.tsv``.
        namespaces: namespaces that become tokens (one token each).
        min_freq: a term enters the vocabulary when at least this many
            training proteins carry it.
        max_terms: most terms per namespace and protein (the most frequent kept).
        include_leaky: let GO:0005515 and IPI evidence in for the pair task.
        leaky_terms: terms excluded for the pair task.
        leaky_evidence: evidence codes excluded for the pair task.
        ontology: a GO OBO file; when set, terms are propagated to their ancestors.
    """

    dropout: float = setting(0.2, "[0, 1]")
    store: str = ""
    id_map: str = ""
    namespaces: tuple[str, ...] = setting(NAMESPACES, choices=NAMESPACES)
    min_freq: int = setting(3, "[1, inf)")
    max_terms: int = setting(64, "[1, inf)")
    include_leaky: bool = False
    leaky_terms: tuple[str, ...] = ("GO:0005515",)
    leaky_evidence: tuple[str, ...] = ("IPI",)
    ontology: str = ""


@dataclass(frozen=True)
class PropertiesConfig(ChannelConfig):
    """Properties channel settings.

    On by default (with dipeptides): on the bundled Guo pairs it lifts the
    quick start's test AUPR from 0.57 to 0.85 at the same training time (README).

    Attributes:
        enabled: on by default.
        table: CSV/TSV with an id column and numeric columns (empty = none).
        id_column: the table's id column (empty = the first column).
        builtin: add the built-in ProtParam properties of the sequence.
        dipeptides: add the 400 dipeptide frequencies of the sequence (a cheap,
            strong sequence signature; the composition baseline reads them too).
        tokens: tokens the vector is projected into.
        pretrained: add each protein's mean UniRep embedding (the published
            UniRef50 weights, frozen, ``ppi fetch-unirep``): ``unirep-64``,
            ``unirep-256`` or ``unirep-1900``; empty for none. Computed once
            per sequence and cached. On proteins outside training a logistic
            regression on ``unirep-1900`` vectors alone beat the composition
            baseline on 5 of the 6 D-SCRIPT splits and across species
            (RESULTS.md); ``unirep-1900`` is the default. Its cost is paid once
            per sequence, by the residue: 5,400 to 7,500 residues/s a core with
            bfloat16 products (Intel AMX), 1,100 a core in float32 on an Intel
            machine and about 560 on an AMD EPYC (AVX2), where the Guo quick
            start's proteins took 20 of its 27 minutes on 2 cores (RESULTS.md,
            "What the default costs"). ``unirep-64`` costs a twentieth and kept about
            three quarters of ``unirep-1900``'s gain within yeast and none
            across species.
        pretrained_dims: principal components of those vectors kept, fitted on
            the training proteins (at most the embedding's width).
        pretrained_path: the weights (as ``backbone.path`` of the ``unirep``
            backbone; empty = the weights cache).
        pretrained_precision: the UniRep backbone's ``precision``: ``float32``,
            ``bfloat16``, or ``auto``: bfloat16 where the processor has
            Intel AMX (3.3x float32 there), else float32 (AVX512-BF16 without
            AMX ran bfloat16 at 0.59x of float32).
    """

    enabled: bool = True
    table: str = ""
    id_column: str = ""
    builtin: bool = True
    dipeptides: bool = True
    tokens: int = setting(2, "[1, inf)")
    pretrained: str = setting("unirep-1900", choices=("", *PRETRAINED))
    pretrained_dims: int = setting(128, "[1, inf)")
    pretrained_path: str = ""
    pretrained_precision: str = setting("auto", choices=("auto", "float32", "bfloat16"))


@dataclass(frozen=True)
class StructureConfig(ChannelConfig):
    """Structure channel settings.

    Attributes:
        folder: structure files named ``<id>.pdb|.cif[.gz]`` or ``AF-<id>-F1-model_v4.pdb``.
        mapping: TSV ``id, path[, chain]`` (takes precedence over ``folder``).
        chain: chains to read when the table names none (``"HL"``; empty = all).
        radius: edges between Cα within this many Å (0 = none).
        k: edges to each residue's k nearest Cα (0 = none).
        layers: message-passing layers.
        rbf_bins: radial basis functions of the edge distance.
        min_identity: least sequence identity of structure and sequence over
            the aligned residues; below it the structure is rejected.
        node_embedding: add the frozen backbone's per-residue embedding at the
            aligned position to the node features (needs ``backbone.finetune=frozen``).
        confidence: add the B-factor column / 100 (pLDDT for AlphaFold models).
    """

    folder: str = ""
    mapping: str = ""
    chain: str = ""
    radius: float = setting(10.0, "[0, inf)")
    k: int = setting(16, "[0, inf)")
    layers: int = setting(3, "[0, inf)")
    rbf_bins: int = setting(16, "[1, inf)")
    min_identity: float = setting(0.5, "[0, 1]")
    node_embedding: bool = False
    confidence: bool = False


for _name, _config in {
    "sequence": SequenceConfig,
    "homology": HomologyConfig,
    "annotation": AnnotationConfig,
    "properties": PropertiesConfig,
    "structure": StructureConfig,
}.items():
    CHANNELS.register_lazy(_name, f"ppi.channels.{_name}", _config)
