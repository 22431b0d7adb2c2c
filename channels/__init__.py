"""Channels: each turns proteins into tokens; registered in :data:`CHANNELS`."""

from ppi.channels.base import CHANNELS, Channel, ChannelConfig, ChannelContext, Proteins, Tokens

__all__ = ["CHANNELS", "Channel", "ChannelConfig", "ChannelContext", "Proteins", "Tokens"]
