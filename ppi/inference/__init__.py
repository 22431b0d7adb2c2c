"""Inference: scoring pair lists and screening proteomes with a trained model."""
