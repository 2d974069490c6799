"""A client that sends requests to a Service one after another while its Deployment rolls,
and what it takes to say a rolling update is over: what counts the requests a rollout loses.

    loop = RequestLoop.start(lab, "client", ns, vip)   # in its pod, in a thread of ours
    loop.wait_answered()                               # traffic flows before anything moves
    roll(lab, ns, replicas, revision=1, pre_stop_s=5)  # every old pod gone, not just new Ready
    answers = loop.stop()                              # its stop file, then its output

The client is Python's http.client run by the machine's python3 in the pod (the pod's root is
an overlay of the machine's): a new connection per request, as `curl -m 2` makes, without a
process per request. It is bounded three ways: a count, a time limit and a stop file in its
own /tmp. The servers are agnhost netexec, which ends at once on SIGTERM (Go's default for a
program that does not ask for the signal), so without a preStop hook a deleted pod can close
its port before every kube-proxy has dropped it from its rules: the race a preStop sleep
closes. Used by benchmarks/rollout.py and tests/integration/test_termination.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lab_kit.lab import access
from lab_kit.lab.errors import LabError
from lab_kit.lab.lab import Lab

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"
STOP_FILE = "/tmp/stop"  # the client ends at its next request once this exists
ANSWERED_FILE = "/tmp/answered"  # made after the client's first answer

# One line per request: its start time (epoch seconds) and the answer (the server's
# hostname), or ERR and the failure's kind. `host` is an address, with ":port" if not 80.
CLIENT = r"""
import http.client, os, socket, sys, time
host, count, limit, stop, answered = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
end = time.time() + limit
for _ in range(count):
    if os.path.exists(stop) or time.time() > end:
        break
    t = time.time()
    c = http.client.HTTPConnection(host, timeout=2)
    try:
        c.request("GET", "/hostname")
        answer = c.getresponse().read().decode() or "EMPTY"
    except socket.timeout:
        answer = "ERR timeout"
    except ConnectionRefusedError:
        answer = "ERR refused"
    except (ConnectionResetError, http.client.RemoteDisconnected):
        answer = "ERR reset"
    except OSError as e:
        answer = f"ERR {type(e).__name__}"
    finally:
        c.close()
    if not answer.startswith("ERR") and not os.path.exists(answered):
        open(answered, "w").close()
    print(f"{t:.3f} {answer}")
"""


def client_argv(
    host: str,
    max_requests: int,
    max_seconds: float,
    stop: str = STOP_FILE,
    answered: str = ANSWERED_FILE,
) -> list[str]:
    limits = [str(max_requests), str(max_seconds), stop, answered]
    return ["python3", "-c", CLIENT, host, *limits]


def client_pod(ns: str, node: str = "node1") -> dict:
    container = {"name": "client", "image": "busybox", "command": ["sleep", "infinity"]}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "client", "namespace": ns},
        "spec": {"nodeSelector": {"kubernetes.io/hostname": node}, "containers": [container]},
    }


def web_service(ns: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": ns},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }


def web_deployment(ns: str, replicas: int, revision: int, pre_stop_s: int) -> dict:
    """`web`: agnhost netexec servers, Ready once /hostname answers (probed every second);
    `revision` makes a new pod template (so applying it starts a rolling update with the
    default strategy, maxSurge and maxUnavailable 25%); `pre_stop_s` 0 means no hook."""
    container: dict[str, Any] = {
        "name": "web",
        "image": AGNHOST,
        "args": ["netexec", "--http-port=8080", "--udp-port=-1"],
        "ports": [{"containerPort": 8080}],
        "env": [{"name": "REVISION", "value": str(revision)}],
        "readinessProbe": {"httpGet": {"path": "/hostname", "port": 8080}, "periodSeconds": 1},
    }
    if pre_stop_s:
        container["lifecycle"] = {"preStop": {"sleep": {"seconds": pre_stop_s}}}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": ns},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [container]},
            },
        },
    }


def revision_of(pod: dict) -> str:
    env = pod["spec"]["containers"][0].get("env") or []
    return next((e["value"] for e in env if e["name"] == "REVISION"), "")


def is_ready(pod: dict) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def rolled_out(pods: list[dict], replicas: int, revision: int) -> bool:
    """`replicas` Ready pods of this revision's template and no other pod left, terminating
    or not: stricter than `kubectl rollout status`, which returns while old pods still stop."""
    return (
        len(pods) == replicas
        and all(revision_of(p) == str(revision) and is_ready(p) for p in pods)
        and not any(p["metadata"].get("deletionTimestamp") for p in pods)
    )


def web_pods(lab: Lab, ns: str) -> list[dict]:
    return [p for p in lab.get("pods", namespace=ns, selector="app=web")]


def roll(
    lab: Lab,
    ns: str,
    replicas: int,
    revision: int,
    pre_stop_s: int,
    timeout_s: float = 120.0,
    each: Callable[[list[dict]], None] | None = None,
) -> None:
    """Apply `revision` and wait until it has rolled out (`each` sees the pods at every poll)."""
    lab.apply(web_deployment(ns, replicas, revision, pre_stop_s))
    deadline = time.monotonic() + timeout_s
    while not rolled_out(pods := web_pods(lab, ns), replicas, revision):
        if time.monotonic() > deadline:
            raise LabError(f"rollout {revision} of {ns}/web did not finish in {timeout_s:g} s")
        if each is not None:
            each(pods)
        time.sleep(0.05)  # the poll's period: nothing to watch from here


@dataclass(frozen=True)
class Answer:
    t: float  # when the request started (epoch seconds, the pod's clock: the machine's)
    text: str  # the server's hostname, or "ERR <kind>"

    @property
    def failed(self) -> bool:
        return self.text.startswith("ERR")


def parse(stdout: str) -> list[Answer]:
    """The client's lines; anything else (a traceback) is left out."""
    answers = []
    for line in stdout.splitlines():
        t, _, text = line.partition(" ")
        if t.replace(".", "", 1).isdigit() and text:
            answers.append(Answer(float(t), text))
    return answers


class RequestLoop:
    """The client running in `pod`, in a thread of ours, until `stop()`."""

    def __init__(self, lab: Lab, pod: str, ns: str, argv: list[str], timeout_s: float):
        self.lab, self.pod, self.ns = lab, pod, ns
        self.out: list[access.Completed] = []
        state = lab.sandbox(pod, ns)  # read here: the thread needs no API client of its own
        self.thread = threading.Thread(
            target=lambda: self.out.append(access.run_in_pod(state, None, argv, True, timeout_s)),
            daemon=True,
        )

    @classmethod
    def start(
        cls, lab: Lab, pod: str, ns: str, host: str, max_requests: int, max_seconds: float
    ) -> RequestLoop:
        loop = cls(lab, pod, ns, client_argv(host, max_requests, max_seconds), max_seconds + 30)
        loop.thread.start()
        return loop

    def wait_answered(self, timeout_s: float = 15.0) -> None:
        """Until the client has had its first answer (or it ended without one)."""
        deadline = time.monotonic() + timeout_s
        while self.lab.exec(self.pod, "test", "-e", ANSWERED_FILE, namespace=self.ns).returncode:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise LabError(f"the request loop in {self.ns}/{self.pod} got no answer")
            time.sleep(0.05)

    def stop(self) -> list[Answer]:
        self.lab.exec(self.pod, "touch", STOP_FILE, namespace=self.ns)
        self.thread.join()
        if not self.out:
            raise LabError(f"the request loop in {self.ns}/{self.pod} did not run")
        return parse(self.out[0].stdout)
