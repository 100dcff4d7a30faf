"""``python -m toytheory``: the same command as ``toytheory``."""

import sys

from toytheory.cli import main

if __name__ == "__main__":  # pragma: no cover - exercised through a subprocess in the tests
    sys.exit(main())
