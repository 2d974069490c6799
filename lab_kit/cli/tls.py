"""TLS Secrets from a terminal (what they do: lab_kit/lab/tls.py).

labkit create secret tls NAME --cert FILE --key FILE [-n NS]     kubectl's command
labkit certificate issue HOST [HOST...] --secret NAME [-n NS]    the lab CA issues it
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from lab_kit.adapters.apiclient import ApiClient
from lab_kit.lab import tls

CREATE_HELP = """Create a resource. lab_kit knows one kind: `create secret tls`.

examples:
  labkit create secret tls hello-tls --cert tls.crt --key tls.key"""

SECRET_TLS_HELP = """Create a kubernetes.io/tls Secret from a PEM certificate and its key, as
`kubectl create secret tls` does: data tls.crt and tls.key. The pair is checked first (both
parse, the key is the certificate's); an Ingress's `tls:` entry names the Secret.

To make a certificate without openssl: labkit certificate issue HOST --secret NAME.

examples:
  labkit create secret tls hello-tls --cert tls.crt --key tls.key
  labkit create secret tls hello-tls --cert tls.crt --key tls.key -n shop"""

ISSUE_HELP = """Issue a server certificate for the hosts from the lab's CA (made on the
lab's first use, kept in the run directory) and create the kubernetes.io/tls Secret, or
replace the certificate in it. Clients that trust the CA verify it:
curl --cacert <the CA file it prints> https://HOST/

examples:
  labkit certificate issue hello.example --secret hello-tls
  labkit certificate issue foo.example '*.bar.example' --secret shop-tls -n shop"""


def add_parsers(sub: argparse._SubParsersAction) -> None:
    raw = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser("create", help="create a TLS Secret (kubectl create secret tls)",
                       description=CREATE_HELP, formatter_class=raw)  # fmt: skip
    kinds = p.add_subparsers(dest="kind", metavar="KIND")
    kinds.required = True
    secret = kinds.add_parser("secret", help="a Secret", description=SECRET_TLS_HELP,
                              formatter_class=raw)  # fmt: skip
    types = secret.add_subparsers(dest="secret_type", metavar="TYPE")
    types.required = True
    t = types.add_parser("tls", help="a kubernetes.io/tls Secret from --cert and --key",
                         description=SECRET_TLS_HELP, formatter_class=raw)  # fmt: skip
    t.add_argument("name", help="the Secret's name")
    t.add_argument("--cert", required=True, metavar="FILE", help="PEM certificate (chain)")
    t.add_argument("--key", required=True, metavar="FILE", help="PEM private key")
    t.add_argument("-n", "--namespace", default="default", help="namespace (default: default)")

    p = sub.add_parser("certificate", help="issue a host's certificate from the lab CA into a "
                       "TLS Secret", description=ISSUE_HELP, formatter_class=raw)  # fmt: skip
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    i = actions.add_parser("issue", help="issue a certificate into a TLS Secret",
                           description=ISSUE_HELP, formatter_class=raw)  # fmt: skip
    i.add_argument("hosts", nargs="+", metavar="HOST", help="host names (a SAN each; *.x ok)")
    i.add_argument("--secret", required=True, metavar="NAME", help="the TLS Secret to write")
    i.add_argument("-n", "--namespace", default="default", help="namespace (default: default)")


def cmd_create(args: argparse.Namespace, client: ApiClient) -> int:
    secret = tls.create_tls_secret(client, args.name, args.cert, args.key, args.namespace)
    print(f"secret/{secret['metadata']['name']} created")
    return 0


def cmd_certificate(args: argparse.Namespace, client: ApiClient) -> int:
    print(tls.tls_secret(client, args.secret, args.hosts, args.namespace))
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace, ApiClient], int]] = {
    "create": cmd_create,
    "certificate": cmd_certificate,
}
