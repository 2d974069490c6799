"""Lab 16's checks: Knative's parts running, a Service's objects, scale to zero behind the
activator, a cold start held, a burst scaled up, a 90/10 split and min-scale."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lab_kit.lab.checks._base import expect, passed

if TYPE_CHECKING:
    from lab_kit.lab.knative_lab import Calls
    from lab_kit.lab.lab import Lab

LOCAL_GATEWAY = "knative-local-gateway.knative-serving.svc.cluster.local"


def check_knative_installed(lab: Lab, address: str) -> None:
    """The activator, autoscaler and gateway run; the lab's short autoscaler windows are in
    its ConfigMap; outside traffic comes through ingress-nginx's LoadBalancer."""
    parts = {p["metadata"]["labels"]["app"] for p in lab.get("pods", namespace="knative-serving")}
    expect(parts == {"activator", "autoscaler", "knative-gateway"}, "Knative's three parts", parts)
    config = lab.get("configmaps", "config-autoscaler", namespace="knative-serving")["data"]
    windows = (config["stable-window"], config["scale-to-zero-grace-period"])
    expect(windows == ("6s", "6s"), "stable window and grace period of 6 s", windows)
    kind = lab.get("services", "ingress-nginx-controller", namespace="ingress-nginx")["spec"][
        "type"
    ]
    expect(kind == "LoadBalancer", "the ingress controller behind a LoadBalancer", kind)
    passed(f"activator, autoscaler, gateway running; the way in from outside: {address}")


def check_objects_of_a_service(lab: Lab) -> None:
    """Service -> Configuration -> Revision -> Deployment with the queue-proxy; the Route
    sends 100 % to the Revision; the name is an ExternalName to the local gateway; the
    Revision's Service has no selector (the SKS manages its endpoints)."""
    spec = lab.get("deployments", "hello-00001-deployment")["spec"]["template"]["spec"]
    containers = [c["name"] for c in spec["containers"]]
    expect(
        containers == ["user-container", "queue-proxy"], "the app and its queue-proxy", containers
    )
    traffic = lab.get("routes", "hello")["status"]["traffic"]
    expect(traffic == [{"revisionName": "hello-00001", "latestRevision": True, "percent": 100}],
           "the Route: 100 % to hello-00001", traffic)  # fmt: skip
    external = lab.get("services", "hello")["spec"].get("externalName")
    expect(external == LOCAL_GATEWAY, f"hello is an ExternalName to {LOCAL_GATEWAY}", external)
    expect(
        "selector" not in lab.get("services", "hello-00001")["spec"],
        "hello-00001 without a selector",
    )
    passed("Service -> Configuration -> Revision hello-00001 -> Deployment (app + queue-proxy); "
           "Route -> 100 % hello-00001")  # fmt: skip


def check_answer(calls: Calls, host: str, address: str, body: str = "Hello v1!\n") -> None:
    expect(calls.statuses() == [200], "one 200", calls.statuses())
    expect(calls[0].body == body, f"the answer {body!r}", calls[0].body)
    passed(f"{host} via {address}: 200 {calls[0].body.strip()!r}")


def check_scaled_to_zero(lab: Lab, host: str, seconds: float) -> str:
    """Zero pods after the stable window and grace period; the Revision's endpoint is the
    activator (Proxy mode); the URL is unchanged. Returns the activator's address."""
    pod = lab.get("pods", namespace="knative-serving", selector="app=activator")[0]
    activator = pod["status"]["podIP"]
    public = [a["ip"] for a in lab.get("endpoints", "hello-00001")["subsets"][0]["addresses"]]
    expect(public == [activator], "hello-00001's endpoint is the activator", public)
    mode = lab.get("serverlessservices", "hello-00001")["spec"]["mode"]
    expect(mode == "Proxy", "the SKS in Proxy mode", mode)
    url = lab.get("ksvc", "hello")["status"]["url"]
    expect(url == f"http://{host}", "the same URL", url)
    expect(10 <= seconds <= 40, "zero after window (6 s) + grace (6 s) + a tick or two", seconds)
    passed(f"zero pods after {seconds:.0f} s idle; hello-00001's endpoint is the activator "
           f"({activator}); URL unchanged")  # fmt: skip
    return activator


def check_cold_start_held(lab: Lab, cold: Calls, packets, activator: str) -> None:
    """One 200; the capture shows the activator receiving the request from the gateway and
    connecting to the new pod only later: it held the request while the pod started."""
    pod = lab.get("pods", namespace="knative-serving", selector="app=knative-gateway")[0]
    gateway = pod["status"]["podIP"]
    syns = packets.syns()
    arrived = next(p for p in syns if p.src == gateway and p.dst == activator)
    forwarded = next(p for p in syns if p.src == activator)
    held = forwarded.time - arrived.time
    expect(cold.statuses() == [200] and cold[0].body == "Hello v1!\n", "one 200 from v1", cold)
    new_pod = lab.get("pods", selector="serving.knative.dev/revision=hello-00001")[0]
    expect(forwarded.dst == new_pod["status"]["podIP"], "forwarded to the new pod", forwarded.dst)
    expect(0.2 < held < cold[0].seconds, "held longer than 0.2 s, within the answer's time", held)
    passed(f"one 200 after {cold[0].seconds:.2f} s; the activator held it {held:.2f} s, "
           f"then connected to {forwarded.dst}")  # fmt: skip


def check_burst(answers: Calls, samples: list) -> None:
    """10 × 200; more than one pod, never beyond max-scale 5; the activator held the burst
    while there was no pod, then stepped out of the path (Serve)."""
    expect(answers.statuses() == [200] * 10, "10 × 200", answers.statuses())
    peak = max(s[1] for s in samples)
    expect(2 <= peak <= 5, "2 to 5 pods (max-scale 5)", peak)
    held = max(s[5] for s in samples)
    expect(held >= 5, "at least 5 requests held at once by the activator", held)
    expect(any(s[3] == "Serve" for s in samples), "the activator out of the path at some point")
    passed(f"10 x 200; up to {held} held at once; up to {peak} pods (max-scale 5); "
           "the activator left the path while they served, back to zero after")  # fmt: skip


def check_split(shares: dict[str, int], tagged: dict[str, int]) -> None:
    """500 answers, v2's share within 5 points of the 10 % asked; the tag reaches v2 only."""
    expect(sum(shares.values()) == 500, "500 answers", sum(shares.values()))
    v2 = shares.get("Hello v2!", 0)
    expect(abs(v2 / 500 - 0.10) <= 0.05, "v2 within 5 points of 10 %", v2)
    expect(tagged == {"Hello v2!": 5}, "candidate-hello always v2", tagged)
    passed(f"v2 got {v2 / 5:.1f} % of 500 (asked: 10 %); the tag always reaches v2")


def check_min_scale_kept(lab: Lab, samples: list) -> None:
    """min-scale 1: one pod through 20 idle seconds (after the first few samples)."""
    from lab_kit.lab.knative_lab import revision_pods

    expect(samples and all(s[2] == 1 for s in samples[4:]), "1 pod wanted throughout")
    pods = len(revision_pods(lab, "always-00001"))
    expect(pods == 1, "1 pod running", pods)
    passed("always-00001 kept its pod through 20 idle seconds")
