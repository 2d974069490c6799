"""echoserver: the ingress-controller-conformance suite's backend, which tells who served a request.

Re-implements kubernetes-sigs/ingress-controller-conformance `images/echoserver/echoserver.go`
(image k8s.gcr.io/ingressconformance/echoserver, now registry.k8s.io: distroless,
ENTRYPOINT ["/echoserver"], no arguments). Every path is answered with the request as the
pod saw it, as indented JSON (Go's json.MarshalIndent with one space):

    {"path": the raw request URI, "host", "method", "proto", "headers": {Name: [values]},
     "namespace", "ingress", "service", "pod"}

the last four from the environment (NAMESPACE, INGRESS_NAME, SERVICE_NAME, POD_NAME: the
suite's Deployment sets them, POD_NAME and NAMESPACE from the downward API), with
`Content-Type: application/json` and `X-Content-Type-Options: nosniff`. `/health` answers
200 `OK`. It listens on $HTTP_PORT (default 3000).

As the Go program: "//" in the path is collapsed to "/" before routing (so `//health` is the
health check) while `path` keeps the URI as sent; a path Go's ServeMux finds unclean
(`/a/../b`, `/a///b`) gets its 301 to the clean one; Go's JSON escapes and header names; no
signal handlers (SIGTERM ends it, as Go's runtime does).

Not built in (a lab_kit limit): the HTTPS listener (TLS_SERVER_CERT, TLS_SERVER_PRIVKEY,
HTTPS_PORT, TLS_CLIENT_CACERTS) and with it the `tls` field; said in a log line when set.
"""

from __future__ import annotations

import asyncio
import html
import os
import posixpath
import sys
import urllib.parse

if __package__:
    from . import _http
    from .agnhost import go_signal_defaults
else:  # run as a file by the kubelet (see lab_kit/workloads/__init__.py)
    import _http  # type: ignore[no-redef,import-not-found]
    from agnhost import go_signal_defaults  # type: ignore[no-redef,import-not-found]

JSON = "application/json"
CONTEXT = (("namespace", "NAMESPACE"), ("ingress", "INGRESS_NAME"),
           ("service", "SERVICE_NAME"), ("pod", "POD_NAME"))  # fmt: skip


def out(message: str) -> None:
    """fmt.Printf to stdout: the program's only log."""
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


def main() -> int:
    port = os.environ.get("HTTP_PORT") or "3000"
    context = {field: os.environ.get(name, "") for field, name in CONTEXT}
    if os.environ.get("TLS_SERVER_CERT") and os.environ.get("TLS_SERVER_PRIVKEY"):
        out("lab_kit's echoserver does not serve HTTPS (TLS_SERVER_CERT): HTTP only")
    go_signal_defaults()
    return asyncio.run(serve(port, context))


async def serve(port: str, context: dict[str, str]) -> int:
    server = _http.Server(lambda request: handle(request, context))
    out(f"Starting server, listening on port {port} (http)")
    try:
        await server.listen(int(port))
    except (OSError, ValueError) as e:
        # A Go panic: its message and exit status 2.
        why = os.strerror(e.errno).lower() if isinstance(e, OSError) and e.errno else str(e)
        sys.stderr.write(f"panic: Failed to start listening: listen tcp :{port}: bind: {why}\n\n")
        return 2
    await asyncio.get_running_loop().create_future()  # serves until a signal ends it
    return 0


async def handle(request: _http.Request, context: dict[str, str]) -> _http.Response:
    if request.version == "HTTP/1.1" and "host" not in request.headers:
        return _http.text("400 Bad Request: missing required Host header", 400, close=True)
    path = request.path.replace("//", "/")  # echoserver's preserveSlashes
    clean = clean_path(path)
    if clean != path and request.method != "CONNECT":  # ServeMux redirects to the clean path
        return redirect(request, clean)
    if clean == "/health":
        return _http.text("OK")
    return echo(request, context)


def echo(request: _http.Request, context: dict[str, str]) -> _http.Response:
    out(f"Echoing back request made to {request.target} to client ({request.remote_addr})")
    assertions = {
        "path": request.target,
        "host": request_host(request),
        "method": request.method,
        "proto": request.version,
        "headers": _http.go_header(request),
        **context,
    }
    body = _http.go_json(assertions, indent=" ").encode()
    return _http.Response(
        body=body, content_type=JSON, headers={"X-Content-Type-Options": "nosniff"}
    )


def request_host(request: _http.Request) -> str:
    """Go's r.Host: the host of an absolute request URI, else the Host header."""
    if request.target.startswith(("http://", "https://")):
        return urllib.parse.urlsplit(request.target).netloc
    return request.headers.get("host", "")


def clean_path(path: str) -> str:
    """Go's net/http cleanPath: rooted, "." and ".." resolved, repeated slashes removed, a
    trailing slash kept."""
    if not path:
        return "/"
    rooted = path if path.startswith("/") else "/" + path
    clean = posixpath.normpath(rooted)
    clean = "/" + clean.lstrip("/")  # normpath keeps a leading "//"
    if rooted.endswith("/") and clean != "/":
        clean += "/"
    return clean


def redirect(request: _http.Request, clean: str) -> _http.Response:
    """ServeMux's RedirectHandler: 301 to the clean path, the query kept."""
    query = request.target_parts()[1]
    location = urllib.parse.quote(clean, safe="/:@!$&'()*+,;=-._~") + (f"?{query}" if query else "")
    response = _http.Response(301, headers={"Location": location})
    if request.method in ("GET", "HEAD"):
        href = html.escape(location).replace("&#x27;", "&#39;")  # Go's htmlEscape
        response.body = f'<a href="{href}">Moved Permanently</a>.\n\n'.encode()
        response.content_type = "text/html; charset=utf-8"
    return response


if __name__ == "__main__":
    sys.exit(main())
