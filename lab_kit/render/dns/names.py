"""Cluster DNS names: how a query name is read, and how record names are spelled.

Mirrors CoreDNS `plugin/kubernetes/parse.go` (`parseRequest`), whose comment lists the
shapes a name under the cluster zone can take. Relative to `<zone>`, read right to left:

    svc | pod                                   -> nothing to look up (NODATA)
    <ns>.svc | <ns>.pod                         -> the namespace (NODATA if it exists)
    <service>.<ns>.svc                          -> a Service
    <endpoint>.<service>.<ns>.svc               -> one endpoint of a Service
    _<port>._<proto>.<service>.<ns>.svc         -> the ports of a Service (SRV)
    <a>-<b>-<c>-<d>.<ns>.pod                    -> a pod address ("pods insecure")

One label more than that is "too long" and NXDOMAIN; a rightmost label other than `svc`
or `pod` is NXDOMAIN too (`foo.cluster.local`). Wildcard labels (`*`, `any`) were removed
from CoreDNS in v1.9.0 and are not special here: they match nothing.

Labels are compared lower-cased (the spec: comparisons are case-insensitive), but a name
in an answer keeps the spelling of the question, as CoreDNS does.
"""

from __future__ import annotations

import ipaddress
import re
from typing import NamedTuple

from dnslib import DNSLabel

Labels = tuple[str, ...]  # lower-cased labels of a name, leftmost first, no root label

SVC = "svc"
POD = "pod"
DNS_VERSION_LABEL = "dns-version"
IN_ADDR_ARPA: Labels = ("in-addr", "arpa")
IP6_ARPA: Labels = ("ip6", "arpa")
_REVERSE_ZONES = (IN_ADDR_ARPA, IP6_ARPA)
# IPv4 in the one spelling `ipaddress` accepts (decimal, no leading zeros): a regex is
# several times quicker than ipaddress, and anything it does not match goes to ipaddress.
_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
_DASHED_IPV4 = re.compile(rf"{_OCTET}(?:-{_OCTET}){{3}}")


class Request(NamedTuple):  # a tuple: made for every query, 3x quicker than a dataclass
    """What a query name asks for (CoreDNS's `recordRequest`); empty strings are "not given"."""

    kind: str = ""  # "svc", "pod", or "" for the apex, `svc.<zone>` and `pod.<zone>`
    namespace: str = ""
    service: str = ""  # for pods: the dashed address label
    endpoint: str = ""
    port: str = ""  # without its underscore
    protocol: str = ""  # without its underscore, e.g. "tcp"


def split(name: DNSLabel | str) -> tuple[tuple[bytes, ...], Labels]:
    """(labels as sent, labels lower-cased as text) of a name from a query or an object."""
    raw = name.label if isinstance(name, DNSLabel) else DNSLabel(name).label
    # ASCII lower-casing only: DNS case-insensitivity is defined for ASCII letters.
    return raw, tuple(label.lower().decode("ascii", "replace") for label in raw)


def parse_request(relative: Labels) -> Request | None:
    """Read a name below the cluster zone (labels relative to it); None = NXDOMAIN."""
    if not relative or relative in ((SVC,), (POD,)):
        return Request()
    *rest, kind = relative
    if kind not in (SVC, POD):
        return None
    namespace = rest.pop() if rest else ""
    service = rest.pop() if rest else ""
    if not rest:
        return Request(kind, namespace, service)
    if len(rest) == 1:
        return Request(kind, namespace, service, endpoint=rest[0])
    if len(rest) == 2:
        # Two labels left are a port and a protocol, underscores or not (as CoreDNS without
        # multicluster): `a.b.web.default.svc` asks for port "a", protocol "b".
        port, protocol = rest
        return Request(kind, namespace, service, port=_unscore(port), protocol=_unscore(protocol))
    return None  # too long


def _unscore(label: str) -> str:
    """Drop one leading underscore (CoreDNS `stripUnderscore`)."""
    return label[1:] if label.startswith("_") else label


def dashed_ip(ip: str) -> str:
    """The system-assigned endpoint name CoreDNS uses when an endpoint has no hostname."""
    return ip.replace(".", "-") if "." in ip else ip.replace(":", "-")


def pod_label_ip(label: str) -> str | None:
    """The address spelled by a pod label (`10-244-1-5` -> `10.244.1.5`), or None.

    As CoreDNS: exactly three dashes and no `--` is read as IPv4, anything else as IPv6
    with `-` for `:`. A label that does not spell an address is NXDOMAIN.
    """
    if _DASHED_IPV4.fullmatch(label):
        return label.replace("-", ".")  # what str(ipaddress.ip_address(...)) gives
    if label.count("-") == 3 and "--" not in label:
        text = label.replace("-", ".")
    else:
        text = label.replace("-", ":")
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def reverse_ipv4(relative: Labels) -> str | None:
    """The IPv4 address of `<d>.<c>.<b>.<a>` (labels relative to in-addr.arpa), or None."""
    if len(relative) != 4:
        return None
    try:
        return str(ipaddress.IPv4Address(".".join(reversed(relative))))
    except ValueError:
        return None


def address_from_reverse(labels: Labels) -> str | None:
    """The address a whole reverse name spells (dnsutil.ExtractAddressFromReverse), or None.

    `1.0.96.10.in-addr.arpa` -> 10.96.0.1; under ip6.arpa the nibbles, reversed, are read
    in groups of four (32 of them spell an address). Shorter names spell no address.
    """
    if len(labels) > len(IN_ADDR_ARPA) and labels[-2:] == IN_ADDR_ARPA:
        return reverse_ipv4(labels[:-2])
    if len(labels) > len(IP6_ARPA) and labels[-2:] == IP6_ARPA:
        nibbles = labels[-3::-1]
        groups = ["".join(nibbles[i : i + 4]) for i in range(0, len(nibbles) - 3, 4)]
        try:
            return str(ipaddress.IPv6Address(":".join(groups)))
        except ValueError:
            return None
    return None


def ptr_name(ip: str) -> str:
    """`10.96.0.1` -> `1.0.96.10.in-addr.arpa.`"""
    return ipaddress.ip_address(ip).reverse_pointer + "."


def is_ipv4(text: str) -> bool:
    if _IPV4.fullmatch(text):
        return True
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def is_ip(text: str) -> bool:
    if _IPV4.fullmatch(text):
        return True
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def domain_labels(domain: str) -> Labels:
    """`Cluster.Local.` -> ("cluster", "local")."""
    return tuple(part.lower() for part in domain.strip(".").split(".") if part)


def is_under(labels: Labels, zone: Labels) -> bool:
    """True when `labels` is `zone` itself or a name below it."""
    return len(labels) >= len(zone) and labels[len(labels) - len(zone) :] == zone


def is_cluster_name(qname: DNSLabel | str, domain: str = "cluster.local") -> bool:
    """True for the cluster domain and every name below it.

    Reverse names (`in-addr.arpa`) are not cluster names: CoreDNS (kubeadm's Corefile)
    answers a PTR for an address it knows and lets every other reverse query fall through
    to `forward`. `answer()` makes that decision and says so with `Answer.forward`.
    """
    return is_under(split(qname)[1], domain_labels(domain))


def is_reverse_name(qname: DNSLabel | str) -> bool:
    return is_reverse(split(qname)[1])


def is_reverse(labels: Labels) -> bool:
    """A name under in-addr.arpa or ip6.arpa (dnsutil.IsReverse)."""
    return tuple(labels[-2:]) in _REVERSE_ZONES  # both zones are two labels long
