"""Print the resolved config (defaults, a YAML file and overrides) and the registered choices."""

from __future__ import annotations

import argparse


def add_args(parser: argparse.ArgumentParser) -> None:
    """Options of ``ppi config``."""
    parser.add_argument("--config", help="YAML config to start from")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides")
    parser.add_argument("--choices", action="store_true", help="list registered components")


def main(args: argparse.Namespace) -> int:
    """Print YAML (or the registries)."""
    from ppi.backbones import BACKBONES
    from ppi.channels import CHANNELS
    from ppi.config.run import dump_config, load_config
    from ppi.fusion import FUSIONS, HEADS

    if args.choices:
        for reg in (BACKBONES, CHANNELS, FUSIONS, HEADS):
            print(f"{reg.kind}s: {', '.join(reg.names())}")
        return 0
    print(dump_config(load_config(args.config, args.overrides)), end="")
    return 0
