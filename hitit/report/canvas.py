"""Figures drawn off screen without touching matplotlib's process-wide state.

``matplotlib.use`` and pyplot would choose the backend for the whole Python process; inside Slicer that
is every extension's process. Each figure here gets its own Agg canvas instead, so the core renders the
same everywhere and leaves whatever backend the host chose.
"""

from __future__ import annotations

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def blank_figure(figsize: tuple[float, float], dpi: float = 100) -> Figure:
    """A figure (size in inches) on its own Agg canvas, without axes."""
    figure = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(figure)
    return figure


def new_figure(figsize: tuple[float, float], dpi: float = 100, nrows: int = 1, ncols: int = 1, **subplots):
    """A figure on its own Agg canvas and its axes,
    as ``pyplot.subplots`` returns them (``gridspec_kw`` ... passed on).
    """
    figure = blank_figure(figsize, dpi)
    return figure, figure.subplots(nrows, ncols, **subplots)
