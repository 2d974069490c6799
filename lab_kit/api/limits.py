"""What the API server bounds, decided without I/O: the request body, requests in flight,
open watches, open connections — and the `Status` errors kube-apiserver answers with.

    body > MAX_REQUEST_BYTES              413 "Request entity too large: limit is 3145728"
    a request past its in-flight cap       429 "Too many requests, please try again later."
                                               + Retry-After: 1     (filters/maxinflight.go)
    a request not done in REQUEST_TIMEOUT  504 "Timeout: request did not complete within 1m0s"
    a body that is not JSON                415 "the body of the request was in an unknown format"
    connections past the cap               the longest-idle one is closed to make room

`Inflight` counts what kube-apiserver's WithMaxInFlightLimit counts: non-long-running
requests, mutating (POST/PUT/PATCH/DELETE) and the rest apart; long-running ones (watches,
and the lab's /lab/v1/converged waits) have a cap of their own. `ConnectionTable` is the
policy the aiohttp server applies to its connections (`lab_kit/agents/apiserver.py`):
which to refuse, which idle one to close, which have been idle or half-sent too long.
Deliberate difference: kube-apiserver's 429 body is plain text (http.Error); the lab's is
the `Status` client-go makes of it, so every error the lab answers is a Status.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

from lab_kit.model import constants as C
from lab_kit.model.errors import ApiError

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
JSON_MEDIA_TYPES = ("application/json",)


@dataclass(frozen=True)
class Limits:
    """Every bound of one API server (tests shrink them)."""

    max_request_bytes: int = C.MAX_REQUEST_BYTES
    max_readonly: int = C.MAX_REQUESTS_INFLIGHT
    max_mutating: int = C.MAX_MUTATING_REQUESTS_INFLIGHT
    max_watches: int = C.MAX_WATCHES
    max_connections: int = C.MAX_CONNECTIONS
    idle_timeout_s: float = C.IDLE_TIMEOUT_S
    read_header_timeout_s: float = C.READ_HEADER_TIMEOUT_S
    request_timeout_s: float = C.REQUEST_TIMEOUT_S


# --- the Status errors ---------------------------------------------------------------------


def err_request_entity_too_large(limit: int) -> ApiError:
    """apierrors.NewRequestEntityTooLargeError, as limitedReadBody words it."""
    return ApiError(413, "RequestEntityTooLarge", f"Request entity too large: limit is {limit}")


def err_too_many_requests() -> ApiError:
    return ApiError(
        429,
        "TooManyRequests",
        "Too many requests, please try again later.",
        {"retryAfterSeconds": C.RETRY_AFTER_S},
    )


def err_timeout(seconds: float) -> ApiError:
    """apierrors.NewTimeoutError from the timeout filter (WithTimeoutForNonLongRunning)."""
    return ApiError(
        504, "Timeout", f"Timeout: request did not complete within {go_duration(seconds)}"
    )


def err_unsupported_media_type(content_type: str) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        f'the body of the request was in an unknown format ("{content_type}") - accepted '
        f"media types include: {', '.join(JSON_MEDIA_TYPES)}",
    )


def go_duration(seconds: float) -> str:
    """Go's time.Duration text for whole seconds: 60 -> "1m0s", 32 -> "32s"."""
    whole = int(seconds)
    if whole != seconds or whole <= 0:
        return f"{seconds}s"
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


def check_media_type(content_type: str) -> None:
    """A body must be JSON; a missing Content-Type is taken as JSON (the lab's clients send
    none). kube-apiserver refuses a type it has no serializer for with 415."""
    media = content_type.split(";")[0].strip().lower()
    if media and media not in JSON_MEDIA_TYPES and not media.endswith("+json"):
        raise err_unsupported_media_type(media)


# --- requests in flight --------------------------------------------------------------------


@dataclass
class Inflight:
    """Requests being served, by class; `admit` says whether one more may start."""

    limits: Limits = field(default_factory=Limits)
    readonly: int = 0
    mutating: int = 0
    watches: int = 0

    def admit(self, method: str, long_running: bool) -> str:
        """The class the request was counted in ("" = refused: answer 429)."""
        if long_running:
            kind, cap = "watches", self.limits.max_watches
        elif method.upper() in MUTATING:
            kind, cap = "mutating", self.limits.max_mutating
        else:
            kind, cap = "readonly", self.limits.max_readonly
        if getattr(self, kind) >= cap:
            return ""
        setattr(self, kind, getattr(self, kind) + 1)
        return kind

    def release(self, kind: str) -> None:
        if kind:
            setattr(self, kind, getattr(self, kind) - 1)


# --- connections ---------------------------------------------------------------------------


@dataclass
class _Connection:
    idle_since: float  # when it last finished a request (or opened)
    sending_since: float | None  # a request's first bytes came (a new connection: opened)
    busy: int = 0  # requests being handled on it (a watch keeps it busy)


class ConnectionTable:
    """The server's open connections, by any hashable key (a transport). Timeouts as Go's
    net/http has them: a request's headers must arrive within the read-header timeout of
    its first byte (of the accept, for a connection's first request); a connection between
    requests may stay idle for the idle timeout."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._open: dict[Hashable, _Connection] = {}

    def __len__(self) -> int:
        return len(self._open)

    def opened(self, key: Hashable, now: float) -> tuple[bool, Hashable | None]:
        """(admitted, the idle connection to close to make room). At the cap the one idle
        the longest goes; with none idle the new connection is refused."""
        victim = None
        if len(self._open) >= self.limits.max_connections:
            victim = self._longest_idle()
            if victim is None:
                return False, None
            del self._open[victim]
        self._open[key] = _Connection(now, now)
        return True, victim

    def closed(self, key: Hashable) -> None:
        self._open.pop(key, None)

    def received(self, key: Hashable, now: float) -> None:
        conn = self._open.get(key)
        if conn is not None and not conn.busy and conn.sending_since is None:
            conn.sending_since = now

    def started(self, key: Hashable) -> None:
        conn = self._open.get(key)
        if conn is not None:
            conn.busy += 1
            conn.sending_since = None

    def finished(self, key: Hashable, now: float) -> None:
        conn = self._open.get(key)
        if conn is not None:
            conn.busy = max(0, conn.busy - 1)
            conn.idle_since = now

    def expired(self, now: float) -> list[Hashable]:
        """Connections to close now: requests half-sent past the read-header timeout,
        connections idle past the idle timeout."""
        out = []
        for key, conn in self._open.items():
            if conn.busy:
                continue
            if conn.sending_since is not None:
                late = now - conn.sending_since >= self.limits.read_header_timeout_s
            else:
                late = now - conn.idle_since >= self.limits.idle_timeout_s
            if late:
                out.append(key)
        return out

    def _longest_idle(self) -> Hashable | None:
        """The connection serving nothing that has been so the longest (the first opened
        among equals: dicts keep insertion order)."""
        best, best_since = None, 0.0
        for key, conn in self._open.items():
            if not conn.busy and (best is None or conn.idle_since < best_since):
                best, best_since = key, conn.idle_since
        return best
