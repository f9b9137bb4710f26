"""``python -m hitit_slicer.render``: ``hitit plan`` with the report's chosen-path figures drawn by 3D Slicer.

Takes the same arguments as ``hitit plan`` (the core's own parser), plans with the core, loads the CT and
segmentations into a scene with Slicer's readers, draws the axial, along-the-needle and 3D views of each
lesion's chosen path with Slicer's displayable managers (:mod:`hitit_slicer.rendering`) and writes the
plan folder with those pictures in its report (the alternatives' thumbnails stay the core's). Where Slicer's
core libraries are not installed or off-screen OpenGL cannot run, the report keeps the core's figures and
says so. ``--screenshot PNG`` also writes the first lesion's three views side by side
(the README's picture is made this way from the teaching case).

Run it with the Python that has Slicer's core libraries (``pip install slicer-core``) and the ``hitit``
package; without a display it draws with Mesa (Debian: ``apt-get install libosmesa6``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hitit.errors import HititError, InputError
from hitit.io.atomic import write_bytes_atomic

#: Segmentation files read with Slicer's segmentation reader; other forms are filled from the core's masks.
SLICER_SEGMENTATION_SUFFIXES = (".seg.nrrd", ".seg.nhdr")


def build_parser() -> argparse.ArgumentParser:
    """``hitit plan``'s options, plus the Slicer renderer's own."""
    from hitit.cli import plan_cmd

    parser = argparse.ArgumentParser(prog="python -m hitit_slicer.render", description=__doc__.split("\n\n")[0])
    subparsers = parser.add_subparsers(dest="command", metavar="plan", required=True)
    plan_cmd.register(subparsers)
    plan_parser = subparsers.choices["plan"]
    plan_parser.add_argument(
        "--screenshot", metavar="PNG", help="also write the first lesion's views side by side to PNG"
    )
    return parser


def loadIntoScene(context, args, case):
    """CT and segmentation nodes for the plan's inputs: files read with Slicer's readers (segment colours
    as stored); label maps and folders of masks become segments filled from the core's masks.
    """
    from hitit_slicer import nodes, storage

    ct = storage.loadVolume(context, args.ct, "CT")

    def segmentation(path, masks, name):
        if str(path).lower().endswith(SLICER_SEGMENTATION_SUFFIXES):
            return storage.loadSegmentation(context, path, name)
        node = context.scene.AddNewNodeByClass("vtkMRMLSegmentationNode", name)
        node.CreateDefaultDisplayNodes()
        node.SetReferenceImageGeometryParameterFromVolumeNode(ct)
        for segment, mask in masks.items():
            nodes.setSegmentFromMask(context, node, segment, mask, ct)
        return node

    structures = [
        segmentation(path, case.structures, f"structures {index + 1}") for index, path in enumerate(args.structures)
    ]
    lesions = segmentation(args.lesions, case.lesions, "lesions")
    return ct, [*structures, lesions], lesions


def renderKeyImages(args, planDict: dict, case):
    """The Slicer pictures of the plan (a ``RenderedPlan``)."""
    from hitit_slicer import rendering
    from hitit_slicer.context import createApplicationContext

    context = createApplicationContext()
    try:
        ct, segmentations, lesions = loadIntoScene(context, args, case)
        return rendering.renderPlan(context, planDict, ct, segmentations, lesions)
    finally:
        context.scene.Clear(1)


def slicerRenderingProblem() -> str | None:
    """None when Slicer's core libraries import and can draw off screen here, else why not (one sentence)."""
    try:
        from hitit_slicer import rendering
    except ImportError as error:
        return (
            f"Slicer's core libraries are not installed in this Python ({error}); "
            "install them with pip install slicer-core (CPython 3.11)"
        )
    return rendering.offscreenRenderingProblem()


def run(args) -> int:
    """Plan with the core, draw the figures with Slicer, write the plan folder (and the screenshot)."""
    from hitit.cli import plan_cmd
    from hitit.plan import write_plan

    problem = slicerRenderingProblem()
    if problem:
        print(f"note: the report keeps the core's figures: {problem}", file=sys.stderr)
    elif not Path(args.ct).is_file():
        raise InputError(
            f"{args.ct}: the Slicer renderer reads the CT from one file (NRRD, NIfTI, MHA); "
            "convert the DICOM series first, or run hitit plan for the core's figures."
        )
    plan, case, patient = plan_cmd.plan_from_args(args)
    rendered = None if problem else renderKeyImages(args, plan.to_dict(), case)
    files = write_plan(plan, case, args.out, patient, key_images=rendered.keyImages if rendered else None)
    plan_cmd.print_summary(plan, files)
    if args.screenshot:
        if rendered is None or not rendered.keyImages.images:
            raise HititError(f"no screenshot written: {problem or 'no lesion has a safe path to show'}")
        from hitit_slicer import rendering

        first = next(iter(rendered.keyImages.images))[:2]
        views = [rendered.keyImages.images[(*first, view)] for view in ("axial", "oblique", "3d")]
        write_bytes_atomic(args.screenshot, rendering.composeScreenshot(views))
        print(f"screenshot written to {args.screenshot}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line; exit code 2 with one line on bad input, as ``hitit`` does."""
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except HititError as error:
        print(f"python -m hitit_slicer.render: error: {error}", file=sys.stderr)
        return 2
    except (FileNotFoundError, PermissionError, IsADirectoryError) as error:
        print(f"python -m hitit_slicer.render: error: {error.strerror}: {error.filename}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
