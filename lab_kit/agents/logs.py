"""Agents' logs that cannot fill the disk: repeats dropped, and a size cap per process.

    record --RepeatFilter--> the same line (logger, level, text) at most LOG_REPEAT_BURST
                             times per LOG_REPEAT_WINDOW_S; then one note that repeats
                             are dropped, and their count when the line comes back
           --CappedStreamHandler--> stderr (the agent's log file), at most
                             MAX_AGENT_LOG_BYTES, then one last line saying so

Why: one API server logged a traceback per failed accept() (out of file descriptors)
and wrote 108 MB in 30 s. klog has no repeat filter; the kubelet caps container logs at
--container-log-max-size (10Mi), which is the cap used here. `runner.setup_logging`
installs both for every agent and the API server.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from lab_kit.model import constants as C

MAX_KEYS = 1000  # distinct lines remembered (the oldest are forgotten first)


@dataclass
class _Seen:
    since: float  # start of this line's window
    count: int = 1
    dropped: int = 0


class RepeatFilter(logging.Filter):
    """Drops a line logged more than `burst` times within `window_s` seconds."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        burst: int = C.LOG_REPEAT_BURST,
        window_s: float = C.LOG_REPEAT_WINDOW_S,
    ) -> None:
        super().__init__()
        self.clock, self.burst, self.window_s = clock, burst, window_s
        self._seen: dict[tuple[str, int, str], _Seen] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        key = (record.name, record.levelno, text)
        now = self.clock()
        seen = self._seen.get(key)
        if seen is None or now - seen.since >= self.window_s:
            self._remember(key, now)
            if seen is not None and seen.dropped:
                _rewrite(record, f"{text} (and {seen.dropped} more like it, not logged)")
            return True
        seen.count += 1
        if seen.count <= self.burst:
            return True
        seen.dropped += 1
        if seen.dropped == 1:
            _rewrite(record, f"{text} (repeated: dropping repeats for {self.window_s:g} s)")
            record.exc_info = record.exc_text = None  # the traceback was logged already
            return True
        return False

    def _remember(self, key: tuple[str, int, str], now: float) -> None:
        self._seen.pop(key, None)
        self._seen[key] = _Seen(now)
        while len(self._seen) > MAX_KEYS:
            del self._seen[next(iter(self._seen))]


def _rewrite(record: logging.LogRecord, text: str) -> None:
    record.msg, record.args = text, None


class CappedStreamHandler(logging.StreamHandler):
    """A StreamHandler that stops after `max_bytes` (saying so once)."""

    def __init__(self, stream: TextIO, max_bytes: int = C.MAX_AGENT_LOG_BYTES) -> None:
        super().__init__(stream)
        self.max_bytes = max_bytes
        self.written = 0

    def emit(self, record: logging.LogRecord) -> None:
        if self.written >= self.max_bytes:
            return
        try:
            line = self.format(record) + self.terminator
            note = f"log stopped at {self.max_bytes} bytes: later lines are dropped\n"
            size = len(line.encode("utf-8", "replace"))
            if self.written + size + len(note) > self.max_bytes:  # room left for the note
                line, size = note, self.max_bytes - self.written
            self.written += size
            self.stream.write(line)
            self.flush()
        except Exception:
            self.handleError(record)
