"""`python -m lab_kit ...` is `labkit ...`."""

import sys

from lab_kit.cli.main import main

sys.exit(main())
