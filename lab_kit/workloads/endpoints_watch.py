"""The consumer's cache again, filled by the Kubernetes API instead of a registry: list and
watch the EndpointSlices of a Service, with the standard in-cluster configuration and
nothing else (what client-go's rest.InClusterConfig and Spring Cloud Kubernetes read):

    KUBERNETES_SERVICE_HOST, KUBERNETES_SERVICE_PORT       where the API is (10.96.0.1:443)
    /var/run/secrets/kubernetes.io/serviceaccount/token    Authorization: Bearer <token>
    .../ca.crt                                             the CA the API's certificate is from
    .../namespace                                          the pod's own namespace

    GET .../endpointslices?labelSelector=kubernetes.io/service-name=<svc>   -> resourceVersion
    GET ...&watch=1&resourceVersion=<rv>   one JSON event per line: ADDED, MODIFIED, DELETED
    (410 Gone or a broken stream: list again)

Ready endpoints only (conditions.ready true, or absent: the spec reads absent as ready).
No heartbeats and no leases: the kubelet's readiness probe and the EndpointSlice controller
decide, and the change arrives as it is made. Same interface as `RegistryCache`.
"""

from __future__ import annotations

import builtins
import itertools
import json
import os
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.client import HTTPException, HTTPSConnection

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
RETRY_S = 1.0


def ready_addresses(slices: dict[str, dict], port_name: str | None = None) -> list[str]:
    """`ip:port` of the ready endpoints of the Service's slices (the first port, or the one
    named `port_name`)."""
    out: set[str] = set()
    for s in slices.values():
        ports = [p for p in s.get("ports") or [] if port_name is None or p.get("name") == port_name]
        if not ports or ports[0].get("port") is None:
            continue
        for ep in s.get("endpoints") or []:
            if (ep.get("conditions") or {}).get("ready") is False:
                continue
            out.update(f"{a}:{ports[0]['port']}" for a in ep.get("addresses") or [])
    return sorted(out)


@dataclass
class EndpointsWatch:
    service: str
    log: Callable[[str], None] = print
    sa_dir: str = SA_DIR
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    clock: Callable[[], float] = time.time
    instances: builtins.list[str] = field(default_factory=list)
    fetched_at: float = 0.0  # the last list or event
    last_error: str = ""
    slices: dict[str, dict] = field(default_factory=dict)
    _turn: itertools.count = field(default_factory=itertools.count)
    _stop: threading.Event = field(default_factory=threading.Event)
    _conn: HTTPSConnection | None = None

    def _file(self, name: str) -> str:
        with open(os.path.join(self.sa_dir, name)) as f:
            return f.read().strip()

    def _connect(self) -> HTTPSConnection:
        host = self.env["KUBERNETES_SERVICE_HOST"]
        port = int(self.env.get("KUBERNETES_SERVICE_PORT", "443"))
        context = ssl.create_default_context(cafile=os.path.join(self.sa_dir, "ca.crt"))
        return HTTPSConnection(host, port, context=context, timeout=None)

    def _path(self, query: dict[str, str]) -> str:
        ns = self._file("namespace")
        selector = f"kubernetes.io/service-name={self.service}"
        q = urllib.parse.urlencode({"labelSelector": selector, **query})
        return f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices?{q}"

    def _get(self, conn: HTTPSConnection, query: dict[str, str]):
        conn.request("GET", self._path(query), headers={
            "Authorization": f"Bearer {self._file('token')}", "Accept": "application/json"})  # fmt: skip
        return conn.getresponse()

    def list(self) -> str:
        conn = self._connect()
        try:
            response = self._get(conn, {})
            body = json.loads(response.read())
        finally:
            conn.close()
        if response.status != 200:
            raise OSError(f"{response.status} {body.get('message', '')}")
        self.slices = {s["metadata"]["name"]: s for s in body.get("items") or []}
        self._changed()
        return body["metadata"]["resourceVersion"]

    def watch(self, rv: str) -> None:
        """Follow the watch until it ends (410, the server's timeout, or stop())."""
        self._conn = conn = self._connect()
        try:
            response = self._get(conn, {"watch": "1", "resourceVersion": rv,
                                        "allowWatchBookmarks": "true"})  # fmt: skip
            if response.status != 200:
                raise OSError(f"watch: {response.status}")
            while not self._stop.is_set():
                line = response.readline()
                if not line:
                    return
                if line.strip():
                    self._apply(json.loads(line))
        finally:
            conn.close()

    def _apply(self, event: dict) -> None:
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            raise OSError(f"watch error: {obj.get('message', '')}")
        if kind == "BOOKMARK":
            return
        name = obj["metadata"]["name"]
        if kind == "DELETED":
            self.slices.pop(name, None)
        else:
            self.slices[name] = obj
        self._changed()

    def _changed(self) -> None:
        found = ready_addresses(self.slices)
        if found != self.instances:
            self.log(f"endpoints of {self.service}: {found}")
        self.instances, self.fetched_at, self.last_error = found, self.clock(), ""

    def choose(self) -> builtins.list[str]:
        if not self.instances:
            return []
        start = next(self._turn) % len(self.instances)
        return self.instances[start:] + self.instances[:start]

    def refresh_now(self) -> None:
        """Nothing to refresh: a watch hears changes as they happen (kept for the interface)."""

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self.watch(self.list())
            except (OSError, ValueError, KeyError, HTTPException) as e:
                if self._stop.is_set():
                    return
                self.last_error = str(e)  # the cache stays as it was
                self.log(f"watch of {self.service} failed: {e}; listing again in {RETRY_S} s")
                self._stop.wait(RETRY_S)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="endpointslice-watch", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()
        if self._conn is not None:
            self._conn.close()
