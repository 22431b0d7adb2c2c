"""Input formats with strict validation, splits and the bundled example data.

Modules (import them directly; this package imports nothing heavy):

- :mod:`ppi.data.fasta`: ``read_fasta``, ``write_fasta``, ``validate_sequence``
- :mod:`ppi.data.pairs`: ``Pair``, ``read_pairs``, ``write_pairs``
- :mod:`ppi.data.tables`: ``SequenceTable``, ``read_table`` (CSV, TSV, parquet)
- :mod:`ppi.data.splits`: ``random_split``
- :mod:`ppi.data.examples`: ``resolve("example:guo_yeast/pairs.tsv")``
"""
