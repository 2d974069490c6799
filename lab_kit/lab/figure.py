"""A graph that every notebook viewer shows: SVG and PNG in one output.

Jupyter leaves an untrusted notebook's SVG out (it could carry script), so a committed
notebook opened fresh would show a graphviz graph as nothing at all. `figure(graph)` puts
both renderings in the cell's output; a viewer picks SVG where it may, PNG elsewhere.

    figure(lab.draw())
    figure(lab.draw_connection(at_client, at_pod, "client", pod, node="node2"))
"""

from __future__ import annotations

from typing import Any, Protocol

MIME_TYPES = ["image/svg+xml", "image/png"]


class Renderable(Protocol):
    """A graphviz graph, as far as a figure needs it."""

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **_: Any) -> dict: ...


class Figure:
    def __init__(self, graph: Renderable):
        self.graph = graph

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **_: Any) -> dict:
        return self.graph._repr_mimebundle_(include=MIME_TYPES, exclude=exclude)


def figure(graph: Renderable) -> Figure:
    """The graph, shown as SVG and PNG (the graph itself stays at `.graph`)."""
    return Figure(graph)
