"""Probes and restarts: when to probe, what a run of results means, when to restart.

Mirrors `kubernetes/kubernetes`:
- `pkg/kubelet/prober/worker.go` (doProbe): initial cached results, initialDelaySeconds,
  consecutive-result thresholds, holding liveness/startup after a failure until the
  container is replaced, probing nothing but startup until the container has started;
- `pkg/probe/util.go` ResolveContainerPort, `pkg/probe/http/request.go`
  (NewRequestForHTTPGetAction, formatURL, default User-Agent and Accept headers),
  `pkg/probe/http/http.go` (DoHTTPProbe: 2xx succeeds, a 3xx left unfollowed is a Warning
  that counts as success; RedirectChecker: redirects to the same host are followed, up to
  10, one to another host is not), `pkg/kubelet/prober/prober.go` (which host each handler
  probes; the "<Kind> probe warning: ..." text of the ProbeWarning event);
- `pkg/kubelet/kuberuntime/kuberuntime_manager.go` doBackOff with
  `client-go/util/flowcontrol/backoff.go` (CrashLoopBackOff: 10 s doubling to 300 s, reset
  after 10 minutes without a crash) and `pkg/kubelet/container/helpers.go`
  ShouldContainerBeRestarted for restartPolicy.

Leaves out: the worker's ticker (kubelet probes on a ticker started with the worker, with
random jitter after a kubelet restart; here runs are `periodSeconds` apart, the first at
`initialDelaySeconds`). Kept: while a container is not ready, the kubelet's first pod
status sync after the container started (the PLEG relist, every 1 s) triggers an extra
readiness run (prober_manager UpdatePodStatus), which is why a pod whose server needs a
moment to start is Ready after about a second rather than a whole period. Also left out:
restartable init containers.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from lab_kit.model import constants as C
from lab_kit.model import meta

INITIAL_RESULT = {"readiness": "Failure", "liveness": "Success", "startup": "Unknown"}
KUBE_PROBE_USER_AGENT = "kube-probe/1.33"  # kube-probe/<major>.<minor> of the lab's kubelet
BACKOFF_INITIAL_S = 10.0  # kuberuntime backOffPeriod
BACKOFF_MAX_S = 300.0  # MaxContainerBackOff
PLEG_RELIST_S = 1.0  # kubelet's genericPlegRelistPeriod: how soon a started container is seen
_HEADER_TOKEN = set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


class ProbeError(Exception):
    """The probe could not be run (bad port, no handler). Kubelet logs it and throws the
    run away: the cached result does not change (call ProbeTracker.record_error)."""


# --- the probe worker --------------------------------------------------------------------------


class ProbeTracker:
    """One container's probe of one kind: schedule, consecutive runs, cached result.

    Results are "Success", "Failure" or "Unknown" (results.Result). The cached result
    starts at readiness Failure, liveness Success, startup Unknown, and changes only after
    `successThreshold` / `failureThreshold` consecutive equal results."""

    def __init__(self, kind: str, probe: dict, container_started_at: float):
        if kind not in INITIAL_RESULT:
            raise ValueError(f"unknown probe kind {kind!r}")
        self.kind, self.probe = kind, probe
        self.started_at = container_started_at
        self.result = INITIAL_RESULT[kind]
        self.on_hold = False  # liveness/startup failed: wait for the next container
        self.last_probe_at: float | None = None
        self._last = "Success"  # worker.lastResult starts at results.Result's zero: Success
        self._run = 0  # worker.resultRun: how many times in a row _last came back

    @property
    def initial_delay_s(self) -> int:
        return self.probe.get("initialDelaySeconds") or 0

    @property
    def period_s(self) -> int:
        return self.probe.get("periodSeconds") or C.PROBE_PERIOD_S

    @property
    def timeout_s(self) -> int:
        return self.probe.get("timeoutSeconds") or C.PROBE_TIMEOUT_S

    @property
    def success_threshold(self) -> int:
        return self.probe.get("successThreshold") or C.PROBE_SUCCESS_THRESHOLD

    @property
    def failure_threshold(self) -> int:
        return self.probe.get("failureThreshold") or C.PROBE_FAILURE_THRESHOLD

    def seconds_until_due(self, now: float, container_started: bool = True) -> float:
        """How long until the next run: 0 when due, infinity while no run may happen.

        Nothing runs on hold; a startup probe stops once it has succeeded; the other kinds
        wait for `container_started` (the startup probe passed, or there is none)."""
        if self.kind == "startup":
            blocked = self.result == "Success"  # the container has started: job done
        else:
            blocked = not container_started  # other probes wait for the startup probe
        if self.on_hold or blocked:
            return math.inf
        earliest = self.started_at + self.initial_delay_s
        if self.last_probe_at is not None:
            earliest = max(earliest, self.last_probe_at + self.period_s)
            # The status sync after PLEG saw the container start triggers one readiness run.
            # (PLEG relists every second: we take the latest moment it can see the start.)
            triggered = self.started_at + max(PLEG_RELIST_S, self.initial_delay_s)
            if (
                self.kind == "readiness"
                and self.result != "Success"
                and self.last_probe_at < triggered
            ):
                earliest = min(earliest, triggered)
        return max(0.0, earliest - now)

    def due(self, now: float, container_started: bool = True) -> bool:
        return self.seconds_until_due(now, container_started) == 0

    def record(self, success: bool, now: float) -> str:
        """One run's outcome; returns the cached result after it."""
        result = "Success" if success else "Failure"
        self.last_probe_at = now
        if result == self._last:
            self._run += 1
        else:
            self._last, self._run = result, 1
        threshold = self.failure_threshold if result == "Failure" else self.success_threshold
        if self._run < threshold:
            return self.result  # below threshold: leave the cached result alone
        self.result = result
        if self.kind in ("liveness", "startup") and result == "Failure":
            # The container will be killed; probing it while it stops proves nothing.
            self.on_hold, self._run = True, 0
        return self.result

    def record_error(self, now: float) -> str:
        """A run that could not be made: only the schedule advances."""
        self.last_probe_at = now
        return self.result

    def container_stopped(self) -> str:
        """The container is not running: kubelet sets the cached result to Failure."""
        self.result = "Failure"
        return self.result

    def reset(self, container_started_at: float) -> None:
        """A new container (restart): back to the initial result, probing resumes.

        Like worker.go, the consecutive-run counter is not cleared (only a liveness or
        startup failure zeroes it)."""
        self.started_at = container_started_at
        self.result = INITIAL_RESULT[self.kind]
        self.on_hold = False
        self.last_probe_at = None


