"""A pod's resolv.conf, /etc/hosts and hostname.

Mirrors `kubernetes/kubernetes`:
- `pkg/kubelet/network/dns/dns.go`: GetPodDNS, getPodDNSType, parseResolvConf,
  generateSearchesForDNSClusterFirst, appendDNSConfig, mergeDNSOptions and the
  formDNS*FitsLimits truncation (limits from `pkg/apis/core/validation`);
- `pkg/kubelet/kubelet_pods.go`: GeneratePodHostNameAndDomain, truncatePodHostnameIfNeeded,
  managedHostsFileContent, nodeHostsFileContent, hostsEntriesFromHostAliases;
- `pkg/kubelet/util/util.go` GetNodenameForKernel (setHostnameAsFQDN);
and containerd's CRI plugin (`parseDNSOptions`) for how the resolv.conf text is written:
`search`, then `nameserver` lines, then `options`.

Leaves out: the kubelet's events themselves (their reason and message are returned in
`PodDNS.warnings` for the caller to record), IPv6 node addresses (`--resolv-conf=""` gives
`nameserver 127.0.0.1`), and hostnameOverride (alpha). Where Kubernetes goes through a Go
map (options merged by name) its order is unspecified; here the first occurrence keeps its
place and later values replace it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lab_kit.model import constants as C
from lab_kit.model import meta

MAX_NAMESERVERS = 3  # validation.MaxDNSNameservers
MAX_SEARCH_PATHS = 32  # validation.MaxDNSSearchPaths (6 before ExpandedDNSConfig)
MAX_SEARCH_CHARS = 2048  # validation.MaxDNSSearchListChars (256 before)
MAX_SEARCH_PATH_LEN = 253  # DNS1123SubdomainMaxLength: glibc aborts on longer search paths
DEFAULT_OPTIONS = ("ndots:5",)  # defaultDNSOptions for ClusterFirst
HOSTNAME_MAX_LEN = 63  # a DNS label
FQDN_MAX_LEN = 64  # the kernel's nodename field
_MISSING_CLUSTER_DNS = (
    'kubelet does not have ClusterDNS IP configured and cannot create Pod using "ClusterFirst" '
    'policy. Falling back to "Default" policy.'
)


@dataclass
class PodDNS:
    """runtimeapi.DNSConfig, plus the warning events (reason, message) kubelet emitted."""

    servers: list[str]
    searches: list[str]
    options: list[str]
    warnings: list[tuple[str, str]] = field(default_factory=list)


# --- resolv.conf -------------------------------------------------------------------------------


def parse_resolv_conf(text: str) -> PodDNS:
    """parseResolvConf: nameservers accumulate, the last `search` line wins (trailing dots
    trimmed, "." dropped), `options` accumulate with a later option replacing its name."""
    servers: list[str] = []
    searches: list[str] = []
    options: dict[str, str] = {}
    for line in text.split("\n"):
        fields = line.strip().split()
        if not fields or fields[0].startswith("#"):
            continue
        if fields[0] == "nameserver" and len(fields) >= 2:
            servers.append(fields[1])
        elif fields[0] == "search":
            searches = [s.removesuffix(".") for s in fields[1:] if s != "."]
        elif fields[0] == "options":
            options.update({opt.split(":")[0]: opt for opt in fields[1:]})
    return PodDNS(servers, searches, list(options.values()))


def _dns_type(pod: dict) -> str:
    """getPodDNSType: "Cluster", "Host" or "None"."""
    spec = meta.spec(pod)
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    if policy == "None":
        return "None"
    if policy == "ClusterFirstWithHostNet":
        return "Cluster"
    if policy == "ClusterFirst" and not spec.get("hostNetwork"):
        return "Cluster"
    if policy in ("ClusterFirst", "Default"):
        return "Host"  # ClusterFirst on the host network falls back to Default
    return "Cluster"  # an invalid policy (the API rejects it): kubelet logs and uses Cluster


def _host_config(node_resolv: str | None) -> PodDNS:
    """The node's settings; `None` stands for kubelet's `--resolv-conf=""`."""
    return PodDNS([], [], []) if node_resolv is None else parse_resolv_conf(node_resolv)


def _cluster_searches(host_searches: list[str], pod: dict, cluster_domain: str) -> list[str]:
    """generateSearchesForDNSClusterFirst: the cluster's three domains, then the node's."""
    if not cluster_domain:
        return list(host_searches)
    namespace = meta.namespace(pod)
    cluster = [f"{namespace}.svc.{cluster_domain}", f"svc.{cluster_domain}", cluster_domain]
    return _omit_duplicates(cluster + list(host_searches))


def _omit_duplicates(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def pod_dns(
    pod: dict, cluster_dns: list[str], cluster_domain: str, node_resolv: str | None
) -> PodDNS:
    """GetPodDNS: the DNS settings the sandbox gets.

    `node_resolv` is the text of the kubelet's `--resolv-conf` file (the node's
    resolv.conf), or None when that flag is "" (nameserver 127.0.0.1, search ".")."""
    base, warnings = _host_config(node_resolv), []
    kind = _dns_type(pod)
    if kind == "None":
        dns = PodDNS([], [], [])  # only dnsConfig counts
    elif kind == "Cluster" and cluster_dns:
        searches = _cluster_searches(base.searches, pod, cluster_domain)
        dns = PodDNS(list(cluster_dns), searches, list(DEFAULT_OPTIONS))  # host options replaced
    else:
        if kind == "Cluster":
            warnings.append(("MissingClusterDNS", _MISSING_CLUSTER_DNS))
        dns = base
        if node_resolv is None:
            dns = PodDNS(["127.0.0.1"], ["."], [])
    dns_config = meta.spec(pod).get("dnsConfig")
    if dns_config:
        dns = _append_dns_config(dns, dns_config)
    return _fit_limits(dns, warnings)


def _append_dns_config(dns: PodDNS, dns_config: dict) -> PodDNS:
    """appendDNSConfig: nameservers and searches appended without duplicates, options merged
    by name with the pod's value winning."""
    options = {opt.split(":", 1)[0]: opt.partition(":")[2] for opt in dns.options}
    for opt in dns_config.get("options") or []:
        options[opt.get("name", "")] = opt.get("value") or ""
    return PodDNS(
        _omit_duplicates(dns.servers + list(dns_config.get("nameservers") or [])),
        _omit_duplicates(dns.searches + list(dns_config.get("searches") or [])),
        [f"{name}:{value}" if value else name for name, value in options.items()],
    )


