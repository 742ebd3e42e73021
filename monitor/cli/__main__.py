"""``python -m monitor.cli``: the ``fatigue-monitor`` command."""

import sys

from monitor.cli import main

sys.exit(main())
