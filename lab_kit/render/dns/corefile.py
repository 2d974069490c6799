"""Reading a Corefile as CoreDNS 1.11.3 reads it: what loads, and what it refuses in its words.

Mirrors coredns/caddy v1.1.1's `caddyfile` package (the lexer: words split by white
space, `"quotes"`, `#` comments; the parser: server blocks of directives, each directive's
tokens up to the end of its line or its closing brace; the dispenser plugins read their
options with) and the setup functions of the plugins the lab reads. kubeadm's Corefile
(kubernetes/kubernetes `cmd/kubeadm/app/phases/addons/dns/manifests.go`) is
`KUBEADM_COREFILE` below. What is read:

    kubernetes ZONES { pods MODE; ttl N; fallthrough [ZONES] }   the cluster and reverse zones
    forward . TO...                                              upstream resolvers
    cache SECONDS { disable success|denial ZONES }               caching of upstream answers
    loadbalance / reload                                         shuffle A answers / follow edits
    health / ready / prometheus                                  :8080 /health, :8181 /ready, :9153

A Corefile CoreDNS would not load raises CorefileError with CoreDNS's message: syntax
(`/etc/coredns/Corefile:12 - Error during parsing: Unexpected EOF`), a plugin CoreDNS does
not have (`... Error during parsing: Unknown directive 'kubernets'`), an option its plugin
does not know or a bad value (`plugin/kubernetes: ... unknown property 'podz'`). As in
CoreDNS, plugins are set up in plugin.cfg's order, so the first refusal is in that order.
Other CoreDNS plugins (errors, loop, log, ...) are accepted unread and listed in `ignored`;
options CoreDNS knows but the lab does not implement are listed in `unsupported` (the
server logs both). Left out: `import` and snippets, several server blocks (only the first
is read; the others' plugin names are still checked), option checks of unread plugins.
"""

from __future__ import annotations

import ipaddress
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

# CoreDNS 1.11.3's plugins (core/dnsserver/zdirectives.go), in the order they are set up
# and chained: a name not here is an unknown directive.
DIRECTIVES = (
    "root", "metadata", "geoip", "cancel", "tls", "timeouts", "reload", "nsid", "bufsize",
    "bind", "debug", "trace", "ready", "health", "pprof", "prometheus", "errors", "log",
    "dnstap", "local", "dns64", "acl", "any", "chaos", "loadbalance", "tsig", "cache",
    "rewrite", "header", "dnssec", "autopath", "minimal", "template", "transfer", "hosts",
    "route53", "azure", "clouddns", "k8s_external", "kubernetes", "file", "auto", "secondary",
    "etcd", "loop", "forward", "grpc", "erratic", "whoami", "on", "sign", "view",
)  # fmt: skip
POD_MODES = ("disabled", "verified", "insecure")
REVERSE_SUFFIXES = ("in-addr.arpa", "ip6.arpa")
MAX_UPSTREAMS = 15  # forward's `max`
ERR_ONCE = "this plugin can only be used once per Server Block"
_NUMBER = re.compile(r"[+-]?[0-9]+")


class CorefileError(ValueError):
    """The Corefile would not load: CoreDNS exits at start, or keeps the old one on reload.

    `syntax`: the caddyfile parser refused it (the `reload` plugin reports this as "parse
    failed" and does not even try); otherwise a plugin's setup refused it."""

    def __init__(self, message: str, syntax: bool = False):
        super().__init__(message)
        self.syntax = syntax


@dataclass
class Corefile:
    port: int = 53
    server_zone: str = "."  # the server block's zone, as `prometheus` labels requests
    domain: str = "cluster.local"  # the kubernetes plugin's first non-reverse zone
    zones: list[str] = field(default_factory=lambda: ["cluster.local"])  # all, no root dot
    fallthrough: list[str] | None = None  # zones whose NXDOMAIN goes on; ["."]: every zone
    ttl: int = 5  # the kubernetes plugin's own default; kubeadm's Corefile says 30
    pods_mode: str = "disabled"  # the plugin's default; kubeadm's Corefile says insecure
    forward_to: list[str] = field(default_factory=list)  # "/etc/resolv.conf" or addresses
    cache_s: int = 0  # 0: no cache plugin
    cache_disabled: dict[str, list[str]] = field(default_factory=dict)  # success/denial -> zones
    loadbalance: bool = False
    reload: bool = False  # the `reload` plugin: follow edits of the Corefile
    health_port: int | None = None
    ready_port: int | None = None
    metrics_port: int | None = None
    ignored: list[str] = field(default_factory=list)  # CoreDNS plugins the lab does not run
    unsupported: list[str] = field(default_factory=list)  # "plugin option" accepted, not done


