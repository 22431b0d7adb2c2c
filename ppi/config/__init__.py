"""Configuration: the run's config tree, the YAML/override machinery, presets."""
