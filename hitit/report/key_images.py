"""Key images of a plan drawn by a renderer outside the core, for the plan report.

The core draws its own figures (matplotlib reformats, :mod:`hitit.report.figures`). Where 3D Slicer's
core libraries are installed, the Slicer-side command ``python -m hitit_slicer.render`` draws the same
views with Slicer's displayable managers (the pictures a Slicer user sees) and hands them to the report
builder as :class:`KeyImages`; the core never imports Slicer. The report names the renderer of its figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Views of one trajectory: the axial slice through the target, the slice along the needle, a 3D view.
KEY_IMAGE_VIEWS = ("axial", "oblique", "3d")
#: What the report says when it drew its figures itself.
CORE_RENDERER = (
    "the HITIT core (matplotlib reformats of the CT; 3D Slicer's renderer was not used: "
    "run python -m hitit_slicer.render with the same arguments where Slicer's core libraries are installed)"
)


@dataclass(frozen=True)
class KeyImages:
    """PNG pictures by (lesion id, trajectory rank, view), and the renderer that drew them."""

    renderer: str
    images: dict[tuple[str, int, str], bytes] = field(default_factory=dict)

    def get(self, lesion_id: str, rank: int, view: str) -> bytes | None:
        """The picture of one view of one trajectory, or None when the renderer did not draw it."""
        if view not in KEY_IMAGE_VIEWS:
            raise ValueError(f"Unknown key image view {view!r}: use one of {', '.join(KEY_IMAGE_VIEWS)}.")
        return self.images.get((lesion_id, int(rank), view))
