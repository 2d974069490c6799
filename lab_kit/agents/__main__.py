"""`python -m lab_kit.agents NAME [OPTIONS]`: run one agent of the table (`table.py`)."""

import sys

from lab_kit.agents.table import main

sys.exit(main(sys.argv[1:]))
