"""A graph that every notebook viewer shows: SVG and PNG in one output.

Jupyter leaves an untrusted notebook's SVG out (it could carry script), so a committed
notebook opened fresh would show a graphviz graph as nothing at all. `figure(graph)` puts
both renderings in the cell's output; a viewer picks SVG where it may, PNG elsewhere.

    figure(packet_path_graph(trace.hops()))    # any graphviz graph
    lab.draw()                                 # Lab's own drawings come as Figures already
"""

from __future__ import annotations

from typing import Any, Protocol

MIME_TYPES = ["image/svg+xml", "image/png"]
# JupyterLab's notebook pane is about 950 px wide on a laptop: graphviz scales a wider
# graph down to 9 inches (its `size` only ever shrinks), so nothing needs a scroll bar.
MAX_SIZE = "9,30"


class Renderable(Protocol):
    """A graphviz graph, as far as a figure needs it."""

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **_: Any) -> dict: ...


class Figure:
    def __init__(self, graph: Renderable):
        self.graph = graph
        attrs = getattr(graph, "graph_attr", None)
        if isinstance(attrs, dict):
            attrs.setdefault("size", MAX_SIZE)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **_: Any) -> dict:
        return self.graph._repr_mimebundle_(include=MIME_TYPES, exclude=exclude)

    def __getattr__(self, name: str) -> Any:  # .source, .render(), .pipe() ...: the graph's
        return getattr(self.graph, name)


def figure(graph: Renderable) -> Figure:
    """The graph, shown as SVG and PNG (the graph itself stays at `.graph`); a Figure
    already (what `Lab.draw*` return) is returned as it is."""
    return graph if isinstance(graph, Figure) else Figure(graph)
