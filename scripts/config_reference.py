"""Write docs/configuration.md from the config dataclasses' field docs.

python scripts/config_reference.py [--check]

With ``--check`` nothing is written; the exit code is 1 when the page is stale.
"""

import argparse
import sys
from pathlib import Path

from ppi.config.reference import reference

PAGE = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="only say whether the page is stale")
    args = parser.parse_args()
    text = reference()
    if args.check:
        stale = not PAGE.is_file() or PAGE.read_text() != text
        print(f"{PAGE}: {'stale' if stale else 'up to date'}")
        return int(stale)
    PAGE.write_text(text)
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
