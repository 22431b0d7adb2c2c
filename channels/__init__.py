"""Channels: each turns proteins into tokens; registered in :data:`CHANNELS`.

Every public module of this package is one channel, registered under the
module's name and imported when first used: a new channel is one new file
(``channels/homology.py`` registers ``homology``). Helper modules start with
an underscore.
"""

import pkgutil

from ppi.channels.base import (
    CHANNELS,
    Channel,
    ChannelConfig,
    ChannelContext,
    Proteins,
    RunData,
    Tokens,
)
from ppi.channels.sequence import SequenceChannel, SequenceConfig

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_") and _module.name not in ("base", "sequence"):
        CHANNELS.register_lazy(_module.name, f"{__name__}.{_module.name}")

__all__ = [
    "CHANNELS",
    "Channel",
    "ChannelConfig",
    "ChannelContext",
    "Proteins",
    "RunData",
    "SequenceChannel",
    "SequenceConfig",
    "Tokens",
]
