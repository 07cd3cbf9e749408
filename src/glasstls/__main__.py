"""``python -m glasstls`` runs the glasstls command."""

import sys

from .cli.main import main

sys.exit(main())
