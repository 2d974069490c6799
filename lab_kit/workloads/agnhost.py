"""agnhost: Kubernetes' e2e test image, with the subcommands a service-discovery lab uses.

Re-implements `k8s.io/kubernetes/test/images/agnhost` (image
registry.k8s.io/e2e-test-images/agnhost: ENTRYPOINT ["/agnhost"], CMD ["pause"]):

  netexec         HTTP on --http-port (8080) and UDP on --udp-port (8081), see `netexec`
                  (/header?key=X-Forwarded-For shows what a proxy such as an Ingress added)
  serve-hostname  the hostname over HTTP (default), raw TCP or raw UDP on --port (9376)
  pause           print "Paused", wait for a signal: SIGINT exits 1, SIGTERM exits 2

As the real binary (cobra + pflag): `--flag=value` and `--flag value` (bool flags only take
`--flag` or `--flag=false`); klog's flags (`--v=2`, ...) are accepted and ignored; usage
errors ("unknown command", "unknown flag") go to stderr and the exit code is 0, because
agnhost's main ignores cobra's error. Logs go to stderr in Go's `log` format.

The hostname is the pod's: $HOSTNAME (kubelet sets it to the pod's hostname, which a real
container also gets from its UTS namespace), else the kernel's.

Not built in (a lab_kit limit): the other subcommands (porter, liveness, connect, ...),
netexec's /dial, /shell and /upload (answered 501 with a message), HTTPS (--tls-cert-file)
and SCTP (--sctp-port, ignored with a log line).
"""

from __future__ import annotations

import asyncio
import html
import http
import os
import re
import signal
import sys
import time
import urllib.parse

if __package__:
    from . import _http
else:  # run as a file by the kubelet (see lab_kit/workloads/__init__.py)
    import _http  # type: ignore[no-redef,import-not-found]

# Built in, with their flags and defaults (the type of the default is the flag's type).
SUBCOMMANDS: dict[str, dict[str, object]] = {
    "netexec": {
        "http-port": 8080,
        "udp-port": 8081,
        "sctp-port": -1,
        "tls-cert-file": "",
        "tls-private-key-file": "",
        "http-override": "",
        "udp-listen-addresses": "",
    },
    "serve-hostname": {"tcp": False, "udp": False, "http": True, "close": False, "port": 9376},
    "pause": {},
}
SHORT = {
    "netexec": "Creates HTTP(S), UDP, and (optionally) SCTP servers with various endpoints",
    "serve-hostname": "Serves the hostname",
    "pause": "Pauses the execution",
}
# The real agnhost's other subcommands: lab_kit knows them, but has no workload for them.
NOT_BUILT_IN = [
    "audit-proxy",
    "bad-tcp-seq-server",
    "connect",
    "crd-conversion-webhook",
    "dns-server-list",
    "dns-suffix",
    "entrypoint-tester",
    "etc-hosts",
    "fake-gitserver",
    "grpc-health-checking",
    "guestbook",
    "inclusterclient",
    "liveness",
    "logs-generator",
    "mounttest",
    "net",
    "nettest",
    "no-snat-test",
    "no-snat-test-proxy",
    "port-forward-tester",
    "porter",
    "resource-consumer-controller",
    "test-service-account-issuer-discovery",
    "test-webserver",
    "webhook",
]
# klog's flags, added to every subcommand as persistent flags.
KLOG_FLAGS: dict[str, object] = {
    "add_dir_header": False,
    "alsologtostderr": False,
    "log_backtrace_at": "",
    "log_dir": "",
    "log_file": "",
    "log_file_max_size": 1800,
    "logtostderr": True,
    "one_output": False,
    "skip_headers": False,
    "skip_log_headers": False,
    "stderrthreshold": "2",
    "v": 0,
    "vmodule": "",
}


def not_built_in_message(subcommand: str) -> str:
    return (
        f'lab_kit\'s agnhost has no built-in "{subcommand}" subcommand; '
        f"built in: {', '.join(SUBCOMMANDS)}"
    )


def hostname() -> str:
    return os.environ.get("HOSTNAME") or os.uname().nodename


def log(message: str) -> None:
    """Go's log.Printf: "2006/01/02 15:04:05 message" on stderr."""
    stamp = time.strftime("%Y/%m/%d %H:%M:%S", time.gmtime())
    sys.stderr.write(f"{stamp} {message.rstrip(chr(10))}\n")
    sys.stderr.flush()


