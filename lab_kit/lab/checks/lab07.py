"""Lab 07's checks: the book's exec readiness probe, a pod that fails it leaving the Service
(flagged in its EndpointSlice, gone from every node's rules, sent no traffic) while it runs on
and answers at its own address, and its return."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lab_kit.lab.checks._base import expect, passed

if TYPE_CHECKING:
    from lab_kit.lab.captures import CaptureGroup
    from lab_kit.lab.lab import Lab

SERVICE = "random-generator"
NODES = ("node1", "node2", "node3")
READY = {"ready": True, "serving": True, "terminating": False}
NOT_READY = {"ready": False, "serving": False, "terminating": False}


def endpoint_conditions(lab: Lab, service: str = SERVICE) -> dict[str, dict]:
    """{pod name: its endpoint's conditions} from the Service's EndpointSlices."""
    slices = lab.get("endpointslices", selector=f"kubernetes.io/service-name={service}")
    return {e["targetRef"]["name"]: e["conditions"] for s in slices for e in s["endpoints"]}


def check_probe_and_ready_endpoints(lab: Lab, pods: dict[str, dict]) -> str:
    """The pods carry the book's exec probe (`stat /opt/random-generator-ready`) every second,
    one failure counting; all three pods are ready endpoints of the Service. Returns its
    ClusterIP."""
    probe = pods[min(pods)]["spec"]["containers"][0]["readinessProbe"]
    command = probe["exec"]["command"]
    expect(command == ["stat", "/opt/random-generator-ready"],
           "the exec probe stat /opt/random-generator-ready", command)  # fmt: skip
    timing = (probe["periodSeconds"], probe["failureThreshold"])
    expect(timing == (1, 1), "probed every 1 s, 1 failure counting", timing)
    defaults = (probe["timeoutSeconds"], probe["successThreshold"])
    expect(defaults == (1, 1), "timeoutSeconds and successThreshold defaulted to 1", defaults)
    conditions = endpoint_conditions(lab)
    expect(len(pods) == 3, "3 pods", sorted(pods))
    expect(len(conditions) == 3, "3 endpoints", sorted(conditions))
    expect(all(c == READY for c in conditions.values()), "every endpoint ready", conditions)
    cluster_ip = lab.get("services", SERVICE)["spec"]["clusterIP"]
    passed(f"3 pods Ready, 3 ready endpoints behind {cluster_ip}")
    return cluster_ip


def check_every_pod_answered(answered: list[str], pods: dict[str, dict]) -> None:
    """Requests to the Service were answered by every pod and by nothing else (no failures).
    With 60 requests over 3 pods, a pod left out by chance has a probability of at most
    3 * (2/3)^60, about 1e-10."""
    expect(set(answered) == set(pods), f"answers from exactly {sorted(pods)}", sorted(set(answered)))  # fmt: skip
    counts = {pod: answered.count(pod) for pod in sorted(pods)}
    passed(f"{len(answered)} requests: {counts}")


def check_running_but_not_ready(lab: Lab, victim: str, took: float) -> None:
    """After the click: the ready file is gone, the app logged the toolbox's POST, and the pod
    still runs but is not Ready (ContainersNotReady), within 10 s."""
    toolbox_ip = lab.get("pods", "toolbox")["status"]["podIP"]
    test = lab.exec(victim, "test", "-e", "/opt/random-generator-ready").returncode
    expect(test == 1, "the ready file gone (test -e exits 1)", test)
    expect(f"POST /toggle-ready -> 200 ({toolbox_ip}:" in lab.logs(victim),
           f"the app logged POST /toggle-ready from the toolbox ({toolbox_ip})")  # fmt: skip
    pod = lab.get("pods", victim)
    ready = {c["type"]: c for c in pod["status"]["conditions"]}["Ready"]
    seen = (ready["status"], ready.get("reason"))
    expect(seen == ("False", "ContainersNotReady"), "Ready=False (ContainersNotReady)", seen)
    phase = pod["status"]["phase"]
    expect(phase == "Running", "the pod still Running", phase)
    container_ready = pod["status"]["containerStatuses"][0]["ready"]
    expect(container_ready is False, "its container not ready", container_ready)
    expect(took < 10, "out of rotation within 10 s", took)
    passed(f"{victim}: Running, but Ready={ready['status']} ({ready['reason']})")


def check_endpoint_flagged(lab: Lab, victim: str, pods: dict[str, dict],
                           pod_ips: dict[str, str]) -> None:  # fmt: skip
    """The EndpointSlice still lists every pod, the victim flagged ready: false and
    serving: false (not terminating), the others ready."""
    conditions = endpoint_conditions(lab)
    expect(set(conditions) == set(pods), "every pod still listed", sorted(conditions))
    expect(conditions[victim] == NOT_READY, f"{victim} not ready, not serving, not terminating",
           conditions[victim])  # fmt: skip
    others = {name: c for name, c in conditions.items() if name != victim}
    expect(all(c["ready"] for c in others.values()), "the other endpoints ready", others)
    passed(f"{victim} ({pod_ips[victim]}): {conditions[victim]}")


def check_dropped_on_every_node(lab: Lab, victim_ip: str, chain: str) -> None:
    """On node1, node2 and node3 the victim's address is in no rule: 2 DNAT rules are left and
    the KUBE-SVC chain picks between them with one 1/2 rule."""
    for node in NODES:
        rules = lab.service_rules(SERVICE, node=node)
        expect(victim_ip not in str(rules), f"{victim_ip} in no rule on {node}")
        dnats = sum("DNAT --to-destination" in r for r in rules.lines)
        expect(dnats == 2, f"2 DNAT rules on {node}", dnats)
        halves = sum("--probability 0.5" in r for r in rules.rules(chain))
        expect(halves == 1, f"one --probability 0.5 rule in {chain} on {node}", halves)
    passed(f"{victim_ip} is in no rule on node1, node2 or node3; 2 endpoints left")


def check_no_traffic_to_victim(answered: list[str], caps: CaptureGroup, victim: str,
                               pods: dict[str, dict]) -> None:  # fmt: skip
    """While not ready, every request was answered by the other two pods; the victim's capture
    holds no packet, and only the others saw new connections."""
    others = set(pods) - {victim}
    expect(victim not in answered, f"no answer from {victim}", answered.count(victim))
    expect("ERR" not in answered, "every request answered", answered.count("ERR"))
    expect(set(answered) == others, f"answers from both {sorted(others)}", sorted(set(answered)))
    victim_packets = caps[victim].packets()
    expect(not victim_packets, f"no packet captured on {victim}", len(victim_packets))
    with_connections = caps.with_connections()
    expect(with_connections == sorted(others), "connections only to the other pods",
           with_connections)  # fmt: skip
    counts = {pod: answered.count(pod) for pod in sorted(pods)}
    passed(f"{len(answered)} requests: {counts}; nothing reached {victim}")


def check_answers_directly(answered: list[str], victim: str, ip: str) -> None:
    """Called at its own address, the not-ready pod answers: it is out of the Service only."""
    expect(answered == [victim], f"the answer from {victim}", answered)
    passed(f"{victim} still answers at {ip}:8080")


def check_back_in_rules(lab: Lab, victim_ip: str, chain: str) -> None:
    """Every endpoint ready again, and on every node a DNAT to the victim again and the KUBE-SVC
    chain's 4 rules back (the mark for off-cluster clients, then one jump per endpoint)."""
    slices = lab.get("endpointslices", selector=f"kubernetes.io/service-name={SERVICE}")
    conditions = [e["conditions"] for s in slices for e in s["endpoints"]]
    expect(all(c["ready"] for c in conditions), "every endpoint ready", conditions)
    for node in NODES:
        rules = lab.service_rules(SERVICE, node=node)
        expect(f"--to-destination {victim_ip}:8080" in str(rules),
               f"a DNAT to {victim_ip}:8080 on {node}")  # fmt: skip
        count = len(rules.rules(chain))
        expect(count == 4, f"4 rules in {chain} on {node}", count)
    passed(f"{victim_ip} ready again and back in the rules on node1, node2 and node3")


def check_timeline(samples: list[tuple[float, str]], victim: str, off: float,
                   on: float) -> None:  # fmt: skip
    """All 180 requests answered; the victim answered before the first click and after the
    second, and nothing in between."""
    expect(len(samples) == 180, "180 requests", len(samples))
    errors = sum(p == "ERR" for _, p in samples)
    expect(errors == 0, "every request answered", errors)
    victim_times = [t for t, p in samples if p == victim]
    between = [t for t in victim_times if off < t < on]
    expect(not between, f"no answer from {victim} between {off:.1f} s and {on:.1f} s", between)
    expect(victim_times and min(victim_times) < off, f"answers from {victim} before {off:.1f} s",
           victim_times[:1])  # fmt: skip
    expect(max(victim_times) > on, f"answers from {victim} after {on:.1f} s", victim_times[-1:])
    passed(f"{victim}: {sum(t < off for t in victim_times)} answers before, 0 while not ready, "
           f"{sum(t > on for t in victim_times)} after")  # fmt: skip
