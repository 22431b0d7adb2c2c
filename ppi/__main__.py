"""``python -m ppi``."""

from ppi.cli import main

if __name__ == "__main__":
    main()