# --- the caddyfile lexer and parser -----------------------------------------------------


@dataclass(frozen=True)
class Token:
    line: int
    text: str


def lex(text: str) -> list[Token]:
    """Words separated by white space; `"..."` keeps spaces (only `\\"` is an escape); `#`
    skips the rest of the line. Braces are words like any other: `{` must stand alone."""
    tokens: list[Token] = []
    line, word, start, i = 1, list[str](), 1, 0
    text = text.removeprefix("\ufeff")
    while i < len(text):
        ch = text[i]
        i += 1
        if ch == '"' and not word:
            start, value, i, line = line, *_quoted(text, i, line)
            tokens.append(Token(start, value))
            continue
        if ch.isspace() or ch == "#":
            if word:
                tokens.append(Token(start, "".join(word)))
                word = []
            if ch == "#":
                end = text.find("\n", i)
                i = end if end >= 0 else len(text)
            elif ch == "\n":
                line += 1
            continue
        if not word:
            start = line
        word.append(ch)
    if word:
        tokens.append(Token(start, "".join(word)))
    return tokens


def _quoted(text: str, i: int, line: int) -> tuple[str, int, int]:
    """A quoted word from after its opening quote: (value, index after it, line)."""
    value: list[str] = []
    while i < len(text):
        ch = text[i]
        i += 1
        if ch == "\\" and i < len(text) and text[i] == '"':
            value.append('"')
            i += 1
            continue
        if ch == '"':
            return "".join(value), i, line
        line += ch == "\n"
        value.append(ch)
    return "".join(value), i, line  # an unclosed quote runs to the end, as caddy's lexer


@dataclass
class ServerBlock:
    keys: list[str]
    directives: dict[str, list[Token]]  # each directive's tokens, all its lines joined


class _Parser:
    """caddyfile's parser: server keys, then `{`, then one directive per line until `}`."""

    def __init__(self, tokens: list[Token], path: str):
        self.tokens, self.path, self.cursor = tokens, path, -1

    def next(self) -> bool:
        if self.cursor < len(self.tokens) - 1:
            self.cursor += 1
            return True
        return False

    def val(self) -> str:
        return self.tokens[self.cursor].text if 0 <= self.cursor < len(self.tokens) else ""

    def new_line(self) -> bool:
        if self.cursor < 1:
            return True
        before = self.tokens[self.cursor - 1]
        return before.line + before.text.count("\n") < self.tokens[self.cursor].line

    def error(self, message: str) -> CorefileError:
        line = self.tokens[self.cursor].line if 0 <= self.cursor < len(self.tokens) else 0
        return CorefileError(f"{self.path}:{line} - {message}", syntax=True)

    def blocks(self) -> list[ServerBlock]:
        out = []
        while self.next():
            block = self.block()
            if block.keys:
                out.append(block)
        return out

    def block(self) -> ServerBlock:
        block = ServerBlock([], {})
        while True:  # the keys: up to `{` or the end of their line
            if self.val() == "import":
                raise self.error("Error during parsing: import is not supported in the lab")
            if self.val() == "{":
                break
            key = self.val()
            block.keys.append(key.removesuffix(","))  # `a:53, b:53` or `a:53,` then `b:53`
            if not self.next():
                return block  # a line of keys and nothing else
            if self.new_line() and not key.endswith(","):
                break
        braced = self.val() == "{"
        if not braced:
            self.cursor -= 1  # one server without braces: directives follow directly
        while self.next() and self.val() != "}":
            self.directive(block)
        if braced and self.val() != "}":
            raise self.error(f"Syntax error: Unexpected token '{self.val()}', expecting '}}'")
        return block

    def directive(self, block: ServerBlock) -> None:
        name = self.val()
        if name == "import":
            raise self.error("Error during parsing: import is not supported in the lab")
        if name not in DIRECTIVES:
            # Not a syntax error: the reload plugin's own parse lets it pass, the restart fails.
            error = self.error(f"Error during parsing: Unknown directive '{name}'")
            error.syntax = False
            raise error
        tokens = block.directives.setdefault(name, [])
        tokens.append(self.tokens[self.cursor])
        nesting = 0
        while self.next():
            if self.val() == "{":
                nesting += 1
            elif self.new_line() and nesting == 0:
                self.cursor -= 1  # read too far: that is the next directive
                break
            elif self.val() == "}" and nesting > 0:
                nesting -= 1
            elif self.val() == "}":
                raise self.error(
                    "Error during parsing: Unexpected '}' because no matching opening brace"
                )
            tokens.append(self.tokens[self.cursor])
        if nesting > 0:
            raise self.error("Error during parsing: Unexpected EOF")


