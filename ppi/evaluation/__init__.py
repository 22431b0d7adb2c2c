"""Evaluation: predictions, metrics, calibration, baselines, plots, reports, ablation, maps."""
