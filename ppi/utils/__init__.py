"""Utilities shared by every stage: the cache, atomic writes, batching, locks and logging."""
