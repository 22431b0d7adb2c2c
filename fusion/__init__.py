"""Fusion of channel tokens, the pair stage (evidence, A<->B interaction, head) and the heads."""

from ppi.fusion.cross_attention import FUSIONS, CrossAttentionFusion, FusionConfig
from ppi.fusion.evidence import EVIDENCE
from ppi.fusion.heads import HEADS, HeadConfig, PairHead, SingleHead
from ppi.fusion.pair_stage import PairStage, Sides

__all__ = [
    "EVIDENCE",
    "FUSIONS",
    "HEADS",
    "CrossAttentionFusion",
    "FusionConfig",
    "HeadConfig",
    "PairHead",
    "PairStage",
    "Sides",
    "SingleHead",
]