# --- handlers ---------------------------------------------------------------------------------


def resolve_port(port: int | str | None, container: dict | None) -> int:
    """ResolveContainerPort: a number, or a name looked up in this container's ports (then
    parsed as a number as a last resort); 1-65535."""
    if isinstance(port, int) and not isinstance(port, bool):
        number = port
    else:
        name = str(port or "")
        found = [p for p in (container or {}).get("ports") or [] if p.get("name") == name]
        if found:
            number = found[0].get("containerPort", 0)
        elif re.fullmatch(r"[+-]?[0-9]+", name):  # strconv.Atoi's syntax
            number = int(name)
        else:
            raise ProbeError(f'strconv.Atoi: parsing "{name}": invalid syntax')
    if 0 < number < 65536:
        return number
    raise ProbeError(f"invalid port number: {number}")


def canonical_header(name: str) -> str:
    """textproto.CanonicalMIMEHeaderKey: `x-probe` -> `X-Probe` (unchanged if not a token)."""
    if not name or any(ch not in _HEADER_TOKEN for ch in name):
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def _http_headers(action: dict, user_agent: str) -> dict[str, str]:
    """The request headers: the probe's (repeated names joined with ", "), then the
    defaults User-Agent and Accept unless set; an empty Accept removes the header."""
    headers: dict[str, str] = {}
    for header in action.get("httpHeaders") or []:
        name, value = canonical_header(header.get("name", "")), header.get("value", "")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    headers.setdefault("User-Agent", user_agent)
    if "Accept" not in headers:
        headers["Accept"] = "*/*"
    elif headers["Accept"] == "":
        del headers["Accept"]
    return headers


