"""Entry point of ``python -m framework.data``; see ``framework.data.cli``."""

from framework.data.cli import main

raise SystemExit(main())
