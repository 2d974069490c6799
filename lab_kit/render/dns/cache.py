"""The `cache` plugin's view of a reply: how long it may be kept, and the TTLs it goes out with.

Mirrors CoreDNS `plugin/cache/cache.go` (ResponseWriter.WriteMsg, computeTTL) and
`plugin/pkg/dnsutil/ttl.go` (MinimalTTL). Every reply that passes the plugin — kubeadm's
`cache 30` sits in front of everything — leaves with *all* its records' TTLs set to one
value: the reply's smallest TTL (for NXDOMAIN / NODATA, the SOA's TTL or minimum, whichever
is smaller) clamped to [5, 30]. `disable success|denial cluster.local` only stops the
plugin *storing* cluster answers; their TTLs are still clamped. So with `ttl 30` cluster
answers keep 30, while an upstream record published with 300 reaches pods with 30.
"""

from __future__ import annotations

from dnslib import QTYPE, RCODE, DNSRecord

MIN_TTL_S = 5  # the cache plugin's default MINTTL for success and denial
NO_RECORDS_TTL_S = 3600  # dnsutil.MaximumDefaulTTL: a reply without records
FAILURE_TTL_S = 5  # servfail's default: how long a SERVFAIL is kept


def reply_ttl(reply: DNSRecord) -> int:
    """dnsutil.MinimalTTL: the TTL a reply as a whole may be believed for."""
    if reply.header.rcode == RCODE.NXDOMAIN or (
        reply.header.rcode == RCODE.NOERROR and not reply.rr
    ):
        soas = [min(r.ttl, r.rdata.times[-1]) for r in reply.auth if r.rtype == QTYPE.SOA]
        if soas:
            return min(soas)
    ttls = [r.ttl for r in reply.rr + reply.auth + reply.ar if r.rtype != QTYPE.OPT]
    return min(ttls) if ttls else NO_RECORDS_TTL_S


def cache_ttl(reply: DNSRecord, max_s: int) -> int:
    """computeTTL: seconds the plugin keeps (and states for) this reply."""
    if reply.header.rcode not in (RCODE.NOERROR, RCODE.NXDOMAIN):
        return FAILURE_TTL_S if reply.header.rcode == RCODE.SERVFAIL else 0
    return capped(reply_ttl(reply), max_s)


def capped(ttl: int, max_s: int) -> int:
    """computeTTL's clamp of a reply's TTL (NOERROR or NXDOMAIN) to [MIN_TTL_S, max_s]."""
    return max(MIN_TTL_S, min(ttl, max_s)) if max_s >= MIN_TTL_S else max_s


def set_ttls(reply: DNSRecord, ttl: int) -> None:
    """filterRRSlice: every record but the OPT pseudo-record gets `ttl`."""
    for record in reply.rr + reply.auth + reply.ar:
        if record.rtype != QTYPE.OPT:
            record.ttl = ttl
