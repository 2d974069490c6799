"""`labkit ingress explain|conf|draw`: the ingress controller seen from a terminal — what it
does with one request and why, the nginx.conf it runs, its routing as a graph (what it
reads: lab_kit/lab/ingress_view.py, over the same model the controller renders from).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from lab_kit.adapters.apiclient import ApiClient
from lab_kit.lab import ingress_view
from lab_kit.lab.errors import LabError

HELP = """The ingress controller (addon `ingress`), seen from a terminal.

  explain URL   what the controller does with a request for URL: the nginx server and
                location, the Ingress rule (host, path, pathType), the Service and its
                ready pods, a redirect, the TLS certificate, and why each was chosen
  conf          the nginx.conf the controller's nginx runs now
  draw          Ingress -> rule -> Service -> pods, as Graphviz DOT (or an image with -o)

examples:
  labkit ingress explain http://198.51.100.32/
  labkit ingress explain https://foo.bar.com/app
  labkit ingress explain http://198.51.100.32/api -H foo.bar.com
  labkit ingress conf | grep server_name
  labkit ingress draw -o ingress.png"""


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ingress", help="the ingress controller: explain a request, its nginx.conf",
                       description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    e = actions.add_parser("explain", help="which rule, Service and pods serve a URL, and why")
    e.add_argument("url", help="http://HOST/PATH or https://HOST/PATH")
    e.add_argument("-H", "--host", help="the Host header, when it is not the URL's host")
    e.add_argument("--sni", help="the TLS server name, when it is not the URL's host")
    e.add_argument("--cookie", action="append", default=[], metavar="NAME=VALUE",
                   help="a cookie the client sends (affinity)")  # fmt: skip
    actions.add_parser("conf", help="the nginx.conf the controller runs")
    d = actions.add_parser("draw", help="Ingress -> rule -> Service -> pods")
    d.add_argument("-o", "--output", help="write an image (.png, .svg, .pdf) instead of DOT")


def cmd_ingress(args: argparse.Namespace, client: ApiClient) -> int:
    if args.action == "explain":
        cookies = dict(c.split("=", 1) for c in args.cookie if "=" in c)
        bad = [c for c in args.cookie if "=" not in c]
        if bad:
            raise LabError(f"--cookie {bad[0]!r}: write NAME=VALUE")
        print(ingress_view.explain(client, args.url, host=args.host, sni=args.sni,
                                   cookies=cookies or None))  # fmt: skip
    elif args.action == "conf":
        print(ingress_view.nginx_conf(client), end="")
    else:
        graph = ingress_view.draw(client)
        if args.output:
            stem, _, fmt = args.output.rpartition(".")
            if fmt not in ("png", "svg", "pdf") or not stem:
                raise LabError(f"{args.output}: write a .png, .svg or .pdf")
            graph.render(outfile=args.output, format=fmt, cleanup=True)
            print(f"wrote {args.output}")
        else:
            print(graph.source, end="")
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace, ApiClient], int]] = {"ingress": cmd_ingress}
