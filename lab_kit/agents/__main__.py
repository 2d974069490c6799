"""`python -m lab_kit.agents NAME [OPTIONS]`: run one agent of the table (`table.py`)."""

import sys

# httpx imports its command-line tool (click, rich, pygments: ~0.1 s and ~5 MB) whenever
# click is installed, as it is in the project's venv; no agent uses it, every agent pays.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

from lab_kit.agents.table import main  # noqa: E402

sys.exit(main(sys.argv[1:]))
