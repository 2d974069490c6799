"""kube-proxy's iptables-restore text for test fixtures, written the way its proxier writes it.

Only the parts the tracer tests need: ClusterIP services (cluster traffic policy, optional
ClientIP affinity) and services without endpoints. Chain names are kube-proxy's hashes
(sha256, base32, 16 characters), so the output for `ns4/svc4:p80` reproduces the expected
dump of kube-proxy's own proxier test, which `test_fixture_text` checks line for line.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field


def _suffix(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:16]


@dataclass
class Svc:
    name: str  # "<namespace>/<service>:<port name>"
    cluster_ip: str
    port: int
    endpoints: list[str] = field(default_factory=list)  # "ip:port"
    protocol: str = "tcp"
    affinity_seconds: int | None = None

    @property
    def svc_chain(self) -> str:
        return "KUBE-SVC-" + _suffix(self.name + self.protocol)

    def sep_chain(self, endpoint: str) -> str:
        return "KUBE-SEP-" + _suffix(self.name + self.protocol + endpoint)


def restore_text(services: list[Svc], cluster_cidr: str) -> str:
    """The filter and nat sections of one kube-proxy sync."""
    p = lambda svc: f"-m {svc.protocol} -p {svc.protocol}"  # noqa: E731
    filter_rules = [
        f'-A KUBE-SERVICES -m comment --comment "{s.name} has no endpoints" {p(s)} '
        f"-d {s.cluster_ip} --dport {s.port} -j REJECT"
        for s in services
        if not s.endpoints
    ]
    nat_chains = [":KUBE-SERVICES - [0:0]", ":KUBE-NODEPORTS - [0:0]"]
    nat_chains += [":KUBE-POSTROUTING - [0:0]", ":KUBE-MARK-MASQ - [0:0]"]
    nat_rules = [
        "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN",
        "-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000",
        '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" '
        "-j MASQUERADE --random-fully",
        "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000",
    ]
    for s in (s for s in services if s.endpoints):
        svc, eps = s.svc_chain, sorted(s.endpoints)
        nat_chains.append(f":{svc} - [0:0]")
        nat_chains += [f":{s.sep_chain(ep)} - [0:0]" for ep in eps]
        match = f"{p(s)} -d {s.cluster_ip} --dport {s.port}"
        nat_rules.append(
            f'-A KUBE-SERVICES -m comment --comment "{s.name} cluster IP" {match} -j {svc}'
        )
        nat_rules.append(
            f'-A {svc} -m comment --comment "{s.name} cluster IP" {match} ! -s {cluster_cidr} '
            "-j KUBE-MARK-MASQ"
        )
        if s.affinity_seconds:
            nat_rules += [
                f'-A {svc} -m comment --comment "{s.name} -> {ep}" -m recent --name '
                f"{s.sep_chain(ep)} --rcheck --seconds {s.affinity_seconds} --reap "
                f"-j {s.sep_chain(ep)}"
                for ep in eps
            ]
        for i, ep in enumerate(eps):
            left = len(eps) - i
            stat = f"-m statistic --mode random --probability {1 / left:0.10f} " if left > 1 else ""
            nat_rules.append(
                f'-A {svc} -m comment --comment "{s.name} -> {ep}" {stat}-j {s.sep_chain(ep)}'
            )
        for ep in eps:
            sep, ip = s.sep_chain(ep), ep.rsplit(":", 1)[0]
            recent = f"-m recent --name {sep} --set " if s.affinity_seconds else ""
            nat_rules.append(f"-A {sep} -m comment --comment {s.name} -s {ip} -j KUBE-MARK-MASQ")
            nat_rules.append(
                f"-A {sep} -m comment --comment {s.name} {recent}{p(s)} -j DNAT --to-destination {ep}"
            )
    nat_rules.append(
        '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be '
        'the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS'
    )
    filter_chains = [
        f":{c} - [0:0]"
        for c in (
            "KUBE-NODEPORTS",
            "KUBE-SERVICES",
            "KUBE-EXTERNAL-SERVICES",
            "KUBE-FIREWALL",
            "KUBE-FORWARD",
            "KUBE-PROXY-FIREWALL",
        )
    ]
    filter_rules += [
        '-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" '
        "-d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP",
        "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP",
        '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" '
        "-m mark --mark 0x4000/0x4000 -j ACCEPT",
        '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" '
        "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
    ]
    lines = ["*filter", *filter_chains, *filter_rules, "COMMIT"]
    lines += ["*nat", *nat_chains, *nat_rules, "COMMIT"]
    return "\n".join(lines) + "\n"


# The lab's addresses: node1 172.18.0.2 with pods 10.244.1.0/24, cluster CIDR 10.244.0.0/16.
LAB_SERVICES = [
    Svc(
        "default/web:http",
        "10.96.0.12",
        80,
        ["10.244.1.5:8080", "10.244.2.5:8080", "10.244.3.5:8080"],
    ),
    Svc(
        "default/sticky:http",
        "10.96.0.13",
        80,
        ["10.244.2.6:8080", "10.244.3.6:8080"],
        affinity_seconds=10800,
    ),
    Svc(
        "default/four:http",
        "10.96.0.14",
        80,
        ["10.244.1.7:8080", "10.244.2.7:8080", "10.244.3.7:8080", "10.244.3.8:8080"],
    ),
    Svc("default/dns:dns", "10.96.0.10", 53, ["10.244.2.9:53"], protocol="udp"),
    Svc("default/empty:http", "10.96.0.20", 80),
]
PROXIER_TEST_SERVICES = [
    Svc("ns6/svc6:p80", "172.30.0.46", 80),
    Svc("ns4/svc4:p80", "172.30.0.44", 80, ["10.180.0.4:80", "10.180.0.5:80"]),
]