class _Dispenser:
    """What a plugin's setup reads its tokens with (caddyfile.Dispenser)."""

    def __init__(self, plugin: str, tokens: list[Token], path: str):
        self.plugin, self.tokens, self.path = plugin, tokens, path
        self.cursor, self.nesting = -1, 0

    def next(self) -> bool:
        if self.cursor < len(self.tokens) - 1:
            self.cursor += 1
            return True
        return False

    def next_arg(self) -> bool:
        """The next token if it is on the same line."""
        if self.cursor < 0:
            self.cursor += 1
            return True
        if self.cursor >= len(self.tokens) - 1:
            return False
        here, after = self.tokens[self.cursor], self.tokens[self.cursor + 1]
        if here.line + here.text.count("\n") == after.line:
            self.cursor += 1
            return True
        return False

    def next_block(self) -> bool:
        """The next option inside the directive's `{ }` block, if any."""
        if self.nesting > 0:
            self.next()
            if self.val() == "}":
                self.nesting -= 1
                return False
            return True
        if not self.next_arg():
            return False
        if self.val() != "{":
            self.cursor -= 1  # a block must open on the directive's line
            return False
        self.next()
        if self.val() == "}":
            return False
        self.nesting += 1
        return True

    def val(self) -> str:
        return self.tokens[self.cursor].text if 0 <= self.cursor < len(self.tokens) else ""

    def remaining_args(self) -> list[str]:
        args = []
        while self.next_arg():
            if self.val() == "{":
                self.cursor -= 1
                break
            args.append(self.val())
        return args

    def errf(self, message: str) -> CorefileError:
        """A refusal pinned to the current token (caddy's Errf), from the plugin."""
        line = self.tokens[self.cursor].line if 0 <= self.cursor < len(self.tokens) else 0
        return self.fail(f"{self.path}:{line} - Error during parsing: {message}")

    def arg_err(self) -> CorefileError:
        if self.val() == "{":
            return self.errf("Unexpected token '{', expecting argument")
        return self.errf(f"Wrong argument count or unexpected line ending after '{self.val()}'")

    def fail(self, message: str) -> CorefileError:
        return CorefileError(f"plugin/{self.plugin}: {message}")


# --- reading the whole file ---------------------------------------------------------------


def parse(text: str, path: str = "Corefile") -> Corefile:
    """The first server block of `text`; `path` names the file in error messages (CoreDNS
    runs with `-conf /etc/coredns/Corefile`)."""
    blocks = _Parser(lex(text), path).blocks()
    if not blocks:
        raise CorefileError(f"{path}:1 - Error during parsing: no server block", syntax=True)
    first = blocks[0]
    zone = zone_names(first.keys[0])[0]
    config = Corefile(port=_server_port(first.keys, path), server_zone=zone.rstrip(".") + ".")
    setups = {
        "kubernetes": _kubernetes, "forward": _forward, "cache": _cache, "health": _health,
        "ready": _ready, "prometheus": _prometheus, "loadbalance": _loadbalance,
        "reload": _reload,
    }  # fmt: skip
    for name in DIRECTIVES:  # CoreDNS sets plugins up in plugin.cfg's order
        if name in first.directives:
            setup = setups.get(name)
            if setup is not None:
                setup(_Dispenser(name, first.directives[name], path), config, first.keys)
    config.ignored = [name for name in first.directives if name not in setups]
    return config


def _server_port(keys: list[str], path: str) -> int:
    port = 53
    for key in keys:
        _, colon, number = key.rpartition(":")
        if colon:
            if not number.isdigit() or not 0 < int(number) < 65536:
                raise CorefileError(f"{path}:1 - Error during parsing: bad port {number!r}")
            port = int(number)
    return port


