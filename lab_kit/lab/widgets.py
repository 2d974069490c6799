"""Buttons for the labs: ipywidgets that change the live cluster when clicked.

`readiness_toggle(lab, pod)` is a ToggleButton standing for one random-generator pod's
readiness: switching it off POSTs `/toggle-ready` to the pod (from a client pod, as a
learner would with curl), so the app deletes the file its exec readiness probe `stat`s;
switching it on makes the app create the file again. Setting `toggle.value` from code
runs the same handler, so notebooks run unattended. `wait_readiness(lab, pod, ready)`
waits until the change has gone all the way: the pod's Ready condition, its
EndpointSlice endpoint and every node's kube-proxy.

ipywidgets is imported only when a button is made: importing this module needs no display.
"""

from __future__ import annotations

import time

from lab_kit.lab.errors import LabError
from lab_kit.lab.waiting import is_ready
from lab_kit.model.kinds import by_kind_name

READY_FILE = "/opt/random-generator-ready"  # the book's readiness probe: stat this file


def readiness_toggle(lab, pod: str, client: str = "toolbox", namespace: str = "default",
                     port: int = 8080):  # fmt: skip
    """A ToggleButton, pressed while `pod` is ready; each change POSTs
    `http://<podIP>:<port>/toggle-ready` from `client` (only when the pod's ready file
    is not already as wanted: the endpoint flips, it does not set)."""
    import ipywidgets

    ip = lab.get("pods", pod, namespace)["status"]["podIP"]
    url = f"http://{ip}:{port}/toggle-ready"

    def has_ready_file() -> bool:
        return lab.exec(pod, "test", "-e", READY_FILE, namespace=namespace).returncode == 0

    button = ipywidgets.ToggleButton(value=has_ready_file(), tooltip=f"POST {url} from {client}")

    def show(ready: bool) -> None:
        button.description = f"{pod}: {'ready' if ready else 'NOT ready'}"
        button.button_style, button.icon = ("success", "check") if ready else ("danger", "times")

    def flip(change) -> None:
        if change["new"] != has_ready_file():
            out = lab.exec(client, "curl", "-s", "-m", "3", "-X", "POST", url, namespace=namespace)
            if out.returncode != 0:
                raise LabError(f"POST {url} from {client} failed: curl exit {out.returncode}")
        show(change["new"])

    show(button.value)
    button.layout.width = "auto"
    button.observe(flip, names="value")
    return button


def wait_readiness(lab, pod: str, ready: bool, namespace: str = "default",
                   timeout_s: float = 20) -> float:  # fmt: skip
    """Wait until `pod`'s Ready condition and its EndpointSlice endpoint's `ready`
    condition both equal `ready`, then until every agent (each node's kube-proxy) has
    applied that; return the seconds it took. Raises LabError after `timeout_s`."""
    start = time.monotonic()
    deadline = start + timeout_s
    while True:
        pod_ready = is_ready(lab.get("pods", pod, namespace))
        slices = lab.get("endpointslices", namespace=namespace)
        endpoints = [
            e
            for s in slices
            for e in s.get("endpoints") or []
            if (e.get("targetRef") or {}).get("name") == pod
        ]
        if (
            pod_ready == ready
            and endpoints
            and all(
                ((e.get("conditions") or {}).get("ready") is not False) == ready for e in endpoints
            )
        ):
            lab.wait(max(1.0, deadline - time.monotonic()))
            return time.monotonic() - start
        left = deadline - time.monotonic()
        if left <= 0:
            raise LabError(
                f"timed out after {timeout_s:g} s waiting for pod {pod} to be "
                f"{'ready' if ready else 'not ready'} (Ready condition: {pod_ready}; "
                f"endpoints: {[e.get('conditions') for e in endpoints]})"
            )
        lab.client.watch_change(by_kind_name("EndpointSlice"), min(1.0, left))
