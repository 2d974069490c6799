"""The two pictures the Service labs draw: how requests spread over pods, and which pod
answered when (a timeline, for readiness and affinity). matplotlib, nothing clever."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence


def distribution(
    answers: list[str],
    title: str = "Requests per pod",
    expected: float | None = None,
    pods: list[str] | None = None,
    ylabel: str = "requests answered",
):
    """A bar per pod (failed requests as "ERR"); `expected`: a dashed line at the share
    each pod should get (e.g. len(answers) / replicas); `pods`: draw these first, in this order, even
    when they answered nothing (an empty bar says more than a missing one); also fits any count of
    names (`ylabel` says what is counted)."""
    import matplotlib.pyplot as plt

    counts = Counter(answers)
    names = list(pods or ()) + sorted(set(counts) - set(pods or ()))
    fig, ax = plt.subplots(figsize=(7, 3))
    bars = ax.bar(names, [counts[n] for n in names], color="tab:blue")
    ax.bar_label(bars)
    if expected is not None:
        ax.axhline(expected, linestyle="--", color="gray", label=f"even share ({expected:g})")
        ax.legend(loc="lower right")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.tick_params(axis="x", labelrotation=15)
    fig.tight_layout()
    plt.close(fig)
    return fig


def timeline(samples: list[tuple[float, str]], title: str = "Which pod answered each request",
             marks: Sequence[tuple[float, str]] = ()):  # fmt: skip
    """samples: (seconds, pod) per request; marks: (seconds, label) vertical lines for
    the moments something was changed."""
    import matplotlib.pyplot as plt

    pods = sorted({p for _, p in samples})
    fig, ax = plt.subplots(figsize=(8, 1 + 0.45 * len(pods)))
    ax.scatter([t for t, _ in samples], [pods.index(p) for _, p in samples], marker="|", s=200)
    ax.set_yticks(range(len(pods)), pods)
    for t, label in marks:
        ax.axvline(t, color="red", linestyle="--")
        ax.annotate(
            label, (t, len(pods) - 0.5), color="red", xytext=(3, 0), textcoords="offset points"
        )
    ax.set_xlabel("seconds")
    ax.set_title(title)
    fig.tight_layout()
    plt.close(fig)
    return fig