def exit_now(code: int) -> None:
    """Go's os.Exit: no cleanup, no response for the request being served."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code & 0xFF)


def go_signal_defaults() -> None:
    """What the Go runtime does with SIGINT, SIGTERM and SIGHUP when the program has not
    asked for them (runtime.dieFromSignal): restore the default action and raise the signal
    again, so the process ends by it; if it is still alive — as PID 1 of its PID namespace,
    where the kernel ignores a default-action signal — exit with status 2."""

    def die(signum: int, _frame: object) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        os._exit(2)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, die)


# ---------------------------------------------------------------------------------------------
# Command line, as cobra and pflag parse it


class UsageError(Exception):
    pass


def split_subcommand(args: list[str]) -> tuple[str | None, list[str]]:
    """(subcommand, the other args): the first argument that is not a (klog) flag or its value."""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            return None, args
        if arg.startswith("-") and arg != "-":
            name, eq, _ = arg.lstrip("-").partition("=")
            takes_value = name in KLOG_FLAGS and not isinstance(KLOG_FLAGS[name], bool)
            i += 2 if takes_value and not eq else 1
            continue
        return arg, args[:i] + args[i + 1 :]
    return None, args


def parse_flags(args: list[str], spec: dict[str, object]) -> tuple[dict[str, object], list[str]]:
    """pflag: long flags only (agnhost defines no shorthands); returns (values, positionals)."""
    values, positional = dict(spec), []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            positional += args[i:]
            break
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            if name not in spec:
                raise UsageError(f"unknown flag: --{name}")
            default = spec[name]
            if isinstance(default, bool):
                values[name] = _parse_bool(name, value) if eq else True
                continue
            if not eq:
                if i >= len(args):
                    raise UsageError(f"flag needs an argument: --{name}")
                value, i = args[i], i + 1
            values[name] = _parse_int(name, value) if isinstance(default, int) else value
        elif arg.startswith("-") and arg != "-":
            raise UsageError(f"unknown shorthand flag: '{arg[1]}' in {arg}")
        else:
            positional.append(arg)
    return values, positional


def _parse_int(name: str, value: str) -> int:
    try:
        return int(value, 0)
    except ValueError:
        raise UsageError(
            f'invalid argument "{value}" for "--{name}" flag: '
            f'strconv.ParseInt: parsing "{value}": invalid syntax'
        ) from None


def _parse_bool(name: str, value: str) -> bool:
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise UsageError(
        f'invalid argument "{value}" for "--{name}" flag: '
        f'strconv.ParseBool: parsing "{value}": invalid syntax'
    )


def root_help() -> str:
    width = max(len(n) for n in SUBCOMMANDS) + 2
    lines = ["Usage:", "  app [command]", "", "Available Commands (built into lab_kit):"]
    lines += [f"  {name:<{width}}{SHORT[name]}" for name in sorted(SUBCOMMANDS)]
    lines += ["", 'Use "app [command] --help" for more information about a command.']
    return "\n".join(lines)


def usage(subcommand: str) -> str:
    lines = ["Usage:", f"  app {subcommand} [flags]", "", "Flags:"]
    for name, default in SUBCOMMANDS[subcommand].items():
        kind = (
            "" if isinstance(default, bool) else " int" if isinstance(default, int) else " string"
        )
        shown = (
            f" (default {default!s})".replace("True", "true") if default not in ("", False) else ""
        )
        lines.append(f"      --{name}{kind}{shown}")
    lines.append(f"  -h, --help   help for {subcommand}")
    return "\n".join(lines)


def _suggestions(typed: str) -> str:
    """cobra's "Did you mean this?": Levenshtein distance <= 2, or a prefix."""

    def distance(a: str, b: str) -> int:
        row = list(range(len(b) + 1))
        for i, ca in enumerate(a, 1):
            prev, row[0] = row[0], i
            for j, cb in enumerate(b, 1):
                prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
        return row[-1]

    names = sorted([*SUBCOMMANDS, *NOT_BUILT_IN])
    close = [n for n in names if distance(typed, n) <= 2 or n.startswith(typed.lower())]
    return "\n\nDid you mean this?\n" + "".join(f"\t{n}\n" for n in close) if close else ""


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    before_dashdash = args[: args.index("--")] if "--" in args else args
    subcommand, rest = split_subcommand(args)
    if subcommand in (None, "help"):  # the root command has no Run: cobra prints its help
        print(root_help(), flush=True)
        return 0
    if subcommand in NOT_BUILT_IN:
        print(not_built_in_message(subcommand), file=sys.stderr, flush=True)
        return 1
    if subcommand not in SUBCOMMANDS:
        print(
            f'Error: unknown command "{subcommand}" for "app"{_suggestions(subcommand)}\n'
            "Run 'app --help' for usage.",
            file=sys.stderr,
            flush=True,
        )
        return 0  # agnhost's main ignores the error cobra returns
    if "-h" in before_dashdash or "--help" in before_dashdash:
        print(f"{SHORT[subcommand]}\n\n{usage(subcommand)}", flush=True)
        return 0
    try:
        opts, positional = parse_flags(rest, {**KLOG_FLAGS, **SUBCOMMANDS[subcommand]})
        if positional:
            raise UsageError(f"accepts at most 0 arg(s), received {len(positional)}")
    except UsageError as e:
        print(f"Error: {e}\n{usage(subcommand)}\n", file=sys.stderr, flush=True)
        return 0
    if subcommand == "pause":
        return pause()
    go_signal_defaults()  # a signal ends the program, as in Go (also as PID 1)
    if subcommand == "netexec":
        return asyncio.run(netexec(opts))
    return asyncio.run(serve_hostname(opts))


