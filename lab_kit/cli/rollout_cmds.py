"""`labkit rollout status|restart|undo` and `labkit wait --for=...`, with kubectl's words.

    labkit rollout status deployment/random-generator      Waiting for ... / successfully rolled out
    labkit rollout restart deployment/random-generator     new pods, one template annotation later
    labkit rollout undo deployment/random-generator        back to the previous ReplicaSet's template
    labkit wait --for=condition=Ready pod/web --timeout=60s
    labkit wait --for=delete pod/web

Waiting is `lab_kit/lab/waiting.py`'s (the same as `apply --wait`): kubectl's messages,
and a pod that will not become Ready by itself (ErrImagePull, CrashLoopBackOff ...) ends
the wait at once with its reason instead of at the timeout.
"""

from __future__ import annotations

import argparse
import copy
import time
from collections.abc import Callable

from lab_kit.adapters.apiclient import ApiClient
from lab_kit.controllers.deployment import POD_TEMPLATE_HASH, REVISION
from lab_kit.controllers.state import Update
from lab_kit.lab import objects, waiting
from lab_kit.lab.errors import LabError
from lab_kit.model import meta
from lab_kit.model.errors import ApiError
from lab_kit.model.meta import rfc3339

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"

ROLLOUT_HELP = """Manage a Deployment's rollout.

examples:
  labkit rollout status deployment/random-generator
  labkit rollout restart deployment/random-generator
  labkit rollout undo deployment/random-generator"""

WAIT_HELP = """Wait until objects meet a condition (or are gone).

examples:
  labkit wait --for=condition=Ready pod/web --timeout=60s
  labkit wait --for=condition=Available deployment/random-generator
  labkit wait --for=delete pod/web --timeout=30s"""


def add_parsers(sub: argparse._SubParsersAction) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser("rollout", help="a Deployment's rollout: status, restart, undo",
                       description=ROLLOUT_HELP, formatter_class=fmt)  # fmt: skip
    p.add_argument("action", choices=["status", "restart", "undo"])
    p.add_argument("what", nargs="+", metavar="deployment/NAME | deployment NAME")
    p.add_argument("--timeout", default="300s", help="status: how long to wait (default 300s)")
    p.add_argument("-n", "--namespace", default="default")
    p = sub.add_parser("wait", help="wait for a condition on objects, or for their deletion",
                       description=WAIT_HELP, formatter_class=fmt)  # fmt: skip
    p.add_argument("what", nargs="+", metavar="KIND/NAME | KIND NAME")
    p.add_argument("--for", dest="condition", required=True,
                   help="condition=Ready (pods), condition=Available (deployments) or delete")  # fmt: skip
    p.add_argument("--timeout", default="30s", help="how long to wait (default 30s)")
    p.add_argument("-n", "--namespace", default="default")


def seconds(text: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    for unit in sorted(units, key=len, reverse=True):
        if text.endswith(unit):
            try:
                return float(text[: -len(unit)]) * units[unit]
            except ValueError:
                break
    try:
        return float(text)
    except ValueError:
        raise LabError(f'error: invalid duration "{text}": use e.g. 30s, 2m') from None


def _deployments(client: ApiClient, words: list[str], namespace: str) -> list[dict]:
    found = []
    for kind_word, names in objects.resource_args(words):
        kind = objects.resolve_kind(kind_word)
        if kind.key != "Deployment":
            raise LabError(
                f"error: no rollout for {objects.kind_name(kind)}: labkit rolls out Deployments"
            )
        found += [client.get(kind, n, namespace) for n in names]
    return found


def cmd_rollout(args: argparse.Namespace, client: ApiClient) -> int:
    for d in _deployments(client, args.what, args.namespace):
        if args.action == "status":
            for line in waiting.wait_applied(client, [d], seconds(args.timeout), report=print):
                print(line)
        elif args.action == "restart":
            updated = copy.deepcopy(d)
            template_md = updated["spec"]["template"].setdefault("metadata", {})
            template_md.setdefault("annotations", {})[RESTARTED_AT] = rfc3339(time.time())
            client.perform(Update(updated))
            print(f"{objects.resource_name(d)} restarted")
        else:
            print(_undo(client, d))
    return 0


def _undo(client: ApiClient, d: dict) -> str:
    """Back to the template of the ReplicaSet with the revision before the current one."""
    kind = objects.resolve_kind("replicasets")
    owned = [rs for rs in client.list(kind, meta.namespace(d))["items"]
             if (meta.controller_of(rs) or {}).get("uid") == meta.uid(d)]  # fmt: skip
    by_revision = sorted(owned, key=lambda rs: int(meta.annotations(rs).get(REVISION, "0")))
    if len(by_revision) < 2:
        raise LabError(f'error: no rollout history found for deployment "{meta.name(d)}"')
    previous = by_revision[-2]
    template = copy.deepcopy(previous["spec"]["template"])
    template.get("metadata", {}).get("labels", {}).pop(POD_TEMPLATE_HASH, None)
    updated = copy.deepcopy(d)
    updated["spec"]["template"] = template
    client.perform(Update(updated))
    return f"{objects.resource_name(d)} rolled back"


def cmd_wait(args: argparse.Namespace, client: ApiClient) -> int:
    timeout = seconds(args.timeout)
    targets = []
    for kind_word, names in objects.resource_args(args.what):
        kind = objects.resolve_kind(kind_word)
        targets += [(kind, n) for n in names]
    if args.condition == "delete":
        deadline = time.monotonic() + timeout
        for kind, name in targets:
            while True:
                try:
                    obj = client.get(kind, name, args.namespace)
                except ApiError as e:
                    if e.code != 404:
                        raise
                    print(f"{objects.kind_name(kind)}/{name} condition met")
                    break
                if time.monotonic() >= deadline:
                    raise LabError(
                        f"error: timed out waiting for the condition on {objects.resource_name(obj)}"
                    )
                client.watch_change(kind, max(0.1, deadline - time.monotonic()))
        return 0
    wanted = {"condition=ready": "Pod", "condition=available": "Deployment"}.get(
        args.condition.lower()
    )
    if wanted is None:
        raise LabError(f'error: labkit waits for condition=Ready (pods), condition=Available '
                       f'(deployments) or delete, not "{args.condition}"')  # fmt: skip
    objs = []
    for kind, name in targets:
        if kind.key != wanted:
            raise LabError(
                f"error: condition {args.condition.partition('=')[2]} is for {wanted.lower()}s"
            )
        objs.append(client.get(kind, name, args.namespace))
    for line in waiting.wait_applied(client, objs, timeout):
        if wanted == "Deployment":  # kubectl wait's words, not rollout status'
            name = line.split('"')[1] if '"' in line else line
            line = f"deployment.apps/{name} condition met"
        print(line)
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace, ApiClient], int]] = {
    "rollout": cmd_rollout,
    "wait": cmd_wait,
}
