"""``python -m sdn``: the ``sdn`` command."""

import sys

from sdn.cli.main import main

sys.exit(main())