def http_get_params(
    action: dict, container: dict | None, pod_ip: str, user_agent: str = KUBE_PROBE_USER_AGENT
) -> dict:
    """NewRequestForHTTPGetAction: the request an httpGet action makes (a probe's, or a
    lifecycle hook's with User-Agent kube-lifecycle/<version>); see handler_of."""
    scheme = (action.get("scheme") or "HTTP").lower()
    host = action.get("host") or pod_ip
    port = resolve_port(action.get("port"), container)
    path = action.get("path") or "/"
    hostport = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    # url.URL.String puts a "/" between host and a relative path.
    url = f"{scheme}://{hostport}{'' if path.startswith('/') else '/'}{path}"
    headers = _http_headers(action, user_agent)
    return {
        "scheme": scheme.upper(),
        "host": host,
        "port": port,
        "path": path,
        "url": url,
        "headers": headers,
    }


def handler_of(probe: dict, container: dict | None = None, pod_ip: str = "") -> tuple[str, dict]:
    """(kind, params) of the probe's handler, with Kubernetes' defaults applied.

    - "exec": {command}
    - "httpGet": {scheme, host (default: the pod IP), port, path (default "/"), url,
      headers (with User-Agent and Accept defaults)}
    - "tcpSocket": {host (default: the pod IP), port}
    - "grpc": {host (always the pod IP), port, service}
    Named ports are resolved against `container`'s ports; ProbeError if that fails."""
    if probe.get("exec") is not None:
        return "exec", {"command": list(probe["exec"].get("command") or [])}
    if probe.get("httpGet") is not None:
        return "httpGet", http_get_params(probe["httpGet"], container, pod_ip)
    if probe.get("tcpSocket") is not None:
        action = probe["tcpSocket"]
        port = resolve_port(action.get("port"), container)
        return "tcpSocket", {"host": action.get("host") or pod_ip, "port": port}
    if probe.get("grpc") is not None:
        action = probe["grpc"]
        port = resolve_port(action.get("port"), None)  # an int32, never a name
        return "grpc", {"host": pod_ip, "port": port, "service": action.get("service") or ""}
    raise ProbeError("missing probe handler")


def http_success(status_code: int) -> bool:
    """http.go DoHTTPProbe: 200-399 is Success (a 3xx not followed is a Warning, which
    counts as success); anything else is Failure."""
    return 200 <= status_code < 400


def http_result(status: int | None, body: str = "", error: str = "") -> tuple[str, str]:
    """DoHTTPProbe: (result, output) of one HTTP probe run. `status` None: no response
    (`error` says why). A 3xx here is a redirect the prober did not follow (to another
    host, or one Go's client never follows): "Warning", which counts as success."""
    if status is None:
        return "Failure", error
    if http_success(status):
        if status >= 300:
            return "Warning", f"Probe terminated redirects, Response body: {body}"
        return "Success", body
    # Never the body here: a user-facing message (kubernetes issue 99425).
    return "Failure", f"HTTP probe failed with statuscode: {status}"


def probe_warning(kind: str, output: str) -> str:
    """The ProbeWarning event's message (prober.go): "Readiness probe warning: ..."."""
    return f"{kind.capitalize()} probe warning: {output}"


# --- redirects ---------------------------------------------------------------------------------

MAX_REDIRECTS = 10  # net/http's default CheckRedirect, kept by RedirectChecker
REDIRECT_CODES = (301, 302, 303, 307, 308)  # redirectBehavior: the 3xx Go's client follows


class RedirectError(Exception):
    """Following stopped with an error (the client's Do fails: the probe is a Failure)."""


@dataclass(frozen=True)
class Redirect:
    """The next request of a redirect chain: its URL, and whether a custom Host header
    goes along (only for a relative Location, as net/http does since Go issue 22233)."""

    url: str
    keep_host: bool