def zone_names(arg: str) -> list[str]:
    """A zone as plugins normalize it: lower case, no port, no root dot ("." for the root);
    a CIDR becomes the reverse zones it covers (10.96.0.0/12 -> 96.10.in-addr.arpa ...)."""
    host = arg.removeprefix("dns://")
    host, colon, port = host.rpartition(":")
    if not colon or not port.isdigit():
        host = arg.removeprefix("dns://")
    try:
        network = ipaddress.ip_network(host, strict=False) if "/" in host else None
    except ValueError:
        network = None
    if network is None:
        name = host.lower().rstrip(".")
        return [name or "."]
    step = 8 if network.version == 4 else 4  # octets or nibbles
    prefix = -(-network.prefixlen // step) * step
    out = []
    for subnet in network.subnets(new_prefix=prefix):
        labels = subnet.network_address.reverse_pointer.split(".")
        out.append(".".join(labels[len(labels) - 2 - prefix // step :]))
    return out


def _origins(args: list[str], keys: list[str]) -> list[str]:
    """plugin.OriginsFromArgsOrServerBlock: the zones given, else the server block's."""
    return [zone for arg in args or keys for zone in zone_names(arg)]


def is_reverse(zone: str) -> bool:
    """dnsutil.IsReverse: a name *below* in-addr.arpa or ip6.arpa (not those zones themselves,
    so `kubernetes in-addr.arpa cluster.local` would make in-addr.arpa the primary zone)."""
    return any(zone.endswith("." + suffix) for suffix in REVERSE_SUFFIXES)


# --- the plugins the lab reads --------------------------------------------------------------


def _kubernetes(c: _Dispenser, config: Corefile, keys: list[str]) -> None:
    """plugin/kubernetes setup.go: zones, then one option per line of its block."""
    stanzas = 0
    while c.next():
        if stanzas:
            raise c.fail(ERR_ONCE)
        stanzas += 1
        zones = _origins(c.remaining_args(), keys)
        primary = [z for z in zones if not is_reverse(z)]
        if not primary:
            raise c.fail("non-reverse zone name must be used")
        config.zones, config.domain = zones, primary[0]
        namespaces = labels = False
        while c.next_block():
            option = c.val()
            namespaces |= option == "namespaces"
            labels |= option == "namespace_labels"
            _kubernetes_option(c, config, option)
        if namespaces and labels:
            raise c.errf("namespaces and namespace_labels cannot both be set")


# option -> (smallest, largest) argument count, for the options the lab accepts unread
_KUBERNETES_UNREAD = {
    "endpoint_pod_names": (0, 0), "namespaces": (1, 99), "endpoint": (1, 99),
    "tls": (3, 3), "labels": (1, 99), "namespace_labels": (1, 99), "noendpoints": (0, 0),
    "kubeconfig": (1, 2),
}  # fmt: skip


def _kubernetes_option(c: _Dispenser, config: Corefile, option: str) -> None:
    if option in _KUBERNETES_UNREAD:
        low, high = _KUBERNETES_UNREAD[option]
        if not low <= len(c.remaining_args()) <= high:
            raise c.arg_err()
        config.unsupported.append(f"kubernetes {option}")
    elif option == "pods":
        args = c.remaining_args()
        if len(args) != 1:
            raise c.arg_err()
        if args[0] not in POD_MODES:
            raise c.fail(f"wrong value for pods: {args[0]},  must be one of: {', '.join(POD_MODES)}")  # fmt: skip
        config.pods_mode = args[0]
    elif option == "fallthrough":
        args = c.remaining_args()
        config.fallthrough = [z for arg in args for z in zone_names(arg)] if args else ["."]
    elif option == "ttl":
        args = c.remaining_args()
        if not args:
            raise c.arg_err()
        ttl = _atoi(c, args[0])
        if not 0 <= ttl <= 3600:
            raise c.errf(f"ttl must be in range [0, 3600]: {ttl}")
        config.ttl = ttl
    elif option == "ignore":
        args = c.remaining_args()
        if args and args[0] != "empty_service":
            raise c.fail(f"unable to parse ignore value: '{args[0]}'")
        if args:
            config.unsupported.append("kubernetes ignore empty_service")
    else:
        raise c.errf(f"unknown property '{option}'")


def _atoi(c: _Dispenser, text: str) -> int:
    """Go's strconv.Atoi, with its error text."""
    if not _NUMBER.fullmatch(text):
        raise c.fail(f'strconv.Atoi: parsing "{text}": invalid syntax')
    value = int(text)
    if not -(2**63) <= value < 2**63:
        raise c.fail(f'strconv.Atoi: parsing "{text}": value out of range')
    return value


# forward's block options -> do they take at least one argument
_FORWARD_OPTIONS = {
    "except": True, "max_fails": True, "health_check": True, "force_tcp": False,
    "prefer_udp": False, "tls": False, "tls_servername": True, "expire": True,
    "policy": True, "max_concurrent": True,
}  # fmt: skip


def _forward(c: _Dispenser, config: Corefile, _keys: list[str]) -> None:
    """plugin/forward setup.go: `forward FROM TO...`, then its options."""
    while c.next():
        if not c.next_arg():
            raise c.arg_err()
        to = c.remaining_args()
        if not to:
            raise c.arg_err()
        if len(to) > MAX_UPSTREAMS:
            raise c.fail(f"more than {MAX_UPSTREAMS} TOs configured: {len(to)}")
        if not config.forward_to:
            config.forward_to = to  # the lab forwards with the first stanza only
        while c.next_block():
            option = c.val()
            if option not in _FORWARD_OPTIONS:
                raise c.errf(f"unknown property '{option}'")
            args = c.remaining_args()
            if _FORWARD_OPTIONS[option] and not args:
                raise c.arg_err()
            if option != "max_concurrent":
                config.unsupported.append(f"forward {option}")


_CACHE_OPTIONS = ("success", "denial", "prefetch", "serve_stale", "servfail", "disable", "keepttl")


def _cache(c: _Dispenser, config: Corefile, _keys: list[str]) -> None:
    """plugin/cache setup.go: `cache [TTL] [ZONES...]`, then its options."""
    stanzas = 0
    while c.next():
        if stanzas:
            raise c.fail(ERR_ONCE)
        stanzas += 1
        args = c.remaining_args()
        config.cache_s = 3600  # the plugin's default maximum TTL
        if args and _NUMBER.fullmatch(args[0]):
            if int(args[0]) <= 0:
                raise c.fail(f"cache TTL can not be zero or negative: {int(args[0])}")
            config.cache_s = int(args[0])
        while c.next_block():
            option = c.val()
            if option not in _CACHE_OPTIONS:
                raise c.arg_err()
            args = c.remaining_args()
            if option != "disable":
                config.unsupported.append(f"cache {option}")
                continue
            if not args:
                raise c.arg_err()
            if args[0] not in ("success", "denial"):
                raise c.fail('cache type for disable must be "success" or "denial"')
            config.cache_disabled[args[0]] = [z for a in args[1:] for z in zone_names(a)]


def _health(c: _Dispenser, config: Corefile, _keys: list[str]) -> None:
    """plugin/health: `health [ADDRESS] { lameduck DURATION }`."""
    while c.next():
        config.health_port = _listen_port(c, 8080)
        while c.next_block():
            if c.val() != "lameduck" or len(c.remaining_args()) != 1:
                raise c.arg_err()


def _ready(c: _Dispenser, config: Corefile, _keys: list[str]) -> None:
    while c.next():
        config.ready_port = _listen_port(c, 8181)


def _prometheus(c: _Dispenser, config: Corefile, _keys: list[str]) -> None:
    while c.next():
        config.metrics_port = _listen_port(c, 9153)


def _loadbalance(c: _Dispenser, config: Corefile, _keys: list[str]) -> None:
    """plugin/loadbalance: `loadbalance [round_robin]` (the lab has no `weighted` policy)."""
    while c.next():
        args = c.remaining_args()
        if args and args[0] == "weighted":
            config.unsupported.append("loadbalance weighted")
        elif args and args[0] != "round_robin":
            raise c.fail(f"unknown policy: {args[0]}")
        config.loadbalance = True


def _reload(c: _Dispenser, config: Corefile, _keys: list[str]) -> None:
    while c.next():
        if len(c.remaining_args()) > 2:
            raise c.arg_err()
        config.reload = True


def _listen_port(c: _Dispenser, default: int) -> int:
    """`[HOST]:PORT` as the health / ready / prometheus plugins take it."""
    args = c.remaining_args()
    if len(args) > 1:
        raise c.arg_err()
    if not args:
        return default
    _, colon, port = args[0].rpartition(":")
    if not colon:
        raise c.fail(f"address {args[0]}: missing port in address")
    if not port.isdigit():
        raise c.fail(f"bad listen address {args[0]!r}")
    return int(port)
