"""ppi: protein-protein interaction prediction from several channels of evidence."""

__version__ = "0.1.0"
