"""Reading a Corefile: the parts of CoreDNS's configuration the lab's cluster DNS honours.

kubeadm's Corefile (kubernetes/kubernetes `cmd/kubeadm/app/phases/addons/dns/manifests.go`)
is `KUBEADM_COREFILE` below. Its server block is a list of plugins, one per line, each
optionally followed by a `{ ... }` block of options (Caddyfile syntax). What is read:

    kubernetes ZONES { pods MODE; ttl N; fallthrough ZONES }   the cluster zone
    forward . TO...                                             upstream resolvers
    cache SECONDS { disable success|denial ZONES }              caching of upstream answers
    loadbalance                                                  shuffle A/AAAA answers
    health / ready / prometheus                                  :8080 /health, :8181 /ready, :9153

Other plugins (errors, loop, reload, log, ...) are accepted and reported in `ignored`.
A Corefile that would not load in CoreDNS (an unknown `pods` mode, a bad ttl, an unclosed
block) raises CorefileError with CoreDNS's "Corefile:LINE - Error during parsing" wording.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

KUBEADM_COREFILE = """\
.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30 {
       disable success cluster.local
       disable denial cluster.local
    }
    loop
    reload
    loadbalance
}
"""

POD_MODES = ("disabled", "insecure", "verified")
_TOKEN = re.compile(r"[{}]|[^\s{}]+")


class CorefileError(ValueError):
    """The Corefile would not load (CoreDNS refuses to start, or keeps the old one on reload)."""


@dataclass
class Corefile:
    port: int = 53
    domain: str = "cluster.local"
    ttl: int = 5  # the kubernetes plugin's own default; kubeadm's Corefile says 30
    pods_mode: str = "disabled"  # the plugin's default; kubeadm's Corefile says insecure
    forward_to: list[str] = field(default_factory=list)  # "/etc/resolv.conf" or addresses
    cache_s: int = 0  # 0: no cache plugin
    cache_disabled: dict[str, list[str]] = field(default_factory=dict)  # success/denial -> zones
    loadbalance: bool = False
    health_port: int | None = None
    ready_port: int | None = None
    metrics_port: int | None = None
    ignored: list[str] = field(default_factory=list)


@dataclass
class _Directive:
    name: str
    args: list[str]
    line: int
    block: list[_Directive] = field(default_factory=list)


def parse(text: str) -> Corefile:
    """The first server block of `text`."""
    lines = _tokens(text)
    if not lines:
        raise CorefileError("Corefile:1 - Error during parsing: no server block")
    (line, first), rest = lines[0], lines[1:]
    if not first or first[-1] != "{":
        raise CorefileError(f"Corefile:{line} - Error during parsing: expected a server block")
    keys = first[:-1]
    directives, rest = _block(rest, line)
    config = Corefile(port=_server_port(keys, line))
    for d in directives:
        _apply(config, d)
    return config


def _tokens(text: str) -> list[tuple[int, list[str]]]:
    """(line number, tokens) of non-empty lines, comments removed; `{`/`}` are own tokens."""
    out = []
    for number, raw in enumerate(text.splitlines(), 1):
        tokens = _TOKEN.findall(raw.split("#", 1)[0])
        if tokens:
            out.append((number, tokens))
    return out


def _block(lines: list[tuple[int, list[str]]], opened_at: int):
    """Directives up to the matching `}`; returns them and the lines after it."""
    directives: list[_Directive] = []
    while lines:
        (line, tokens), lines = lines[0], lines[1:]
        if tokens == ["}"]:
            return directives, lines
        if "}" in tokens or tokens.count("{") > 1 or ("{" in tokens and tokens[-1] != "{"):
            raise CorefileError(f"Corefile:{line} - Error during parsing: unexpected brace")
        if tokens[-1] == "{":
            d = _Directive(tokens[0], tokens[1:-1], line)
            d.block, lines = _block(lines, line)
        else:
            d = _Directive(tokens[0], tokens[1:], line)
        directives.append(d)
    raise CorefileError(f"Corefile:{opened_at} - Error during parsing: unmatched open brace")


def _server_port(keys: list[str], line: int) -> int:
    port = 53
    for key in keys:
        _, colon, number = key.rpartition(":")
        if colon:
            if not number.isdigit() or not 0 < int(number) < 65536:
                raise CorefileError(f"Corefile:{line} - Error during parsing: bad port {number!r}")
            port = int(number)
    return port


def _error(d: _Directive, message: str) -> CorefileError:
    return CorefileError(f"plugin/{d.name}: Corefile:{d.line} - Error during parsing: {message}")


def _apply(config: Corefile, d: _Directive) -> None:
    if d.name == "kubernetes":
        zones = [z.rstrip(".").lower() for z in d.args if not z.endswith("arpa")]
        if zones:
            config.domain = zones[0]
        for option in d.block:
            if option.name == "pods":
                if len(option.args) != 1 or option.args[0] not in POD_MODES:
                    raise _error(option, f"wrong value for pods: {' '.join(option.args)}, "
                                         "must be one of: disabled, verified, insecure")  # fmt: skip
                config.pods_mode = option.args[0]
            elif option.name == "ttl":
                value = option.args[0] if len(option.args) == 1 else ""
                if not value.isdigit() or not 0 <= int(value) <= 3600:
                    raise _error(option, f"ttl must be in range [0, 3600]: {value}")
                config.ttl = int(value)
    elif d.name == "forward":
        if len(d.args) < 2:
            raise _error(d, "Wrong argument count or unexpected line ending")
        config.forward_to = d.args[1:]
    elif d.name == "cache":
        config.cache_s = int(d.args[0]) if d.args and d.args[0].isdigit() else 3600
        for option in d.block:
            if option.name == "disable" and option.args:
                config.cache_disabled[option.args[0]] = [
                    z.rstrip(".").lower() for z in option.args[1:]
                ]
    elif d.name == "loadbalance":
        config.loadbalance = True
    elif d.name == "health":
        config.health_port = _listen_port(d, 8080)
    elif d.name == "ready":
        config.ready_port = _listen_port(d, 8181)
    elif d.name == "prometheus":
        config.metrics_port = _listen_port(d, 9153)
    else:
        config.ignored.append(d.name)


def _listen_port(d: _Directive, default: int) -> int:
    if not d.args:
        return default
    _, _, port = d.args[0].rpartition(":")
    if not port.isdigit():
        raise _error(d, f"bad listen address {d.args[0]!r}")
    return int(port)
