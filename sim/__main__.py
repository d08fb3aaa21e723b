"""``python -m sim`` is the ``relaysim`` command."""

import sys

from sim.cli import main

sys.exit(main())