# ---------------------------------------------------------------------------------------------
# pause


def pause() -> int:
    def on_signal(signum, _frame):
        exit_now(1 if signum == signal.SIGINT else 2)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print("Paused", flush=True)  # after the handlers: once it is printed, signals are handled
    while True:
        signal.pause()


# ---------------------------------------------------------------------------------------------
# serve-hostname


async def serve_hostname(opts: dict) -> int:
    port, name = int(opts["port"]), hostname()
    if opts["http"] and (opts["tcp"] or opts["udp"]):
        log("Can't server TCP/UDP mode and HTTP mode at the same time")  # sic
        return 1
    loop = asyncio.get_running_loop()
    try:
        if opts["tcp"]:

            async def tcp(reader, writer):
                log(f"TCP request from {_addr(writer.get_extra_info('peername'))}")
                writer.write(name.encode())
                await writer.drain()
                writer.close()

            await asyncio.start_server(tcp, "0.0.0.0", port, reuse_address=True)
        if opts["udp"]:
            await loop.create_datagram_endpoint(
                lambda: _Datagrams(lambda data, addr: _udp_hostname(name, addr)),
                local_addr=("0.0.0.0", port),
            )
        if opts["http"]:

            async def handle(request: _http.Request) -> _http.Response:
                log(f"HTTP request from {request.remote_addr}")
                return _http.text(name, close=bool(opts["close"]))

            await _http.Server(handle).listen(port)
    except OSError as e:
        log(f"listen :{port}: bind: {(e.strerror or str(e)).lower()}")
        return 1
    terminated = loop.create_future()

    def on_sigterm() -> None:
        if not terminated.done():
            terminated.set_result(1)

    loop.add_signal_handler(signal.SIGTERM, on_sigterm)
    log(f"Serving on port {port}.")
    await terminated
    log("Shutting down after receiving signal: terminated.")
    log("Awaiting pod deletion.")
    await asyncio.sleep(60)  # keeps serving: the pod shows as Terminating until kubelet kills it
    return 0


def _udp_hostname(name: str, addr: tuple) -> bytes:
    log(f"UDP request from {_addr(addr)}")
    return name.encode()


class _Datagrams(asyncio.DatagramProtocol):
    """Answers each datagram with reply(data, addr), unless that is None."""

    def __init__(self, reply):
        self.reply = reply

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        answer = self.reply(data, addr)
        if answer is not None:
            self.transport.sendto(answer, addr)


