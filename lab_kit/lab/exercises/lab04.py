"""Lab 04's exercises: a deleted Service gone from DNS at once, a pod with ndots:1."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lab_kit.lab.exercises._base import Exercise, NotYet, ready, settled

if TYPE_CHECKING:
    from lab_kit.lab.lab import Lab

LATE = "random-generator-late.default.svc.cluster.local"


def _gone(lab: Lab) -> str:
    if [s for s in lab.get("services") if s["metadata"]["name"] == "random-generator-late"]:
        raise NotYet(
            "the Service random-generator-late still exists: "
            "`!labkit delete service random-generator-late`"
        )
    if not settled(lab, lambda: lab.dig("toolbox", LATE).status == "NXDOMAIN", 10):
        raise NotYet(f"{LATE} still answers {lab.dig('toolbox', LATE).answers}: ask again")
    by_libc = lab.exec("toolbox", "getent", "hosts", "random-generator-late")
    if by_libc.returncode != 2:
        raise NotYet(
            f"getent hosts random-generator-late answered {by_libc.stdout.strip()!r} "
            f"(exit {by_libc.returncode}): ask again"
        )
    cluster_ip = lab.get("services", "random-generator")["spec"]["clusterIP"]
    still = lab.dig("toolbox", "random-generator", "+search").addresses
    if still != [cluster_ip]:
        raise NotYet(f"random-generator answers {still}, not {cluster_ip}: is the Service there?")
    return (f"{LATE}: NXDOMAIN, getent: not found (exit 2), with no pod restarted; "
            f"random-generator still {cluster_ip}")  # fmt: skip


def _ndots(lab: Lab) -> str:
    def ndots(pod: dict) -> str | None:
        options = ((pod["spec"].get("dnsConfig") or {}).get("options")) or []
        return next((o.get("value") for o in options if o.get("name") == "ndots"), None)

    pods = [p for p in lab.get("pods") if ndots(p) is not None
            and not p["metadata"].get("deletionTimestamp")]  # fmt: skip
    if not pods:
        raise NotYet(
            "no pod sets dnsConfig.options ndots: apply a copy of manifests/toolbox.yml named "
            'ndots-one with `dnsConfig: {options: [{name: ndots, value: "1"}]}` in its spec'
        )
    pod, value = pods[0]["metadata"]["name"], ndots(pods[0])
    if value != "1":
        raise NotYet(f'{pod} sets ndots to {value!r}: make it "1"')
    if not settled(lab, lambda: ready(lab.get("pods", pod)), 30):
        raise NotYet(f"{pod} is not Ready yet: check again in a moment")
    resolv = lab.exec(pod, "cat", "/etc/resolv.conf").stdout
    if "options ndots:1" not in resolv.splitlines():
        raise NotYet(f"{pod}'s resolv.conf has no `options ndots:1`: {resolv!r}")
    with lab.capture(pod, packet_filter="udp port 53") as cap:
        outside = lab.exec(pod, "getent", "ahosts", "example.com")
    asked = cap.packets().dns_queries()
    if outside.returncode != 0 or {name for _, name in asked} != {"example.com."}:
        raise NotYet(f"getent ahosts example.com in {pod} asked {asked}: run the check again")
    cluster_ip = lab.get("services", "random-generator")["spec"]["clusterIP"]
    short = lab.exec(pod, "getent", "hosts", "random-generator").stdout.split()
    if short[:1] != [cluster_ip]:
        raise NotYet(f"getent hosts random-generator in {pod} answered {short}, not {cluster_ip}")
    return (f"{pod}: example.com cost {len(asked)} questions, all for example.com. (8 with "
            f"ndots:5); random-generator, with no dot, still resolves to {cluster_ip} through "
            "the search list")  # fmt: skip


EXERCISES = {
    "04.1": Exercise("Gone from DNS at once", _gone),
    "04.2": Exercise("Fewer questions with ndots:1", _ndots),
}
