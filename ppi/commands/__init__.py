"""Subcommands of the ``ppi`` command line, one module each."""
