"""Fusion of channel tokens and the classification heads."""

from ppi.fusion.cross_attention import FUSIONS, CrossAttentionFusion, FusionConfig
from ppi.fusion.heads import HEADS, HeadConfig, PairHead, SingleHead

__all__ = [
    "FUSIONS",
    "HEADS",
    "CrossAttentionFusion",
    "FusionConfig",
    "HeadConfig",
    "PairHead",
    "SingleHead",
]
