"""Knative Serving seen from the lab: calls from outside through the ingress (timed, one at
a time or all at once), what a Revision has over time, and how a Route's split came out.

    gateway = ingress_address(lab)                      # the ingress' LoadBalancer address
    calls = call(gateway, "hello.default.example.com", count=10, parallel=True)
    calls.statuses(), calls.seconds()                   # [200, ...], [1.52, ...]
    with Watcher(lab, "hello-00001") as w:              # pods, ready pods, SKS mode, wanted
        ...
    w.samples                                # [(t, pods, ready, mode, desired, held)]
    split(calls)                                        # {"Hello v1!": 452, "Hello v2!": 48}

Each batch of calls is one shell on the outside host `client` (a curl per request, `&` for
parallel ones), so a cold start is measured as the client sees it.
"""

from __future__ import annotations

import json
import re
import shlex
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lab_kit.api.printers import format_table
from lab_kit.lab.access import run_on_host

if TYPE_CHECKING:
    from lab_kit.lab.lab import Lab

RESULT = re.compile(r"<<(\d{3}) ([0-9.]+)>>")
INGRESS = ("ingress-nginx", "ingress-nginx-controller")


@dataclass(frozen=True)
class Call:
    status: int  # 0: no HTTP answer
    seconds: float  # curl's time_total
    body: str


class Calls(list):
    """Calls that print as a table: STATUS, SECONDS, ANSWER."""

    def statuses(self) -> list[int]:
        return [c.status for c in self]

    def seconds(self) -> list[float]:
        return [c.seconds for c in self]

    def __str__(self) -> str:
        rows = [[str(c.status), f"{c.seconds:.3f}", c.body.strip()[:60]] for c in self]
        return format_table([["STATUS", "SECONDS", "ANSWER"], *rows])

    __repr__ = __str__


def ingress_address(lab: Lab) -> str:
    """The address the ingress addon's LoadBalancer Service got."""
    svc = lab.get("services", INGRESS[1], namespace=INGRESS[0])
    return svc["status"]["loadBalancer"]["ingress"][0]["ip"]


def call(address: str, host: str, count: int = 1, parallel: bool = False, path: str = "/",
         timeout_s: float = 30, client: str = "client") -> Calls:  # fmt: skip
    """`count` GETs of http://address/path with Host `host` from the outside host, one after
    another or all at once; in the order they were sent."""
    each = (f"curl -s -m {timeout_s:g} -H {shlex.quote('Host: ' + host)} "
            f"-w '<<%{{http_code}} %{{time_total}}>>' {shlex.quote(f'http://{address}{path}')}")  # fmt: skip
    if parallel:
        script = "".join(f"( {each} > $d/{i} ) & " for i in range(count)) + "wait; "
        script = f"d=$(mktemp -d); {script} for i in $(seq 0 {count - 1}); do cat $d/$i; echo; done; rm -r $d"
    else:
        script = f"for i in $(seq {count}); do {each}; echo; done"
    out = run_on_host(client, ["sh", "-c", script], timeout_s=count * (timeout_s + 1) + 10)
    calls = Calls()
    for chunk in out.stdout.split(">>\n"):
        if "<<" not in chunk:
            continue
        body, _, tail = chunk.rpartition("<<")
        match = RESULT.match("<<" + tail + ">>")
        if match:
            calls.append(Call(int(match.group(1)), float(match.group(2)), body))
    if len(calls) != count:
        raise RuntimeError(f"{count} calls, {len(calls)} answers: {out.stderr.strip()[:300]}")
    return calls


def split(calls: Calls) -> dict[str, int]:
    """How many calls each distinct answer got (the body tells the Revision)."""
    return dict(Counter(c.body.strip() for c in calls if c.status == 200))


def revision_pods(lab: Lab, revision: str) -> list[dict]:
    return list(lab.get("pods", selector=f"serving.knative.dev/revision={revision}"))


def _ready(pod: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])  # fmt: skip


def wait_ready(lab: Lab, service: str, revision: str = "", timeout_s: float = 60) -> dict:
    """Wait until the Knative Service is Ready (its Route too) and, if named, `revision`
    is in its traffic; the Service as it is then."""
    t0 = time.monotonic()
    while True:
        ksvc = lab.get("ksvc", service)
        status = ksvc.get("status") or {}
        named = [t.get("revisionName") for t in status.get("traffic") or []]
        if _ready(ksvc) and status.get("observedGeneration") == ksvc["metadata"].get("generation") \
                and (not revision or revision in named):  # fmt: skip
            return ksvc
        if time.monotonic() - t0 > timeout_s:
            raise TimeoutError(f"Knative Service {service} not Ready with {revision or 'traffic'} "
                               f"after {timeout_s} s: {status.get('conditions')}")  # fmt: skip
        time.sleep(0.2)


def wait_pods(lab: Lab, revision: str, count: int, timeout_s: float = 60) -> float:
    """Wait until `revision` has exactly `count` pods (all ready); seconds it took."""
    t0 = time.monotonic()
    while True:
        pods = revision_pods(lab, revision)
        if len(pods) == count and all(_ready(p) for p in pods):
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout_s:
            names = [p["metadata"]["name"] for p in pods]
            raise TimeoutError(
                f"{revision}: {len(pods)} pods ({names}), not {count} ready, after {timeout_s} s"
            )
        time.sleep(0.2)


def activator_held(lab: Lab, revision: str, namespace: str = "default") -> int:
    """Requests the activator holds for `revision` right now (asked from node1: the
    activator's image has no shell to ask from inside)."""
    pods = lab.get("pods", namespace="knative-serving", selector="app=activator")
    total = 0
    for pod in pods:
        ip = (pod.get("status") or {}).get("podIP")
        if ip:
            out = run_on_host(
                "node1", ["curl", "-s", "-m", "1", f"http://{ip}:9090/held"], timeout_s=5
            )
            try:
                total += int(json.loads(out.stdout or "{}").get(f"{namespace}/{revision}", 0))
            except ValueError:
                pass
    return total


class Watcher:
    """Samples a Revision every `period_s` in a thread while the `with` block runs:
    (seconds since start, pods, ready pods, the SKS mode, the autoscaler's desiredScale,
    requests the activator holds)."""

    def __init__(self, lab: Lab, revision: str, period_s: float = 0.25):
        self.lab, self.revision, self.period_s = lab, revision, period_s
        self.samples: list[tuple[float, int, int, str, int, int]] = []
        self.marks: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.t0 = time.monotonic()

    def mark(self, label: str) -> None:
        self.marks.append((time.monotonic() - self.t0, label))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                pods = revision_pods(self.lab, self.revision)
                sks = self.lab.get("serverlessservices", self.revision)
                pa = self.lab.get("podautoscalers", self.revision)
                desired = int((pa.get("status") or {}).get("desiredScale", -1))
                held = activator_held(self.lab, self.revision)
                self.samples.append((time.monotonic() - self.t0, len(pods), sum(_ready(p) for p in pods),
                                     sks["spec"]["mode"], desired, held))  # fmt: skip
            except Exception:  # the API busy for a moment: the next sample catches up
                pass
            self._stop.wait(self.period_s)

    def __enter__(self) -> Watcher:
        self.t0 = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
