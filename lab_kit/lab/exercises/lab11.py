"""Lab 11's exercises: shop pointed at a name again, an alias for a Service in another namespace."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lab_kit.lab.exercises._base import Exercise, NotYet, settled

if TYPE_CHECKING:
    from lab_kit.lab.dns_view import DigResult
    from lab_kit.lab.lab import Lab

SHOP = "shop.default.svc.cluster.local"
ALIAS = "cluster-dns"
KUBE_DNS = "kube-dns.kube-system.svc.cluster.local"


def _services(lab: Lab, namespace: str = "default") -> dict[str, dict]:
    return {s["metadata"]["name"]: s for s in lab.get("services", namespace=namespace)}


def _ip_like(name: str) -> bool:
    return all(part.isdigit() for part in name.rstrip(".").split(".")) or ":" in name


def _chain(reply: DigResult) -> str:
    return " -> ".join([reply.answers[0][0], *(data for _, _, _, data in reply.answers)])


def _shop_named(lab: Lab) -> str:
    shop = _services(lab).get("shop")
    if shop is None or shop["spec"].get("type") != "ExternalName":
        raise NotYet("there is no ExternalName Service `shop`: apply one with a DNS name")
    target = shop["spec"].get("externalName", "")
    if _ip_like(target):
        raise NotYet(
            f"externalName is still {target!r}, an address: give it a name, e.g. api.example.com"
        )
    seen: dict[str, DigResult] = {}

    def resolves() -> bool:
        reply = seen["dig"] = lab.dig("toolbox", SHOP)
        return (reply.status == "NOERROR" and bool(reply.answers)
                and reply.answers[0][2:] == ("CNAME", target.rstrip(".") + ".")
                and reply.answers[-1][2] == "A")  # fmt: skip

    if not settled(lab, resolves):
        reply = seen["dig"]
        raise NotYet(
            f"cluster DNS answers {SHOP} with {reply.status} {reply.answers}: "
            f"is {target!r} a name the made-up internet knows (the zone in section 1)?"
        )
    reply = seen["dig"]
    curl = lab.exec("toolbox", "curl", "-s", "-m", "3", "http://shop/hostname")
    if curl.returncode != 0:
        raise NotYet(f"DNS resolves, but curl http://shop/hostname exits {curl.returncode}")
    return (f"{_chain(reply)} ({len(reply.answers)} records); curl http://shop/hostname "
            f"answered {curl.stdout.strip()!r} again")  # fmt: skip


def _alias(lab: Lab) -> str:
    alias = _services(lab).get(ALIAS)
    if alias is None:
        raise NotYet(
            f"no Service `{ALIAS}` in default: apply an ExternalName Service with "
            f"externalName: {KUBE_DNS}"
        )
    spec = alias["spec"]
    if spec.get("type") != "ExternalName" or spec.get("externalName", "").rstrip(".") != KUBE_DNS:
        raise NotYet(
            f"`{ALIAS}` is {spec.get('type')} -> {spec.get('externalName')!r}: "
            f"make it type ExternalName with externalName {KUBE_DNS}"
        )
    cluster_ip = lab.get("services", "kube-dns", namespace="kube-system")["spec"]["clusterIP"]
    fqdn = f"{ALIAS}.default.svc.cluster.local"
    seen: dict[str, DigResult] = {}

    def resolves() -> bool:
        reply = seen["dig"] = lab.dig("toolbox", fqdn)
        return reply.status == "NOERROR" and reply.addresses == [cluster_ip]

    if not settled(lab, resolves):
        reply = seen["dig"]
        raise NotYet(f"{fqdn} answers {reply.status} {reply.answers}: check again in a moment")
    reply = seen["dig"]
    if reply.answers[0][2:] != ("CNAME", KUBE_DNS + ".") or "aa" not in reply.flags:
        raise NotYet(f"{fqdn} answers {reply.answers}, not a CNAME to {KUBE_DNS}")
    hosts = lab.exec("toolbox", "getent", "hosts", ALIAS).stdout.split()
    if not hosts or hosts[0] != cluster_ip:
        raise NotYet(f"`getent hosts {ALIAS}` printed {hosts}: check again in a moment")
    return (f"{_chain(reply)}, all from cluster DNS itself (no upstream chase); "
            f"getent hosts {ALIAS} -> {cluster_ip}, kube-dns's ClusterIP")  # fmt: skip


EXERCISES = {
    "11.1": Exercise("A name again, not an IP", _shop_named),
    "11.2": Exercise("An alias for a Service in another namespace", _alias),
}
