"""Lab 02's exercises: the book's port, a pod taken out of the Service by its label."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lab_kit.lab.exercises._base import Exercise, NotYet, ready, settled

if TYPE_CHECKING:
    from lab_kit.lab.lab import Lab


def _books_port(lab: Lab) -> str:
    svc = lab.get("services", "random-generator")
    ports = [p["port"] for p in svc["spec"]["ports"]]
    if ports != [8080]:
        raise NotYet(
            f"the Service's port is {ports}: apply the book's `manifests/book/service.yml`"
        )
    answer = lab.exec("toolbox", "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "3",
                      f"http://{svc['spec']['clusterIP']}:8080/")  # fmt: skip
    if answer.stdout != "200":
        raise NotYet(
            f"port 8080 of the ClusterIP answered {answer.stdout or answer.stderr!r}: wait a moment"
        )
    return f"{svc['spec']['clusterIP']}:8080 answers 200; port 80 is gone (the same ClusterIP, a new port)"


def _relabelled(lab: Lab) -> str:
    others = lab.get("pods", selector="app=other")
    if not others:
        raise NotYet("no pod has app=other: `!labkit label pod NAME app=other --overwrite`")

    def endpoints() -> list[str]:
        slices = lab.get("endpointslices", selector="kubernetes.io/service-name=random-generator")
        return [e["addresses"][0] for s in slices for e in s.get("endpoints") or []
                if (e.get("conditions") or {}).get("ready")]  # fmt: skip

    def caught_up() -> bool:
        pods = [p for p in lab.get("pods", selector="app=random-generator") if ready(p)]
        return len(pods) == 4 and len(endpoints()) == 4

    if not settled(lab, caught_up):
        raise NotYet(
            "the ReplicaSet and the EndpointSlice are still catching up: check again in a moment"
        )
    orphan = others[0]["status"]["podIP"]
    if orphan in endpoints():
        raise NotYet(f"{orphan} is still an endpoint: the slice should drop it within a second")
    return (f"{others[0]['metadata']['name']} ({orphan}) runs on, out of the Service; the ReplicaSet "
            "made a 4th pod, so 5 pods run and 4 are endpoints")  # fmt: skip


EXERCISES = {
    "02.1": Exercise("The book's port", _books_port),
    "02.2": Exercise("Out of the Service by a label", _relabelled),
}
