"""Channels: each turns proteins into tokens; registered in :data:`CHANNELS`.

Every public module of this package except ``base`` and ``configs`` is one
channel, named in :data:`CHANNELS` (``channels/configs.py``) with its config
and imported when first used: a new channel is one new file plus its config
dataclass and registry line in ``configs.py``. Helper modules start with an
underscore. Importing this package for its configs imports no torch.
"""

from ppi.channels.configs import CHANNELS, ChannelConfig, SequenceConfig
from ppi.registry import lazy_attributes

__getattr__ = lazy_attributes(
    __name__,
    {
        **dict.fromkeys(
            ("Channel", "ChannelContext", "Proteins", "RunData", "Tokens"), "ppi.channels.base"
        ),
        "SequenceChannel": "ppi.channels.sequence",
    },
)

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
