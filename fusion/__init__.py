"""Fusion of channel tokens, the pair stage (evidence, A<->B interaction, head) and the heads.

The registries and configs (``configs.py``) import no torch; the modules with
the code are imported when first used.
"""

from ppi.fusion.configs import EVIDENCE, FUSIONS, HEADS, FusionConfig, HeadConfig
from ppi.registry import lazy_attributes

__getattr__ = lazy_attributes(
    __name__,
    {
        "CrossAttentionFusion": "ppi.fusion.cross_attention",
        "PairHead": "ppi.fusion.heads",
        "SingleHead": "ppi.fusion.heads",
        "PairStage": "ppi.fusion.pair_stage",
        "Sides": "ppi.fusion.pair_stage",
    },
)

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
