"""pause: registry.k8s.io/pause (Kubernetes' build/pause/linux/pause.c), ENTRYPOINT ["/pause"].

Sleeps until SIGINT or SIGTERM, then prints "Shutting down, got signal: <name>" to stderr
(C's psignal) and exits 0. Like pause.c it warns when it is not PID 1 (our pods have no PID
namespace, so it always does) and `-v` prints its version and exits.
"""

from __future__ import annotations

import os
import signal
import sys

DESCRIPTIONS = {signal.SIGINT: "Interrupt", signal.SIGTERM: "Terminated"}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if any(arg.lower() == "-v" for arg in args):
        print("pause.c lab_kit", flush=True)
        return 0

    def shut_down(signum, _frame):
        print(f"Shutting down, got signal: {DESCRIPTIONS[signum]}", file=sys.stderr, flush=True)
        os._exit(0)

    signal.signal(signal.SIGINT, shut_down)
    signal.signal(signal.SIGTERM, shut_down)
    if os.getpid() != 1:  # (pause.c warns first; here, once it is printed, signals are handled)
        print("Warning: pause should be the first process", file=sys.stderr, flush=True)
    while True:
        signal.pause()


if __name__ == "__main__":
    sys.exit(main())
