"""Lab 16's exercise: a 50/50 split between two Revisions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lab_kit.lab.exercises._base import Exercise, NotYet

if TYPE_CHECKING:
    from lab_kit.lab.lab import Lab


def _half_and_half(lab: Lab) -> str:
    from lab_kit.lab import knative_lab

    route = lab.get("routes", "hello")
    split = {
        t["revisionName"]: t["percent"] for t in (route.get("status") or {}).get("traffic") or []
    }
    if split != {"hello-00001": 50, "hello-00002": 50}:
        raise NotYet(
            f"the Route sends {split}: give each Revision `percent: 50` in the Service's traffic"
        )
    calls = knative_lab.call(
        knative_lab.ingress_address(lab), "hello.default.example.com", count=100
    )
    shares = knative_lab.split(calls)
    v2 = shares.get("Hello v2!", 0)
    if not 30 <= v2 <= 70:
        raise NotYet(
            f"v2 answered {v2} of 100: the gateway may not have the new split yet; check again"
        )
    return f"v2 answered {v2} of 100 requests (asked: 50 %)"


EXERCISES = {
    "16.1": Exercise("Half and half", _half_and_half),
}
