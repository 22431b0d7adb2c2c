"""Channels: each turns proteins into tokens; registered in :data:`CHANNELS`."""

from ppi.channels.base import CHANNELS, Channel, ChannelConfig, ChannelContext, Proteins, Tokens
from ppi.channels.sequence import SequenceChannel, SequenceConfig

__all__ = [
    "CHANNELS",
    "Channel",
    "ChannelConfig",
    "ChannelContext",
    "Proteins",
    "SequenceChannel",
    "SequenceConfig",
    "Tokens",
]
