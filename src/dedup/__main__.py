"""``python -m dedup`` runs the command line."""

import sys

from dedup.fronts.cli import main

sys.exit(main())