def _addr(peer: tuple) -> str:
    host, port = peer[0], peer[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# ---------------------------------------------------------------------------------------------
# netexec

STARTED_NS = time.monotonic_ns()


async def netexec(opts: dict) -> int:
    """HTTP server: / (NOW: time), /clientip, /header?key=, /echo?msg=&code=,
    /exit?code=&timeout=&wait=, /healthz (200 once the UDP server runs, else 412), /hostname,
    /hostName, /redirect?location=&code=, /shutdown. UDP server: "hostname", "echo <msg>", "clientip"
    (the text is trimmed and lower-cased first, as agnhost does; unknown commands get no reply).
    """
    if opts["tls-cert-file"]:
        log("lab_kit's agnhost netexec does not serve HTTPS (--tls-cert-file)")
        return 1
    loop = asyncio.get_running_loop()
    http_port, udp_port = int(opts["http-port"]), int(opts["udp-port"])
    exit_code: asyncio.Future[int] = loop.create_future()
    state = {"ready": False}
    if udp_port != -1:
        addresses = [a for a in str(opts["udp-listen-addresses"]).split(",") if a] or [""]
        for address in sorted(set(addresses)):
            try:
                await loop.create_datagram_endpoint(
                    lambda: _Datagrams(_udp_netexec), local_addr=(address or "0.0.0.0", udp_port)
                )
            except OSError as e:
                log(
                    f"Error occurred: failed to create listener for UDP address {address}:{udp_port}:{e}"
                )
                return 1
            log(f"Started UDP server on port {address} {udp_port}")
            state["ready"] = True
    if opts["sctp-port"] != -1:
        log("lab_kit's agnhost netexec has no SCTP server; --sctp-port ignored")

    server = _http.Server(lambda request: _netexec_http(request, opts, state, server, exit_code))
    log(f"Started HTTP server on port {http_port}")
    try:
        await server.listen(http_port)
    except OSError as e:
        log(f"listen tcp :{http_port}: bind: {(e.strerror or str(e)).lower()}")
        return 1
    return await exit_code


def _udp_netexec(data: bytes, addr: tuple) -> bytes | None:
    text, client = data[:2048].decode("utf-8", "replace").strip().lower(), _addr(addr)
    if text == "hostname":
        log("Sending udp hostName response")
        return hostname().encode()
    if text.startswith("echo "):
        message = text.split(" ", 1)[1]
        log(f"Echoing {message} to UDP client {client}")
        return message.encode()
    if text == "clientip":
        log(f"Sending clientip back to UDP client {client}")
        return client.encode()
    if text:
        log(f"Unknown UDP command received from {client}: {text}")
    return None


async def _netexec_http(request, opts, state, server, exit_code) -> _http.Response:
    if opts["http-override"]:  # always answer as if this GET had been asked
        request = _http.Request("GET", str(opts["http-override"]), "HTTP/1.1", {}, b"", ("", ""))
    path = request.path
    arg = lambda name: request.param(name) or ""  # noqa: E731 - Go's r.FormValue

    if path == "/clientip":
        log("GET /clientip")
        return _http.text(request.remote_addr if request.peer[0] else "")
    if path == "/header":
        return _header(request, arg("key"))
    if path == "/echo":
        msg, code = arg("msg"), arg("code")
        log(f"GET /echo?msg={msg}&code={code}")
        if not code:
            return _http.text(msg)
        status = _atoi(code)
        if status is None:
            return _http.text(f"argument 'code' must be an integer or empty, got {_q(code)}\n")
        return _http.text(msg, _status(status))
    if path == "/exit":
        return await _exit(request, server, exit_code)
    if path == "/healthz":
        log("GET /healthz")
        return _http.Response(200 if state["ready"] else 412)
    if path in ("/hostname", "/hostName"):
        log(f"GET {path}")
        return _http.text(hostname())
    if path == "/redirect":
        location, code = arg("location"), arg("code")
        log(f"{request.method} /redirect?msg={location}&code={code}")
        status = 302 if not code else _atoi(code)
        if status is None:
            return _http.text(f"argument 'code' must be an integer or empty, got {_q(code)}\n")
        return _redirect(request, location, _status(status))
    if path == "/shutdown":
        log("GET /shutdown")
        exit_now(0)
    if path in ("/dial", "/shell", "/upload"):
        log(f"GET {path} (not built into lab_kit)")
        return _http.text(f"lab_kit's agnhost netexec does not implement {path}\n", 501)
    log("GET /")
    return _http.text(f"NOW: {_go_now()}")


def _header(request: _http.Request, key: str) -> _http.Response:
    """/header?key=NAME: that header's first value as sent ("" if absent); without a key,
    every header as compact JSON (Go's json.Marshal(r.Header)). Both as text/plain, which is
    what Go's content sniffing makes of them."""
    if key:
        log(f"GET /header?key={key}")
        value = _http.header_get(request, key).encode("latin-1")
        return _http.Response(body=value, content_type=_http.TEXT if value else None)
    log("GET /header")
    return _http.text(_http.go_json(_http.go_header(request)))


async def _exit(request, server, exit_code) -> _http.Response:
    wait_s, timeout_s, code_s = (request.param(n) or "" for n in ("wait", "timeout", "code"))
    log(f"GET /exit?code={code_s}&timeout={timeout_s}&wait={wait_s}")
    timeout = _parse_duration(timeout_s) if timeout_s else 0.0
    if timeout is None:
        return _http.text(
            f"argument 'timeout' must be a valid golang duration or empty, got {_q(timeout_s)}\n"
        )
    wait = _parse_duration(wait_s) if wait_s else 0.0
    if wait is None:
        return _http.text(
            f"argument 'wait' must be a valid golang duration or empty, got {_q(wait_s)}\n"
        )
    code = _atoi(code_s) if code_s else 0
    if code is None:
        return _http.text(
            f"argument 'code' must be an integer [0-127] or empty, got {_q(code_s)}\n"
        )
    log(
        f"Will begin shutdown in {_fmt_duration(wait)}, allowing {_fmt_duration(timeout)} "
        f"for connections to close, then will exit with {code}"
    )
    await asyncio.sleep(max(wait, 0))
    if timeout == 0:
        exit_now(code)

    async def graceful():
        drained = await server.shutdown(max(timeout, 0))
        log(
            f"Graceful shutdown completed with: {'<nil>' if drained else 'context deadline exceeded'}"
        )
        exit_now(code)

    return _http.Response(then=lambda: asyncio.ensure_future(graceful()))


def _redirect(request, location: str, status: int) -> _http.Response:
    """Go's http.Redirect: a relative location is resolved against the request's path."""
    if not urllib.parse.urlsplit(location).scheme and not location.startswith("/"):
        location = urllib.parse.urljoin(request.path, location)
    response = _http.Response(status, headers={"Location": location})
    if request.method in ("GET", "HEAD"):
        phrase = http.HTTPStatus(status).phrase if 100 <= status < 600 else ""
        response.body = f'<a href="{html.escape(location)}">{phrase}</a>.\n\n'.encode()
        response.content_type = "text/html; charset=utf-8"
    return response


def _status(code: int) -> int:
    """Go's WriteHeader panics on codes outside 100-999: the connection is dropped."""
    if not 100 <= code <= 999:
        raise ValueError(f"invalid WriteHeader code {code}")
    return code


def _atoi(s: str) -> int | None:
    return int(s) if re.fullmatch(r"[+-]?\d+", s) else None


def _q(s: str) -> str:
    """Go's %q for plain strings."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def _parse_duration(s: str) -> float | None:
    """Go's time.ParseDuration ("1.5s", "1m30s", "300ms", "0"), in seconds; None if invalid."""
    sign, body = (-1, s[1:]) if s.startswith("-") else (1, s.removeprefix("+"))
    if body == "0":
        return 0.0
    total, pos = 0.0, 0
    for part in _DURATION_PART.finditer(body):
        if part.start() != pos:
            return None
        total, pos = total + float(part[1]) * _UNITS[part[2]], part.end()
    return sign * total if body and pos == len(body) else None


def _fmt_duration(seconds: float) -> str:
    """Go's Duration.String: 0s, 500ms, 1.5s, 1m30s, 1h0m0s."""

    def num(x: float) -> str:
        return f"{x:.9f}".rstrip("0").rstrip(".")

    if seconds == 0:
        return "0s"
    if abs(seconds) < 1:
        for unit, scale in (("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
            if abs(seconds) >= scale:
                return f"{num(seconds / scale)}{unit}"
        return f"{num(seconds / 1e-9)}ns"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    sign = "-" if seconds < 0 else ""
    if hours:
        return f"{sign}{int(hours)}h{int(minutes)}m{num(secs)}s"
    if minutes:
        return f"{sign}{int(minutes)}m{num(secs)}s"
    return f"{sign}{num(secs)}s"


def _go_now() -> str:
    """Go's time.Now().String() in UTC: "2024-05-01 10:00:00.123456789 +0000 UTC m=+1.5"."""
    ns = time.time_ns()
    fraction = f".{ns % 10**9:09d}".rstrip("0").rstrip(".")
    wall = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ns // 10**9))
    monotonic = (time.monotonic_ns() - STARTED_NS) / 1e9
    return f"{wall}{fraction} +0000 UTC m=+{monotonic:.9f}"


if __name__ == "__main__":
    sys.exit(main())
