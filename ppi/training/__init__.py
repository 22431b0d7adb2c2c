"""Training: data loading, the loop, preflight checks and hyper-parameter search."""
