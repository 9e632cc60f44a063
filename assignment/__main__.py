"""``python -m assignment``: run the lab's experiments (see ``experiments``)."""

import sys

from assignment.experiments import main

sys.exit(main())
