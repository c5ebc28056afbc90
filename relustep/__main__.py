"""``python -m relustep``: the same as the ``relustep`` command."""

from relustep.cli import main

raise SystemExit(main())
