"""Reading a client-side discovery setup for lab 01: the Eureka registry's view, the
consumer's cache and calls, and a timeline of both.

    reg = Registry(lab)              # the eureka pod of the Deployment `eureka`
    reg.instances()                  # {"10.244.1.3:8080": "UP", ...}  (GET /eureka/apps)
    reg.events(since=t0)             # registered / cancelled / evicted / self-preservation
    con = Consumer(lab, "consumer")  # the lab-kit/discovery-client pod
    con.cache(); con.refresh(); con.calls(since=t0)
    wait_for(lambda: ..., "what", timeout_s=20)
    timeline(lab, calls, t0, marks)  # who answered each call, failed attempts in red

Everything is read through `kubectl exec`-style commands in the pods (curl on their
loopback), so nothing of the machine's namespace touches the lab's network.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lab_kit.lab import plots
from lab_kit.lab.errors import LabError

if TYPE_CHECKING:
    from lab_kit.lab.lab import Lab

POLL_S = 0.2


def _curl_json(
    lab: Lab, pod: str, url: str, method: str = "GET", namespace: str = "default"
) -> Any:
    done = lab.exec(pod, "curl", "-sS", "--max-time", "3", "-X", method,
                    "-H", "Accept: application/json", url, namespace=namespace)  # fmt: skip
    if done.returncode != 0:
        raise LabError(f"{pod}: {url}: {done.stderr.strip() or done.returncode}")
    return json.loads(done.stdout) if done.stdout.strip() else None


def wait_for(predicate: Callable[[], Any], what: str, timeout_s: float = 30) -> Any:
    """Poll until `predicate()` is truthy (returns it), or a LabError naming `what`; a
    LabError from the predicate counts as not yet."""
    deadline, last = time.monotonic() + timeout_s, ""
    while True:
        try:
            value = predicate()
        except LabError as e:  # not there yet (a pod starting, a server not listening)
            value, last = None, f" (last: {e})"
        if value:
            return value
        if time.monotonic() > deadline:
            raise LabError(f"timed out after {timeout_s:g} s waiting for {what}{last}")
        time.sleep(POLL_S)


class Registry:
    """The Eureka server of the Deployment `eureka` (whichever pod runs it now)."""

    def __init__(self, lab: Lab, selector: str = "app=eureka", namespace: str = "default"):
        self.lab, self.selector, self.namespace = lab, selector, namespace

    @property
    def pod(self) -> str:
        pods = [p for p in self.lab.get("pods", selector=self.selector, namespace=self.namespace)
                if p.get("status", {}).get("phase") == "Running"
                and not p["metadata"].get("deletionTimestamp")]  # fmt: skip
        if not pods:
            raise LabError("the registry is not running")
        return pods[0]["metadata"]["name"]

    def apps(self) -> dict:
        return _curl_json(
            self.lab, self.pod, "http://localhost:8761/eureka/apps", namespace=self.namespace
        )

    def instances(self) -> dict[str, str]:
        """ip:port -> status of every RANDOM-GENERATOR instance the registry lists."""
        out = {}
        for app in self.apps()["applications"]["application"]:
            for inst in app["instance"]:
                out[f"{inst['ipAddr']}:{inst['port']['$']}"] = inst["status"]
        return dict(sorted(out.items()))

    def events(self, since: float = 0) -> list[dict]:
        found = _curl_json(
            self.lab, self.pod, "http://localhost:8761/lab/events", namespace=self.namespace
        )
        return [e for e in found if e["t"] >= since]

    def dashboard(self) -> str:
        done = self.lab.exec(self.pod, "curl", "-sS", "--max-time", "3", "http://localhost:8761/",
                             namespace=self.namespace)  # fmt: skip
        return done.stdout


class Consumer:
    """The lab-kit/discovery-client pod: its cache and the calls it made."""

    def __init__(self, lab: Lab, pod: str = "consumer", namespace: str = "default"):
        self.lab, self.pod, self.namespace = lab, pod, namespace

    def cache(self) -> dict:
        return _curl_json(
            self.lab, self.pod, "http://localhost:9090/cache", namespace=self.namespace
        )

    def refresh(self) -> None:
        _curl_json(self.lab, self.pod, "http://localhost:9090/refresh", "POST", self.namespace)

    def calls(self, since: float = 0) -> list[dict]:
        found = _curl_json(
            self.lab, self.pod, "http://localhost:9090/calls", namespace=self.namespace
        )
        return [c for c in found if c["t"] >= since]


def pod_names(lab: Lab, namespace: str = "default") -> dict[str, str]:
    """Pod IP -> pod name, for every pod the lab knows (also those that finished)."""
    return {p["status"]["podIP"]: p["metadata"]["name"]
            for p in lab.get("pods", namespace=namespace)
            if p.get("status", {}).get("podIP")}  # fmt: skip


def who(call: dict, names: dict[str, str]) -> str:
    """A call as a timeline row: the pod that answered, or ERR for a failed attempt."""
    if not call["ok"]:
        return "ERR"
    ip = call["instance"].rpartition(":")[0]
    return names.get(ip, ip)


def timeline(lab: Lab, calls: list[dict], t0: float, marks: list[tuple[float, str]],
             title: str, names: dict[str, str] | None = None):  # fmt: skip
    """The consumer's calls since t0 by who answered, failed attempts in red; marks are
    (absolute time, label)."""
    names = names or pod_names(lab)
    samples = [(c["t"] - t0, who(c, names)) for c in calls if c["t"] >= t0]
    return plots.failover(samples, title, [(t - t0, label) for t, label in marks])


def failed(calls: list[dict]) -> list[dict]:
    return [c for c in calls if not c["ok"]]


def answered_by(calls: list[dict], names: dict[str, str]) -> set[str]:
    return {who(c, names) for c in calls if c["ok"]}


def producer(name: str, source: str = "manifests/registry/producers.yml") -> dict:
    """One more producer Pod like those of producers.yml, named `name`."""
    import yaml

    with open(source) as f:
        first = next(d for d in yaml.safe_load_all(f) if d)
    first["metadata"]["name"] = name
    return first
