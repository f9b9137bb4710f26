"""``python -m hitit`` runs the command line."""

import sys

from hitit.cli.main import main

sys.exit(main())