def next_redirect(
    first_url: str,
    url: str,
    status: int,
    location: str | None,
    hops: int,
    *,
    follow_non_local: bool = False,
) -> Redirect | None:
    """What net/http's Client does with the response to `url` (the `hops`-th redirect
    of a chain that began at `first_url`), under RedirectChecker(follow_non_local):

    None: this response is the answer (not a redirect Go follows, no Location, or —
    ErrUseLastResponse — a Location on another host than the first request's, unless
    `follow_non_local`, as for lifecycle hooks); a Redirect to request next; RedirectError
    after 10 redirects ("stopped after 10 redirects") or for an unparsable Location."""
    if status not in REDIRECT_CODES or not location:
        return None
    try:
        target = urljoin(url, location)
        same_host = urlsplit(target).hostname == urlsplit(first_url).hostname
    except ValueError as e:
        raise RedirectError(
            f'Get "{url}": failed to parse Location header "{location}": {e}'
        ) from e
    if not same_host and not follow_non_local:
        return None
    if hops + 1 >= MAX_REDIRECTS:  # len(via) >= 10: ten requests made, all redirected
        raise RedirectError(f'Get "{target}": stopped after {MAX_REDIRECTS} redirects')
    return Redirect(target, keep_host=not urlsplit(location).scheme)


# --- restarts ----------------------------------------------------------------------------------


def should_restart(restart_policy: str, exit_code: int) -> bool:
    """ShouldContainerBeRestarted for an exited container."""
    if restart_policy == "Never":
        return False
    if restart_policy == "OnFailure":
        return exit_code != 0
    return True  # Always (the default)


def crash_loop_backoff_s(restart_count: int) -> float:
    """Seconds kubelet waits before starting a container again that exited after
    `restart_count` restarts: the first restart is immediate (0), then 10, 20, 40, 80,
    160, and 300 from then on.

    The 10-minute reset (a container that ran that long starts over at 0) needs the
    timeline; RestartBackOff models it."""
    if restart_count <= 0:
        return 0.0
    return min(BACKOFF_INITIAL_S * 2 ** min(restart_count - 1, 16), BACKOFF_MAX_S)


class RestartBackOff:
    """flowcontrol.Backoff for one container, as kuberuntime's doBackOff uses it."""

    def __init__(self) -> None:
        self.backoff_s: float | None = None  # the current back-off window, once restarted
        self.last_update: float | None = None  # when the container was last (re)started

    def _expired(self, finished_at: float) -> bool:
        # hasExpired: more than 2 x max since the last restart (it ran for 10 minutes).
        return self.last_update is None or finished_at - self.last_update > 2 * BACKOFF_MAX_S

    def wait_s(self, finished_at: float, now: float) -> float:
        """Seconds still to wait before restarting (0: restart now). Non-zero means
        CrashLoopBackOff, with `backoff_s` as the window in its message."""
        if self.backoff_s is None or self._expired(finished_at):
            return 0.0
        return max(0.0, finished_at + self.backoff_s - now)

    def restarting(self, finished_at: float, now: float) -> None:
        """Next(): the container is being started again."""
        if self.backoff_s is None or self._expired(finished_at):
            self.backoff_s = BACKOFF_INITIAL_S
        else:
            self.backoff_s = min(self.backoff_s * 2, BACKOFF_MAX_S)
        self.last_update = now


def go_duration(seconds: float) -> str:
    """time.Duration.String for whole seconds: 10s, 1m20s, 5m0s, 1h0m0s."""
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


def crash_loop_message(pod: dict, container_name: str, backoff_s: float) -> str:
    """state.waiting.message under reason CrashLoopBackOff (format.Pod names the pod)."""
    pod_desc = f"{meta.name(pod)}_{meta.namespace(pod)}({meta.uid(pod)})"
    return (
        f"back-off {go_duration(backoff_s)} restarting failed container={container_name} "
        f"pod={pod_desc}"
    )