def _fit_limits(dns: PodDNS, warnings: list[tuple[str, str]]) -> PodDNS:
    """formDNSConfigFitsLimits: excess is dropped with a DNSConfigForming warning."""
    servers = dns.servers
    if len(servers) > MAX_NAMESERVERS:
        servers = servers[:MAX_NAMESERVERS]
        warnings.append(
            (
                "DNSConfigForming",
                "Nameserver limits were exceeded, some nameservers have been omitted, "
                f"the applied nameserver line is: {' '.join(servers)}",
            )
        )
    searches, exceeded = _fit_searches(dns.searches)
    if exceeded:
        warnings.append(
            (
                "DNSConfigForming",
                "Search Line limits were exceeded, some search paths have been omitted, "
                f"the applied search line is: {' '.join(searches)}",
            )
        )
    return PodDNS(servers, searches, dns.options, warnings)


def _fit_searches(searches: list[str]) -> tuple[list[str], bool]:
    """formDNSSearchFitsLimits: at most 32 paths, none over 253 characters, and the line
    at most 2048 characters (cutting whole domains from the end)."""
    kept = searches[:MAX_SEARCH_PATHS]
    fitting = [s for s in kept if len(s) <= MAX_SEARCH_PATH_LEN]
    exceeded = len(searches) > MAX_SEARCH_PATHS or len(fitting) < len(kept)
    while fitting and len(" ".join(fitting)) > MAX_SEARCH_CHARS:
        fitting.pop()
        exceeded = True
    return fitting, exceeded


def render_resolv_conf(dns: PodDNS) -> str:
    """containerd's parseDNSOptions: the file the container sees at /etc/resolv.conf."""
    text = ""
    if dns.searches:
        text += f"search {' '.join(dns.searches)}\n"
    for server in dns.servers:
        text += f"nameserver {server}\n"
    if dns.options:
        text += f"options {' '.join(dns.options)}\n"
    return text


