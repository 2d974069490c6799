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
    the moments something was changed, labelled above the plot (inside the figure, however
    near the right edge the moment is)."""
    import matplotlib.pyplot as plt
    from matplotlib.transforms import blended_transform_factory

    pods = sorted({p for _, p in samples})
    fig, ax = plt.subplots(figsize=(8, 1.4 + 0.45 * len(pods)))
    ax.scatter([t for t, _ in samples], [pods.index(p) for _, p in samples], marker="|", s=200)
    ax.set_yticks(range(len(pods)), pods)
    above = blended_transform_factory(ax.transData, ax.transAxes)  # x in seconds, y over the axes
    for t, label in marks:
        ax.axvline(t, color="red", linestyle="--")
        ax.text(t, 1.02, label, transform=above, rotation=20, fontsize=8, color="red")
    ax.set_xlabel("seconds")
    ax.set_title(title, pad=28 if marks else 6)
    fig.tight_layout()
    plt.close(fig)
    return fig


def failover(samples: list[tuple[float, str]], title: str,
             marks: Sequence[tuple[float, str]] = ()):  # fmt: skip
    """A timeline of requests through a failover: (seconds, who answered) per request, one
    row per answerer, failed requests ("ERR") in red on a row of their own at the bottom;
    marks: (seconds, label) vertical lines, labelled above the plot."""
    import matplotlib.pyplot as plt
    from matplotlib.transforms import blended_transform_factory

    rows = ["ERR", *sorted({who for _, who in samples} - {"ERR"})]
    fig, ax = plt.subplots(figsize=(9, 1.4 + 0.45 * len(rows)))
    for row, color in ((r, "tab:red" if r == "ERR" else "tab:blue") for r in rows):
        times = [t for t, who in samples if who == row]
        ax.scatter(times, [rows.index(row)] * len(times), marker="|", s=200, color=color)
    ax.set_yticks(range(len(rows)), [f"failed ({sum(w == 'ERR' for _, w in samples)})", *rows[1:]])
    above = blended_transform_factory(ax.transData, ax.transAxes)  # x in seconds, y over the axes
    for t, label in marks:
        ax.axvline(t, color="gray", linestyle="--")
        ax.text(t, 1.02, label, transform=above, rotation=20, fontsize=8, color="dimgray")
    ax.set_xlabel("seconds (each mark a request, by who answered it)")
    ax.set_title(title, pad=28)
    fig.tight_layout()
    plt.close(fig)
    return fig


def scaling(samples: Sequence[tuple[float, int, int, str, int, int]], title: str,
            marks: Sequence[tuple[float, str]] = ()):  # fmt: skip
    """A Knative Revision over time (knative_lab.Watcher's samples): pods and ready pods as
    steps, the autoscaler's desiredScale dashed, the requests the activator holds dotted,
    and a band while the activator is in the path (the ServerlessService in Proxy mode);
    marks: (seconds, label) labelled above."""
    import matplotlib.pyplot as plt
    from matplotlib.transforms import blended_transform_factory

    t = [s[0] for s in samples]
    fig, ax = plt.subplots(figsize=(9, 3.2))
    ax.step(t, [s[1] for s in samples], where="post", label="pods", color="tab:blue")
    ax.step(t, [s[2] for s in samples], where="post", label="ready", color="tab:green")
    ax.step(t, [max(s[4], 0) for s in samples], where="post", label="desiredScale",
            color="tab:orange", linestyle="--")  # fmt: skip
    ax.step(t, [s[5] for s in samples], where="post", label="held by the activator",
            color="tab:red", linestyle=":")  # fmt: skip
    for (t0, _p, _r, mode, _d, _h), t1 in zip(samples, [*t[1:], t[-1] if t else 0], strict=False):
        if mode == "Proxy":
            ax.axvspan(t0, t1, color="tab:purple", alpha=0.12, linewidth=0)
    ax.plot([], [], color="tab:purple", alpha=0.3, linewidth=8, label="activator in the path")
    above = blended_transform_factory(ax.transData, ax.transAxes)
    for x, label in marks:
        ax.axvline(x, color="gray", linestyle=":")
        ax.text(x, 1.02, label, transform=above, rotation=20, fontsize=8, color="dimgray")
    top = max([max(s[1], s[4], s[5]) for s in samples] + [1])
    ax.set_ylim(-0.2, top + 0.8)
    ax.set_xlabel("seconds")
    ax.set_ylabel("pods / requests")
    ax.set_title(title, pad=28)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    fig.tight_layout()
    plt.close(fig)
    return fig
