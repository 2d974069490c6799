"""Lab 05's exercises: a targetPort name no pod declares, more pods behind the other number."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lab_kit.lab.exercises._base import Exercise, NotYet, ready, settled

if TYPE_CHECKING:
    from lab_kit.lab.lab import Lab


def _web_slices(lab: Lab) -> list[dict]:
    return list(lab.get("endpointslices", selector="kubernetes.io/service-name=web"))


def _slice_port_names(lab: Lab) -> set[str]:
    return {p["name"] for s in _web_slices(lab) for p in s.get("ports") or []}


def _unknown_name(lab: Lab) -> str:
    ports = {p["name"]: p for p in lab.get("services", "web")["spec"]["ports"]}
    target = ports.get("https", {}).get("targetPort")
    if target != "tls":
        raise NotYet(f"port https's targetPort is {target!r}: set it to `tls` (a name no pod has)")
    if not settled(lab, lambda: "https" not in _slice_port_names(lab)):
        raise NotYet("the EndpointSlices still list port https: wait a moment and check again")
    cluster_ip = lab.get("services", "web")["spec"]["clusterIP"]
    url = f"http://{cluster_ip}:443/hostname"
    refused = lab.exec("toolbox", "curl", "-sS", "-m", "3", url)
    if refused.returncode != 7:  # curl's "couldn't connect": kube-proxy's REJECT
        raise NotYet(
            f"curl {url} exited {refused.returncode} ({refused.stderr.strip()!r}), "
            "not 7 (connection refused): kube-proxy may not have caught up yet"
        )
    http = lab.exec("toolbox", "curl", "-sS", "-m", "3", f"http://{cluster_ip}:80/hostname")
    if http.returncode != 0:
        raise NotYet(f"port 80 should still answer; curl exited {http.returncode}")
    return (f"the slices list only {sorted(_slice_port_names(lab))}; :443 is refused at once "
            f"(no endpoints for https), :80 still answers ({http.stdout.strip()})")  # fmt: skip


def _by_http_number(lab: Lab) -> dict[int, int]:
    """Ready endpoints per number that `http` resolves to."""
    found: dict[int, int] = {}
    for s in _web_slices(lab):
        numbers = [p["port"] for p in s.get("ports") or [] if p["name"] == "http"]
        for number in numbers:
            found[number] = found.get(number, 0) + sum(
                1 for e in s.get("endpoints") or [] if (e.get("conditions") or {}).get("ready")
            )
    return found


def _more_alt(lab: Lab) -> str:
    replicas = lab.get("deployments", "web-alt")["spec"].get("replicas")
    if replicas != 3:
        raise NotYet(
            f"web-alt has {replicas} replica(s): `!labkit scale deployment web-alt --replicas=3`"
        )

    def caught_up() -> bool:
        alt = [p for p in lab.get("pods", selector="track=alt") if ready(p)]
        return len(alt) == 3 and _by_http_number(lab).get(9090) == 3

    if not settled(lab, caught_up, timeout_s=60):
        raise NotYet(
            f"endpoints per http number are {_by_http_number(lab)}: still starting, check again"
        )
    counts = _by_http_number(lab)
    slices = len(_web_slices(lab))
    return (f"{slices} slices still (one per port mapping): http=8080 has {counts.get(8080, 0)} "
            f"endpoints, http=9090 has {counts[9090]}")  # fmt: skip


EXERCISES = {
    "05.1": Exercise("A targetPort no pod names", _unknown_name),
    "05.2": Exercise("More pods on the other number", _more_alt),
}
