"""The API server's HTTP semantics without HTTP: a request in, a reply (or a stream plan) out.

    (method, path, query, body bytes) --ApiHandler.handle--> Reply(status, JSON body)
                                                         or WatchStream (a watch to serve)
                                                         or ConvergedWait (a wait to serve)

Both servers of the lab call this one handler, so every rule lives once: the real API
server (`lab_kit/agents/apiserver.py`, aiohttp on a Unix socket) and the in-process one
tests use (`lab_kit/adapters/api_inprocess.py`, an httpx transport). The two things that
need waiting — streaming a watch, waiting for convergence — come back as plain plans
(`WatchStream`, `ConvergedWait`) that the servers' async loops drive
(`lab_kit/adapters/api_serving.py`).

Routes (kube-apiserver's, plus the lab's own under /lab/v1):
    GET /healthz /readyz /livez /version /api /apis
    GET|POST <collection>          list (or watch=1) | create
    GET|PUT|DELETE <object>        get | update (also /status) | delete
    POST <pod>/binding             the scheduler's bind
    POST <serviceaccount>/token    TokenRequest: a token for the ServiceAccount (the kubelet's)
    POST /lab/v1/apply             an all-or-nothing batch
    POST|DELETE /lab/v1/agents/N   an agent reports the resourceVersion it applied | leaves
    GET /lab/v1/agents             what every agent reported
    GET /lab/v1/converged          wait until every agent applied the newest version

Every answer to a bad request is a `Status` with a 4xx, never a 500: the body must be a JSON
object (no NaN, at most MAX_NESTING_DEPTH deep, at most 3 MiB, JSON by its Content-Type),
and every field and query parameter the handler reads is checked, the wrong type answered
in Go's decoder's words (`json: cannot unmarshal string into Go struct field ...`).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from lab_kit.api import authn, queries
from lab_kit.api.limits import check_media_type, err_request_entity_too_large
from lab_kit.api.paths import RequestInfo, parse_path
from lab_kit.api.registry import Registry
from lab_kit.api.warning import warning_headers
from lab_kit.model import constants as C
from lab_kit.model.errors import (
    ApiError,
    err_bad_request,
    err_invalid,
    err_method_not_allowed,
    not_supported,
)
from lab_kit.model.kinds import KINDS, Kind
from lab_kit.model.manifests import json_type
from lab_kit.store.store import Event

VERSION = {"major": "1", "minor": "33", "gitVersion": "v1.33.0-lab_kit", "platform": "linux/amd64"}


@dataclass(frozen=True)
class Reply:
    """A status and a JSON body. The body may be the stored object itself (the store never
    changes a stored dict): serialize it, never modify it. `warnings`: the values of the
    `Warning` headers to send (`299 - "..."`, what the request's writes were warned about)."""

    status: int
    body: Any
    warnings: tuple[str, ...] = ()


class AgentReports:
    """Which resourceVersion each agent has applied; lets clients wait for convergence.

    Listeners (`subscribe`) are called after every report or goodbye, so a server can wake
    whoever waits for convergence."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.applied: dict[str, dict] = {}
        self.clock = clock
        self._listeners: list[Callable[[], None]] = []

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()

    def report(self, name: str, rv: int, info: dict) -> None:
        self.applied[name] = {
            "name": name,
            "appliedResourceVersion": rv,
            "lastReport": self.clock(),
            **info,
        }
        self._changed()

    def forget(self, name: str) -> None:
        self.applied.pop(name, None)
        self._changed()

    def behind(
        self, rv: int, pod_exists: Callable[[str, str], bool] = lambda ns, name: True
    ) -> list[str]:
        """Agents that have not applied `rv`. An agent that runs in a pod (its report says
        `pod: <namespace>/<name>`, as cluster DNS does) stops counting once its Pod is gone,
        so a deleted or replaced pod never holds convergence up."""
        out = []
        for name, a in self.applied.items():
            ns, _, pod = (a.get("pod") or "").partition("/")
            if a["appliedResourceVersion"] < rv and (not pod or pod_exists(ns, pod)):
                out.append(name)
        return sorted(out)


@dataclass
class WatchStream:
    """One watch's events, decided without I/O. The server writes `start()`'s payloads,
    then for each store event `offer(event)`'s, and `idle()`'s whenever no event waits (a
    BOOKMARK after events this watch filtered out, so the client learns the version)."""

    kind: Kind
    keep: Callable[[dict], bool]
    bookmarks: bool
    timeout_s: float | None
    backlog: list[Event]
    last_sent: int = 0
    pending_bookmark: int = 0

    def start(self) -> list[dict]:
        out = [{"type": e.type, "object": e.obj} for e in self.backlog if self.keep(e.obj)]
        if self.backlog:
            self.last_sent = max(e.rv for e in self.backlog)
            if self.bookmarks:
                out.append(queries.bookmark(self.kind, self.last_sent))
        return out

    def offer(self, event: Event) -> list[dict]:
        if event.rv <= self.last_sent:
            return []  # already in the backlog
        etype = event_type_for(event, self.keep)
        if etype:
            self.last_sent = event.rv
            return [{"type": etype, "object": event.obj}]
        if self.bookmarks:
            self.pending_bookmark = event.rv
        return []

    def idle(self) -> list[dict]:
        if self.pending_bookmark > self.last_sent:
            self.last_sent = self.pending_bookmark
            return [queries.bookmark(self.kind, self.pending_bookmark)]
        return []


def event_type_for(event: Event, keep: Callable[[dict], bool]) -> str:
    """What a filtered watch sees: an object that stops matching is DELETED for it, one
    that starts matching is ADDED (as the API server's watch filtering does)."""
    now = keep(event.obj)
    if event.type != "MODIFIED":
        return event.type if now else ""
    before = event.prev is not None and keep(event.prev)
    if now:
        return "MODIFIED" if before else "ADDED"
    return "DELETED" if before else ""


@dataclass(frozen=True)
class ConvergedWait:
    """A `GET /lab/v1/converged`: the server re-checks `ApiHandler.convergence(agents)`
    whenever something changes, until it says converged or `timeout_s` passes."""

    timeout_s: float
    agents: list[str] = field(default_factory=list)


class ApiHandler:
    def __init__(self, registry: Registry, agents: AgentReports | None = None):
        self.registry = registry
        self.agents = agents or AgentReports(registry.clock)

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call `listener()` after every committed write and every agent report."""
        off_store = self.registry.store.subscribe(lambda _event: listener())
        off_agents = self.agents.subscribe(listener)

        def off() -> None:
            off_store()
            off_agents()

        return off

    def handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        body: bytes = b"",
        content_type: str = "",
    ) -> Reply | WatchStream | ConvergedWait:
        """One request. Every error is a `Status`: a malformed request is a 4xx, never a 500
        (`content_type`: the request's Content-Type header, "" when it sent none). A
        successful write carries its warnings, as kube-apiserver's recorder sends them."""
        self.registry.take_warnings()  # a new request: nothing carried over
        answer = self._handle(method, path, query, body, content_type)
        warnings = warning_headers(self.registry.take_warnings())
        if isinstance(answer, Reply) and answer.status < 400 and warnings:
            return replace(answer, warnings=tuple(warnings))
        return answer

    def _handle(
        self, method: str, path: str, query: Mapping[str, str], body: bytes, content_type: str
    ) -> Reply | WatchStream | ConvergedWait:
        try:
            if len(body) > C.MAX_REQUEST_BYTES:
                raise err_request_entity_too_large(C.MAX_REQUEST_BYTES)
            if body:
                check_media_type(content_type)
            path = path.rstrip("/") or "/"
            if path in ("/healthz", "/readyz", "/livez"):
                return Reply(200, "ok")
            if path == "/version":
                return Reply(200, VERSION)
            if path.startswith("/lab/v1/"):
                return self._lab(method, path[len("/lab/v1/") :], query, body)
            if path in ("/api", "/apis"):
                return Reply(200, discovery(path))
            return self._resource(method, parse_path(path), query, body)
        except ApiError as e:
            return Reply(e.code, e.status())

    def refuse(
        self, method: str, path: str, query: Mapping[str, str], authorization: str | None
    ) -> ApiError | None:
        """Authentication on the secure port (`authn.py`): None to serve the request, else
        the 401 or 403 to answer instead."""
        reg = self.registry
        if reg.token_issuer is None:
            return authn.unauthorized()
        try:
            user = authn.authenticate(authorization, reg.token_issuer, reg.clock(), reg.store.get)
        except ApiError as e:
            return e
        if user is authn.ANONYMOUS:
            return authn.forbid_anonymous(method, path, dict(query))
        return None  # RBAC is not checked: see authn.py

    def _resource(
        self, method: str, info: RequestInfo, q: Mapping[str, str], body: bytes
    ) -> Reply | WatchStream:
        reg = self.registry
        if method == "GET" and not info.name:
            if q.get("watch") in ("1", "true"):
                return self.watch(info, q)
            keep = queries.make_filter(
                info.kind, info.namespace, q.get("labelSelector", ""), q.get("fieldSelector", "")
            )
            items = [o for o in reg.list(info.kind, info.namespace) if keep(o)]
            return Reply(200, queries.list_envelope(info.kind, items, reg.store.rv))
        if method == "GET":
            return Reply(200, reg.get(info.kind, info.namespace or "", info.name))
        if method == "POST" and info.subresource == "binding":
            return Reply(201, reg.bind(info.namespace or "", info.name, _binding_target(body)))
        if method == "POST" and info.subresource == "token" and info.kind.kind == "ServiceAccount":
            return Reply(201, reg.create_token(info.namespace or "", info.name, _json(body)))
        if method == "POST" and not info.name:
            dry = _dry_run(q, "CreateOptions")
            return Reply(201, reg.create(_json(body), info.namespace, dry_run=dry))
        if method == "PUT" and info.name:
            dry = _dry_run(q, "UpdateOptions")
            obj = _named(_json(body), info.name)
            return Reply(
                200, reg.update(obj, info.namespace, subresource=info.subresource, dry_run=dry)
            )
        if method == "DELETE" and info.name:
            dry = _dry_run(q, "DeleteOptions")
            grace, uid = _delete_options(q, _json(body) if body else {})
            obj = reg.delete(
                info.kind,
                info.namespace or "",
                info.name,
                grace_period_s=grace,
                uid=uid,
                dry_run=dry,
            )
            return Reply(200, obj)
        raise err_method_not_allowed(
            f"the server does not allow this method on the requested resource ({method})"
        )

    def watch(self, info: RequestInfo, q: Mapping[str, str]) -> WatchStream:
        keep = queries.make_filter(
            info.kind, info.namespace, q.get("labelSelector", ""), q.get("fieldSelector", "")
        )
        since = _resource_version(q.get("resourceVersion", ""))
        timeout_s = _seconds(q, "timeoutSeconds", whole=True)
        store = self.registry.store
        if since == 0:
            backlog = [
                Event("ADDED", o, store.rv)
                for o in self.registry.list(info.kind, info.namespace)
                if keep(o)
            ]
        else:
            backlog = store.events_since(since)
        return WatchStream(
            info.kind,
            keep,
            q.get("allowWatchBookmarks") in ("1", "true"),
            timeout_s or None,
            backlog,
        )

    def _lab(
        self, method: str, path: str, q: Mapping[str, str], body: bytes
    ) -> Reply | ConvergedWait:
        reg = self.registry
        if path == "apply" and method == "POST":
            items, dry_run = _apply_request(_json(body))
            results = reg.apply(items, dry_run=dry_run)
            return Reply(
                200,
                {
                    "results": [{"action": a, "object": o} for a, o in results],
                    "resourceVersion": reg.store.rv,
                },
            )
        if path.startswith("agents/") and method == "DELETE":
            self.agents.forget(path[len("agents/") :])  # an agent that stops for good
            return Reply(200, {"ok": True})
        if path.startswith("agents/") and method == "POST":
            rv, info = _report(_json(body))
            self.agents.report(path[len("agents/") :], rv, info)
            return Reply(200, {"ok": True})
        if path == "agents":
            items = sorted(self.agents.applied.values(), key=lambda a: a["name"])
            return Reply(200, {"resourceVersion": reg.store.rv, "items": items})
        if path == "converged":
            need = [a for a in q.get("agents", "").split(",") if a]
            return ConvergedWait(_seconds(q, "timeoutSeconds", default=10), need)
        raise ApiError(404, "NotFound", f"no lab endpoint {path}")

    def convergence(self, agents: list[str]) -> dict:
        """Has every agent applied the store's newest version (and have the named ones
        reported at all)? The body `GET /lab/v1/converged` answers with."""
        rv = self.registry.store.rv
        missing = [a for a in agents if a not in self.agents.applied]
        behind = self.agents.behind(
            rv, lambda ns, name: self.registry.store.get("Pod", ns, name) is not None
        )
        if not behind and not missing:
            return {"converged": True, "resourceVersion": rv}
        return {"converged": False, "resourceVersion": rv, "behind": behind, "missing": missing}


# --- reading a request: every field it reads, checked (a 4xx, never a 500) ----------------

UNKNOWN_FORMAT = "the body of the request was in an unknown format"


def _json(body: bytes) -> dict:
    """A JSON object, as Go's decoder takes one: no NaN or Infinity, at most
    MAX_NESTING_DEPTH deep (Go's encoding/json: "exceeded max depth")."""
    try:
        value = json.loads(body or b"{}", parse_constant=_no_constant)
    except RecursionError:
        raise err_bad_request(f"{UNKNOWN_FORMAT}: exceeded max depth") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise err_bad_request(f"{UNKNOWN_FORMAT}: {e}") from e
    if not isinstance(value, dict):
        raise err_bad_request(f"{UNKNOWN_FORMAT}: not an object")
    if max(_depths(value)) > C.MAX_NESTING_DEPTH:
        raise err_bad_request(f"{UNKNOWN_FORMAT}: exceeded max depth of {C.MAX_NESTING_DEPTH}")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"invalid character '{name[0]}' looking for beginning of value")


def _depths(value: Any) -> Iterator[int]:
    """The depth of every object and array in a JSON value (no recursion: a hostile body
    is as deep as Python's JSON decoder goes)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            yield depth
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


def _cannot_unmarshal(value: Any, go_field: str, go_type: str) -> ApiError:
    """Go's encoding/json words for a field of the wrong type."""
    return err_bad_request(
        f"json: cannot unmarshal {json_type(value)} into Go struct field {go_field} of type {go_type}"
    )


def _int64(value: Any, go_field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not -(2**63) <= value < 2**63:
        raise _cannot_unmarshal(value, go_field, "int64")
    return value


def _query_int(q: Mapping[str, str], name: str) -> int | None:
    """An integer query parameter (kube-apiserver's parameter codec: int64)."""
    text = q.get(name)
    if text is None or text == "":
        return None
    try:
        return _int64(int(text, 10), name)
    except (ValueError, ApiError):
        raise err_bad_request(f'{name}: Invalid value: "{text}": must be an integer') from None


def _seconds(q: Mapping[str, str], name: str, default: float = 0, whole: bool = False) -> float:
    """A number of seconds: whole (a watch's timeoutSeconds is an int64) or not (the lab's
    converged wait); never negative, NaN or infinite."""
    text = q.get(name)
    if text is None or text == "":
        return default
    try:
        value = float(int(text, 10) if whole else float(text))
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        kind = "a whole number" if whole else "a number"
        raise err_bad_request(f'{name}: Invalid value: "{text}": must be {kind} of seconds, >= 0')
    return value


def _resource_version(text: str) -> int:
    """A watch's resourceVersion ("" or "0": from now, with the current objects; a version
    before the window, negative ones included, is the store's 410 Gone)."""
    if text == "":
        return 0
    try:
        return int(text, 10)
    except ValueError:
        raise err_bad_request(
            f'resourceVersion: Invalid value: "{text}": must be an integer'
        ) from None


def _dry_run(q: Mapping[str, str], options: str) -> bool:
    """`?dryRun=All` or nothing: any other value is the options' validation error."""
    value = q.get("dryRun")
    if value is None:
        return False
    if value != "All":
        error = not_supported("dryRun", [value], ["All"])
        raise err_invalid(options, "", [error], "meta.k8s.io")
    return True


def _named(obj: dict, name: str) -> dict:
    """A PUT's object, named as its URL names it (a metadata of the wrong type is left for
    the schema check to report)."""
    md = obj.setdefault("metadata", {})
    if isinstance(md, dict):
        if md.get("name", name) != name:
            raise err_bad_request("the name of the object does not match the name on the URL")
        md["name"] = name
    return obj


def _binding_target(body: bytes) -> str:
    target = _json(body).get("target") or {}
    if not isinstance(target, dict):
        raise _cannot_unmarshal(target, "Binding.target", "v1.ObjectReference")
    name = target.get("name", "")
    if not isinstance(name, str):
        raise _cannot_unmarshal(name, "ObjectReference.target.name", "string")
    return name


# The longest grace period Go's time.Duration can hold (in seconds).
MAX_GRACE_PERIOD_S = (2**63 - 1) // 1_000_000_000


def _delete_options(q: Mapping[str, str], options: dict) -> tuple[int | None, str]:
    """(gracePeriodSeconds, preconditions.uid) from the query or the DeleteOptions body.
    A negative grace period is 1 s, as `rest.BeforeDelete` makes it."""
    grace = _query_int(q, "gracePeriodSeconds")
    if grace is None and options.get("gracePeriodSeconds") is not None:
        grace = _int64(options["gracePeriodSeconds"], "DeleteOptions.gracePeriodSeconds")
    if grace is not None and grace > MAX_GRACE_PERIOD_S:
        raise err_bad_request(
            f"gracePeriodSeconds: Invalid value: {grace}: must be at most {MAX_GRACE_PERIOD_S}"
        )
    preconditions = options.get("preconditions") or {}
    if not isinstance(preconditions, dict):
        raise _cannot_unmarshal(preconditions, "DeleteOptions.preconditions", "v1.Preconditions")
    uid = preconditions.get("uid") or ""
    if not isinstance(uid, str):
        raise _cannot_unmarshal(uid, "Preconditions.uid", "types.UID")
    if grace is not None and grace < 0:
        grace = 1
    return grace, uid


def _apply_request(request: dict) -> tuple[list, bool]:
    """The lab's batch: `items` (a list; each item is checked by the registry, which names
    its index) and `dryRun` (a bool)."""
    items = request.get("items") or []
    if not isinstance(items, list):
        raise _cannot_unmarshal(items, "ApplyRequest.items", "[]runtime.RawExtension")
    dry_run = request.get("dryRun", False)
    if not isinstance(dry_run, bool):
        raise _cannot_unmarshal(dry_run, "ApplyRequest.dryRun", "bool")
    return items, dry_run


def _report(report: dict) -> tuple[int, dict]:
    """An agent's report: the resourceVersion it applied and what it says about it."""
    rv = _int64(report.get("resourceVersion", 0), "AgentReport.resourceVersion")
    info = report.get("info") or {}
    if not isinstance(info, dict):
        raise _cannot_unmarshal(info, "AgentReport.info", "map[string]interface {}")
    if not isinstance(info.get("pod", ""), str | None):  # read by `AgentReports.behind`
        raise _cannot_unmarshal(info["pod"], "AgentReport.info.pod", "string")
    return max(rv, 0), info


def discovery(path: str) -> dict:
    if path == "/api":
        return {"kind": "APIVersions", "versions": ["v1"]}
    groups = sorted({(k.group, k.version) for k in KINDS if k.group})
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [
            {
                "name": g,
                "versions": [{"groupVersion": f"{g}/{v}", "version": v}],
                "preferredVersion": {"groupVersion": f"{g}/{v}", "version": v},
            }
            for g, v in groups
        ],
    }
