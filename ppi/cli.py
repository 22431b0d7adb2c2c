"""The ``ppi`` command line: one parser, one module per subcommand.

Each module in :mod:`ppi.commands` has ``add_args(parser)`` and ``main(args)``;
the first line of its docstring is the subcommand's help. Input errors become
one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import ppi.commands
from ppi import __version__
from ppi.errors import InputError
from ppi.utils.distributed import end_process

#: subcommand -> module under ppi.commands: every public module there is one
#: (``fetch_unirep.py`` is ``ppi fetch-unirep``), so a new command is one new file.
COMMANDS = {
    m.name.replace("_", "-"): m.name
    for m in sorted(pkgutil.iter_modules(ppi.commands.__path__), key=lambda m: m.name)
    if not m.name.startswith("_")
}


class Parser(argparse.ArgumentParser):
    """argparse with a usage error on one line: what was wrong and where the usage is.

    argparse prints the whole usage (several lines for most subcommands)
    before the error; subcommand parsers are made of this class too.
    """

    def error(self, message: str):
        """Print ``prog: error: message (see prog --help)`` and exit with 2."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def create_parser() -> argparse.ArgumentParser:
    """The full parser, with every subcommand (tests call this)."""
    parser = Parser(prog="ppi", description="Protein-protein interaction prediction.")
    parser.add_argument("--version", action="version", version=f"ppi {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"ppi.commands.{module_name}")
        doc = (module.__doc__ or "").strip().splitlines()
        sp = sub.add_parser(name, help=doc[0] if doc else "", description=module.__doc__)
        module.add_args(sp)
        sp.set_defaults(func=module.main)
    return parser


def run(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the subcommand; returns the exit code."""
    try:
        args = create_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version or a bad option, which argparse explained
        return int(exc.code or 0)
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        print(f"ppi {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"ppi {args.command}: interrupted; run it again to resume", file=sys.stderr)
        return 130


def run_script(command: str, argv: list[str]) -> int:
    """Run one subcommand from a script under ``accelerate launch``."""
    return end_process(run([command, *argv]), command)


def main(argv: list[str] | None = None) -> None:
    """Console entry point ``ppi`` (also ``python -m ppi``)."""
    argv = sys.argv[1:] if argv is None else argv
    sys.exit(end_process(run(argv), argv[0] if argv else "ppi"))
