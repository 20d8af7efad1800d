"""``python -m headstart`` (also what ``torchrun -m headstart`` runs)."""

import sys

from .cli import main

sys.exit(main())
