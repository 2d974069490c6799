"""Lab 14's exercises: shop brought back from its 503, a rule for the bare `example.com`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lab_kit.lab.exercises._base import Exercise, NotYet, ready, settled

if TYPE_CHECKING:
    from lab_kit.lab.ingress_lab import Answers
    from lab_kit.lab.lab import Lab


def _address(lab: Lab) -> str:
    """The controller's LoadBalancer address (the one every Ingress publishes)."""
    svc = lab.get("services", "ingress-nginx-controller", namespace="ingress-nginx")
    return svc["status"]["loadBalancer"]["ingress"][0]["ip"]


def _shop_back(lab: Lab) -> str:
    from lab_kit.lab.ingress_lab import ask

    wanted = lab.get("deployments", "shop")["spec"].get("replicas") or 0
    if wanted < 2:
        raise NotYet(
            f"the shop Deployment wants {wanted} replicas: "
            "`!labkit scale deployment shop --replicas=2`"
        )
    address = _address(lab)
    seen: dict[str, Any] = {"pods": [], "answers": None}

    def served() -> bool:
        pods = sorted(
            p["metadata"]["name"] for p in lab.get("pods", selector="app=shop") if ready(p)
        )
        seen["pods"] = pods
        if len(pods) != wanted:
            return False
        # round robin over n pods (one nginx worker): 2n requests in a row reach every one
        answers = ask("client", address, [("shop.example.com", "/")] * (2 * wanted)
                      + [("www.example.com", "/api/orders")])  # fmt: skip
        seen["answers"] = answers
        return all(a.status == 200 and a.served_by == "shop" for a in answers) and {
            a.pod for a in answers[:-1]
        } == set(pods)

    if not settled(lab, served, 60):
        answers: Answers | None = seen["answers"]
        if answers is None:
            raise NotYet(
                f"{len(seen['pods'])} of {wanted} shop pods are Ready: give them a moment, "
                "then check again"
            )
        got = sorted({(a.host + a.path, a.status, a.pod or a.served_by) for a in answers})
        raise NotYet(
            f"the controller answered {got}: it may not have rendered the new pods yet; "
            "check again in a moment"
        )
    pods = seen["pods"]
    return (f"shop.example.com and www.example.com/api/orders answer 200 again, spread over "
            f"{len(pods)} shop pods {pods}: the 503 left with the empty upstream")  # fmt: skip


def _apex(lab: Lab) -> str:
    from lab_kit.lab.ingress_lab import ask

    hosts = {
        rule.get("host")
        for ing in lab.get("ingresses")
        for rule in (ing.get("spec") or {}).get("rules") or []
    }
    if "example.com" not in hosts:
        raise NotYet(
            f"no Ingress rule has host example.com (the hosts are {sorted(h or '*' for h in hosts)}): "
            "apply an Ingress with a rule for host `example.com` to the Service `web`"
        )
    address = _address(lab)
    seen: dict[str, Answers] = {}

    def answered() -> bool:
        seen["answers"] = ask("client", address, [("example.com", "/"), ("a.b.example.com", "/")])
        return seen["answers"][0].status == 200

    settled(lab, answered, 30)
    apex, deeper = seen["answers"]
    if apex.status != 200 or apex.served_by != "web":
        raise NotYet(
            f"example.com got {apex.status} from {apex.served_by}: route it to the Service `web` "
            "(port 80), and check again once the controller has reloaded"
        )
    if deeper.status == 404:
        rest = "a.b.example.com still 404: no rule names it, and *.example.com takes one label only"
    else:
        rest = f"a.b.example.com -> {deeper.status} ({deeper.served_by})"
    return f"example.com -> 200 from {apex.pod} (web), by a rule for that precise host; {rest}"


EXERCISES = {
    "14.1": Exercise("Back from 503", _shop_back),
    "14.2": Exercise("The bare domain", _apex),
}
