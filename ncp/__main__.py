"""``python -m ncp``: the ``ncp`` command."""

import sys

from ncp.cli import main

sys.exit(main())
