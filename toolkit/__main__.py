"""``python -m toolkit`` runs the psbridge CLI."""

import sys

from toolkit.cli.main import main

sys.exit(main())
