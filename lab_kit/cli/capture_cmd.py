"""`labkit capture TARGET`: a pcap of a pod's or host's traffic, to open in Wireshark.

    labkit capture toolbox -f "tcp port 80" --seconds 10 -w toolbox.pcap
    labkit capture node1 -i node1-eth0 -f udp          until Ctrl-C

tcpdump runs inside the target's network namespace (a pod's eth0, a host's interface), as
the labs' captures do (`lab_kit/lab/captures.py`); the pcap is copied where `-w` says and
the run directory keeps its own copy until `labkit down`.
"""

from __future__ import annotations

import argparse
import shutil
import time
from collections.abc import Callable

from lab_kit.adapters.apiclient import ApiClient
from lab_kit.lab import captures
from lab_kit.lab.errors import LabError

HELP = """Capture a pod's or a host's packets into a pcap file you can open in Wireshark.

examples:
  labkit capture toolbox -f "tcp port 80" --seconds 10 -w toolbox.pcap
  labkit capture node1 -i node1-eth0 -f "udp port 53"      (Ctrl-C stops it)
  labkit capture -n kube-system coredns-7499bf7c45-5vlv8 -f "udp port 53" --seconds 5"""


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("capture", help="capture a pod's or host's packets into a pcap (Wireshark)",
                       description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("target", help="a pod, or a host: node1, client, internet, cloud-lb, gw")
    p.add_argument("-n", "--namespace", default="default")
    p.add_argument(
        "-i", "--interface", default=None, help="default: a pod's eth0, a host's <host>-eth0"
    )
    p.add_argument("-f", "--filter", default="", help='a tcpdump filter, e.g. "tcp port 80"')
    p.add_argument(
        "-w", "--write", default=None, help="the pcap to write (default: TARGET.pcap here)"
    )
    p.add_argument(
        "--seconds", type=float, default=0, help="stop after this long (default: at Ctrl-C)"
    )


def cmd_capture(
    args: argparse.Namespace, client: ApiClient, sleep: Callable[[float], None] = time.sleep
) -> int:
    cap = captures.capture(client, args.target, args.interface, args.namespace, args.filter)
    cap.start()
    print(f"capturing on {args.target} ({cap.iface}){' for ' + format(args.seconds, 'g') + ' s' if args.seconds else ''}"
          f"{'; Ctrl-C stops' if not args.seconds else ''} ...", flush=True)  # fmt: skip
    try:
        if args.seconds < 0:
            raise LabError("error: --seconds must be 0 (until Ctrl-C) or more")
        if args.seconds:
            sleep(args.seconds)
        else:
            while True:
                sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        result = cap.stop()
    out = args.write or f"{args.target}.pcap"
    shutil.copyfile(result.path, out)
    print(f"{result.captured if result.captured is not None else '?'} packets captured; written to {out} "
          "(open it in Wireshark, or: tcpdump -r " + out + ")")  # fmt: skip
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace, ApiClient], int]] = {"capture": cmd_capture}
