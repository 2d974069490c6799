"""The cluster DNS server's pure core: what CoreDNS's `kubernetes` plugin answers, no sockets.

    names.py   how a query name is read (CoreDNS parse.go) and records are spelled
    views.py   the few fields of a Service / EndpointSlice that DNS reads
    zone.py    ClusterZone: Services, EndpointSlices, Pods indexed as cluster DNS reads them
    answer.py  answer(zone, query) -> Answer: records, NXDOMAIN vs NODATA, SOA, CNAME chase
    wire.py    parse_query (FORMERR / NOTIMP / silence for bad input), truncate_for_udp
    fast.py    FastPath: the common replies (A/AAAA, NXDOMAIN, NODATA) as bytes, no dnslib
    cache.py   the `cache` plugin's TTLs

The server around it (an agent) is a loop of:

    zone = ClusterZone.build(services, slices, pods, namespaces)     # first LIST
    zone.apply(kind, obj, deleted)                                   # each watch event
    result = answer(zone, datagram)
    if result.forward:  relay the datagram to the upstream resolver
    elif result.chase:  result = complete_chase(result, upstream reply for result.chase)
    data = result.pack()   # None: stay silent
    send truncate_for_udp(data) over UDP, or data over TCP

Facts and their sources: ../shared/reference/dns-ingress-registries.md, sections 1 and 2.
"""

from lab_kit.render.dns.answer import Answer, answer, complete_chase, load_balance
from lab_kit.render.dns.names import is_cluster_name, is_reverse_name
from lab_kit.render.dns.wire import parse_query, truncate_for_udp, udp_size
from lab_kit.render.dns.zone import KUBEADM_TTL_S, ClusterZone

__all__ = [
    "KUBEADM_TTL_S",
    "Answer",
    "ClusterZone",
    "answer",
    "complete_chase",
    "is_cluster_name",
    "is_reverse_name",
    "load_balance",
    "parse_query",
    "truncate_for_udp",
    "udp_size",
]