def resolv_conf(
    pod: dict, cluster_dns: list[str], cluster_domain: str, node_resolv: str | None
) -> str:
    """The pod's /etc/resolv.conf (see pod_dns for the arguments)."""
    return render_resolv_conf(pod_dns(pod, cluster_dns, cluster_domain, node_resolv))


# --- hostname --------------------------------------------------------------------------------


def pod_hostname(pod: dict, cluster_domain: str = C.CLUSTER_DOMAIN) -> tuple[str, str]:
    """GeneratePodHostNameAndDomain: (hostname, domain).

    hostname = spec.hostname or the pod's name, cut to 63 characters without a trailing
    `-` or `.`; domain = `<subdomain>.<namespace>.svc.<cluster domain>` or ""."""
    spec = meta.spec(pod)
    hostname = spec.get("hostname") or meta.name(pod)
    if len(hostname) > HOSTNAME_MAX_LEN:
        hostname = hostname[:HOSTNAME_MAX_LEN].rstrip("-.")
    subdomain = spec.get("subdomain") or ""
    domain = f"{subdomain}.{meta.namespace(pod)}.svc.{cluster_domain}" if subdomain else ""
    return hostname, domain


def kernel_hostname(
    pod: dict, cluster_domain: str = C.CLUSTER_DOMAIN, node_hostname: str = ""
) -> str:
    """The sandbox's hostname (what `hostname` prints and HOSTNAME holds).

    GetNodenameForKernel: the FQDN when setHostnameAsFQDN and a subdomain are set, an error
    past 64 characters. hostNetwork pods keep the node's hostname."""
    if meta.spec(pod).get("hostNetwork"):
        return node_hostname
    hostname, domain = pod_hostname(pod, cluster_domain)
    if not (domain and meta.spec(pod).get("setHostnameAsFQDN")):
        return hostname
    fqdn = f"{hostname}.{domain}"
    if len(fqdn) > FQDN_MAX_LEN:
        raise ValueError(
            f"failed to construct FQDN from pod hostname and cluster domain, FQDN {fqdn} is too "
            f"long ({FQDN_MAX_LEN} characters is the max, {len(fqdn)} characters requested)"
        )
    return fqdn


# --- /etc/hosts ------------------------------------------------------------------------------


def hosts_file(
    pod: dict,
    pod_ip: str,
    cluster_domain: str,
    *,
    pod_ips: list[str] | None = None,
    node_hosts: str = "",
) -> str:
    """The kubelet-managed /etc/hosts (managedHostsFileContent).

    One line per pod IP (`pod_ips`, else `pod_ip`): `<ip>\\t<hostname>.<domain>\\t<hostname>`
    with a subdomain, `<ip>\\t<hostname>` without; then hostAliases. A hostNetwork pod gets
    the node's hosts file (`node_hosts`) under its own header instead."""
    aliases = _host_aliases(meta.spec(pod).get("hostAliases") or [])
    if meta.spec(pod).get("hostNetwork"):
        return "# Kubernetes-managed hosts file (host network).\n" + node_hosts + aliases
    hostname, domain = pod_hostname(pod, cluster_domain)
    names = f"{hostname}.{domain}\t{hostname}" if domain else hostname
    ips = pod_ips if pod_ips is not None else [pod_ip]
    return (
        "# Kubernetes-managed hosts file.\n"
        "127.0.0.1\tlocalhost\n"
        "::1\tlocalhost ip6-localhost ip6-loopback\n"
        "fe00::0\tip6-localnet\n"
        "fe00::0\tip6-mcastprefix\n"
        "fe00::1\tip6-allnodes\n"
        "fe00::2\tip6-allrouters\n" + "".join(f"{ip}\t{names}\n" for ip in ips if ip) + aliases
    )


def _host_aliases(aliases: list[dict]) -> str:
    """hostsEntriesFromHostAliases: a blank line, a comment, one line per IP."""
    if not aliases:
        return ""
    tab = "\t"
    lines = [f"{a.get('ip', '')}{tab}{tab.join(a.get('hostnames') or [])}\n" for a in aliases]
    return "\n# Entries added by HostAliases.\n" + "".join(lines)
