"""A plan seen as Slicer shows it: offscreen slice and 3D views drawn by Slicer's own displayable managers.

The views are built the way Slicer's Qt widgets build them (qMRMLSliceWidget / qMRMLThreeDView), and the
way Kitware's trame-slicer builds them on the same Qt-free libraries (``trame_slicer.views``): a render
window, a ``vtkMRMLDisplayableManagerGroup`` from the slice or 3D view factory, a slice logic (slice views)
or view logic (3D views) registered with the application logic, and, because CTK's light-box renderer
manager is not in the libraries, a 2D image actor showing the slice logic's composited image. What is on
screen therefore comes from the scene: the CT through the volume display node, segmentations in their
segment colours (fill and outline in 2D, surfaces in 3D), trajectories and deposits as markups.

Without a display, VTK draws with Mesa's off-screen OpenGL (``VTK_DEFAULT_OPENGL_WINDOW=vtkOSOpenGLRenderWindow``,
Debian package ``libosmesa6``); :func:`offscreenRenderingProblem` says beforehand whether that works here.
Points are RAS mm (Slicer's world); plan points (LPS) are converted with :mod:`hitit_slicer.coordinates`.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from dataclasses import dataclass, field

import numpy as np
import slicer
import vtk
from vtk.util.numpy_support import numpy_to_vtk, vtk_to_numpy

from hitit.report.figures import trajectory_plane
from hitit.report.key_images import KeyImages
from hitit_slicer.context import SlicerContext
from hitit_slicer.coordinates import rasFromLPS

#: Colour of the chosen (safe) trajectory line in the pictures (RGB 0-1): pure green, unlike every segment colour
#: of our cases, so it stands out on any anatomy (the scene's lines take hitit.plan.trajectory_lines' colours).
TRAJECTORY_COLOR = (0.0, 1.0, 0.0)
#: Colour of the deposit points.
DEPOSIT_COLOR = (1.0, 1.0, 1.0)
#: Size (pixels) of each rendered view; the slice views keep this width and follow the plane's aspect.
VIEW_SIZE = (560, 560)
#: Opacity of the structures in the 3D view, so the lesion and the needle inside them stay visible.
STRUCTURE_OPACITY_3D = 0.35
#: Displayable managers of a slice view (from Slicer's qMRMLSliceWidget, limited to what a plan shows).
SLICE_DISPLAYABLE_MANAGERS = (
    "vtkMRMLSegmentationsDisplayableManager2D",
    "vtkMRMLMarkupsDisplayableManager",
    "vtkMRMLModelSliceDisplayableManager",
)
#: Displayable managers of a 3D view (from Slicer's qMRMLThreeDView, limited to what a plan shows).
THREED_DISPLAYABLE_MANAGERS = (
    "vtkMRMLCameraDisplayableManager",
    "vtkMRMLViewDisplayableManager",
    "vtkMRMLModelDisplayableManager",
    "vtkMRMLSegmentationsDisplayableManager3D",
    "vtkMRMLMarkupsDisplayableManager",
)
#: Environment variable that makes VTK draw with OSMesa (no display needed).
OFFSCREEN_WINDOW_VARIABLE = "VTK_DEFAULT_OPENGL_WINDOW"
OFFSCREEN_WINDOW_CLASS = "vtkOSOpenGLRenderWindow"

_PROBE = """
import vtk
window = vtk.vtkRenderWindow()
window.SetOffScreenRendering(1)
window.SetSize(8, 8)
window.AddRenderer(vtk.vtkRenderer())
window.Render()
print(window.GetClassName())
"""


def useOffscreenOpenGLWithoutDisplay() -> None:
    """Make VTK draw with Mesa's off-screen OpenGL when there is no X display (before any window exists)."""
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault(OFFSCREEN_WINDOW_VARIABLE, OFFSCREEN_WINDOW_CLASS)


@functools.lru_cache(maxsize=1)
def offscreenRenderingProblem() -> str | None:
    """None when VTK can draw off screen here, else why not (a render window is tried in a child
    process: a missing OpenGL library aborts the process that tries).
    """
    useOffscreenOpenGLWithoutDisplay()
    try:
        result = subprocess.run(
            [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=120, env=dict(os.environ)
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"no off-screen OpenGL: {error}"
    if result.returncode != 0:
        detail = (result.stderr.strip().splitlines() or [f"exit code {result.returncode}"])[-1]
        return (
            f"no off-screen OpenGL ({detail}); install Mesa's off-screen library (Debian: apt-get install "
            "libosmesa6) or run under xvfb-run"
        )
    return None


# --------------------------------------------------------------------- images


def pngFromRGB(rgb: np.ndarray) -> bytes:
    """PNG bytes of an ``H x W x 3`` uint8 image (row 0 at the top)."""
    height, width = rgb.shape[:2]
    image = vtk.vtkImageData()
    image.SetDimensions(width, height, 1)
    scalars = numpy_to_vtk(np.ascontiguousarray(rgb[::-1].reshape(-1, 3)), deep=True)
    scalars.SetNumberOfComponents(3)
    image.GetPointData().SetScalars(scalars)
    writer = vtk.vtkPNGWriter()
    writer.WriteToMemoryOn()
    writer.SetInputData(image)
    writer.Write()
    return bytes(vtk_to_numpy(writer.GetResult()))


def rgbFromPNG(png: bytes) -> np.ndarray:
    """``H x W x 3`` uint8 image (row 0 at the top) of PNG bytes."""
    reader = vtk.vtkPNGReader()
    if hasattr(reader, "SetStream"):  # VTK >= 9.6 (the memory-buffer calls are deprecated there)
        stream = vtk.vtkMemoryResourceStream()
        stream.SetBuffer(png, len(png), True)
        reader.SetStream(stream)
    else:  # VTK 9.5 (Slicer 5.10); the buffer must outlive Update
        buffer = np.frombuffer(png, dtype=np.uint8)
        reader.SetMemoryBuffer(buffer)
        reader.SetMemoryBufferLength(len(png))
    reader.Update()
    output = reader.GetOutput()
    width, height, _ = output.GetDimensions()
    pixels = vtk_to_numpy(output.GetPointData().GetScalars()).reshape(height, width, -1)
    return np.ascontiguousarray(pixels[::-1, :, :3])


def _grab(renderWindow) -> np.ndarray:
    """The window's pixels, ``H x W x 3`` uint8, row 0 at the top."""
    grabber = vtk.vtkWindowToImageFilter()
    grabber.SetInput(renderWindow)
    grabber.ReadFrontBufferOff()
    grabber.Update()
    output = grabber.GetOutput()
    width, height, _ = output.GetDimensions()
    pixels = vtk_to_numpy(output.GetPointData().GetScalars()).reshape(height, width, -1)
    return np.ascontiguousarray(pixels[::-1, :, :3])


# --------------------------------------------------------------------- views


class _View:
    """A render window with one renderer and the displayable managers of one view factory."""

    def __init__(self, context: SlicerContext, factoryClass, managers, size):
        self.context = context
        self.renderer = vtk.vtkRenderer()
        self.window = vtk.vtkRenderWindow()
        self.window.SetOffScreenRendering(1)
        self.window.SetSize(*size)
        self.window.AddRenderer(self.renderer)
        self.interactor = vtk.vtkRenderWindowInteractor()  # displayable managers look for one
        self.interactor.SetRenderWindow(self.window)
        factory = factoryClass.GetInstance()
        factory.SetMRMLApplicationLogic(context.applicationLogic)
        for manager in managers:
            if not factory.IsDisplayableManagerRegistered(manager):
                factory.RegisterDisplayableManager(manager)
        self.managers = slicer.vtkMRMLDisplayableManagerGroup()
        self.managers.Initialize(factory, self.renderer)

    @property
    def size(self) -> tuple[int, int]:
        return tuple(self.window.GetSize())

    def resize(self, width: int, height: int) -> None:
        self.window.SetSize(int(width), int(height))

    def render(self) -> np.ndarray:
        """Draw the scene and return the pixels (``H x W x 3``, row 0 at the top)."""
        self.managers.RequestRender()
        self.window.Render()
        return _grab(self.window)

    def close(self) -> None:
        self.managers.SetMRMLDisplayableNode(None)
        self.window.Finalize()


class SliceView(_View):
    """An offscreen slice view (Slicer's slice logic and 2D displayable managers)."""

    def __init__(self, context: SlicerContext, name: str = "Red", size=VIEW_SIZE):
        super().__init__(context, slicer.vtkMRMLSliceViewDisplayableManagerFactory, SLICE_DISPLAYABLE_MANAGERS, size)
        self.renderer.GetActiveCamera().ParallelProjectionOn()
        self.logic = slicer.vtkMRMLSliceLogic()
        self.logic.SetMRMLApplicationLogic(context.applicationLogic)
        context.applicationLogic.GetSliceLogics().AddItem(self.logic)
        self.logic.SetMRMLScene(context.scene)
        self.sliceNode = self.logic.AddSliceNode(name)
        self.managers.SetMRMLDisplayableNode(self.sliceNode)
        # the composited slice image (what CTK's light-box renderer manager shows in Slicer's slice widget)
        mapper = vtk.vtkImageMapper()
        mapper.SetColorWindow(255)
        mapper.SetColorLevel(127.5)
        self.imageActor = vtk.vtkActor2D()
        self.imageActor.SetMapper(mapper)
        self.imageActor.GetProperty().SetDisplayLocationToBackground()
        self.renderer.AddViewProp(self.imageActor)

    def setBackgroundVolume(self, volumeNode) -> None:
        """Show ``volumeNode`` as the background layer."""
        self.logic.GetSliceCompositeNode().SetBackgroundVolumeID(volumeNode.GetID() if volumeNode else None)

    def showPlane(self, centerRAS, rightRAS, upRAS, widthMm: float, heightMm: float) -> None:
        """Slice through ``centerRAS`` with screen right along ``rightRAS`` and screen up along ``upRAS``
        (unit vectors, RAS), ``widthMm`` x ``heightMm`` in view; the window follows the plane's aspect.
        """
        width = self.size[0]
        self.resize(width, max(8, round(width * heightMm / widthMm)))
        right, up = np.asarray(rightRAS, float), np.asarray(upRAS, float)
        normal = np.cross(right, up)
        sliceToRAS = self.sliceNode.GetSliceToRAS()
        for row in range(3):
            for column, vector in enumerate((right, up, normal, np.asarray(centerRAS, float))):
                sliceToRAS.SetElement(row, column, float(vector[row]))
        self.sliceNode.SetDimensions(self.size[0], self.size[1], 1)
        self.sliceNode.SetFieldOfView(float(widthMm), float(heightMm), self.sliceNode.GetFieldOfView()[2])
        self.sliceNode.UpdateMatrices()
        self.imageActor.GetMapper().SetInputConnection(self.logic.GetImageDataConnection())

    def pixelOf(self, pointRAS) -> tuple[float, float]:
        """(column, row) of a RAS point in the rendered image (row 0 at the top, pixel centres at whole
        numbers), by the slice node's XY-to-RAS (XY counts pixel edges from the lower left corner).
        """
        xyToRAS = np.array([[self.sliceNode.GetXYToRAS().GetElement(r, c) for c in range(4)] for r in range(4)])
        x, y, _, _ = np.linalg.solve(xyToRAS, np.append(np.asarray(pointRAS, float), 1.0))
        return float(x - 0.5), float(self.size[1] - 0.5 - y)


class ThreeDView(_View):
    """An offscreen 3D view (Slicer's view logic and 3D displayable managers)."""

    def __init__(self, context: SlicerContext, name: str = "1", size=VIEW_SIZE):
        super().__init__(context, slicer.vtkMRMLThreeDViewDisplayableManagerFactory, THREED_DISPLAYABLE_MANAGERS, size)
        # no depth peeling: with Mesa's off-screen OpenGL it draws nothing translucent (checked on Mesa 22.3)
        self.renderer.SetUseDepthPeeling(False)
        self.logic = slicer.vtkMRMLViewLogic()
        self.logic.SetMRMLApplicationLogic(context.applicationLogic)
        context.applicationLogic.GetViewLogics().AddItem(self.logic)
        self.logic.SetMRMLScene(context.scene)
        self.viewNode = self.logic.AddViewNode(name)
        self.viewNode.SetBoxVisible(False)
        self.viewNode.SetAxisLabelsVisible(False)
        self.managers.SetMRMLDisplayableNode(self.viewNode)

    def lookAt(self, focalRAS, fromDirectionRAS, viewUpRAS, distanceMm: float) -> None:
        """Camera at ``focalRAS + distanceMm * fromDirectionRAS`` looking at ``focalRAS``."""
        camera = self.logic.GetCameraNode() if hasattr(self.logic, "GetCameraNode") else None
        focal = np.asarray(focalRAS, float)
        position = focal + distanceMm * np.asarray(fromDirectionRAS, float) / np.linalg.norm(fromDirectionRAS)
        if camera is not None:
            camera.SetFocalPoint(*focal)
            camera.SetPosition(*position)
            camera.SetViewUp(*np.asarray(viewUpRAS, float))
        vtkCamera = self.renderer.GetActiveCamera()
        vtkCamera.SetFocalPoint(*focal)
        vtkCamera.SetPosition(*position)
        vtkCamera.SetViewUp(*np.asarray(viewUpRAS, float))
        self.renderer.ResetCameraClippingRange()

    def pixelOf(self, pointRAS) -> tuple[float, float]:
        """(column, row) of a RAS point in the rendered image (row 0 at the top), by the renderer's camera."""
        coordinate = vtk.vtkCoordinate()
        coordinate.SetCoordinateSystemToWorld()
        coordinate.SetValue(*[float(v) for v in pointRAS])
        x, y = coordinate.GetComputedDoubleDisplayValue(self.renderer)
        return float(x), float(self.size[1] - 1 - y)


# --------------------------------------------------------------------- the plan in the scene


@dataclass
class PlanMarkups:
    """Markups nodes of a plan: a line per chosen path and a point list of its deposits, by lesion id."""

    lines: dict[str, object] = field(default_factory=dict)
    deposits: dict[str, object] = field(default_factory=dict)

    def showOnly(self, lesionId: str | None) -> None:
        """Show one lesion's chosen path and deposits; hide every other line and point list."""
        for lesion, node in [*self.lines.items(), *self.deposits.items()]:
            node.GetDisplayNode().SetVisibility(lesion == lesionId)


def chosenPath(lesion: dict) -> dict | None:
    """The path the report's figures show for a lesion (its rank 1 safe trajectory), None without one."""
    return lesion["trajectories"][0] if lesion.get("trajectories") else None


def addPlanMarkups(context: SlicerContext, plan: dict) -> PlanMarkups:
    """A line markup for each lesion's chosen path and a point list of its planned deposits (RAS)."""
    from hitit.plan.trajectory_lines import trajectory_name
    from hitit_slicer.nodes import addLine

    markups = PlanMarkups()
    for lesion in plan["lesions"]:
        trajectory = chosenPath(lesion)
        if trajectory is None:
            continue
        line = addLine(
            context,
            trajectory_name(lesion["id"], trajectory["rank"]),
            rasFromLPS(trajectory["entry_lps"]),
            rasFromLPS(trajectory["target_lps"]),
            TRAJECTORY_COLOR,
            ("entry", "target"),
        )
        line.GetDisplayNode().SetPointLabelsVisibility(False)
        markups.lines[lesion["id"]] = line
        points = [
            deposit for path in (lesion.get("deposits") or {}).get("paths", [])[:1] for deposit in path["deposits"]
        ]
        if points:
            node = context.scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", f"{lesion['id']} deposits")
            node.CreateDefaultDisplayNodes()
            for deposit in points:
                label = f"{deposit['needle_depth_mm']:.0f} mm" if "needle_depth_mm" in deposit else ""
                node.AddControlPointWorld(vtk.vtkVector3d(*rasFromLPS(deposit["point_lps"])), label)
            node.SetLocked(True)
            node.GetDisplayNode().SetPointLabelsVisibility(False)  # a few mm apart: the report's table lists the depths
            node.GetDisplayNode().SetSelectedColor(*DEPOSIT_COLOR)
            node.GetDisplayNode().SetColor(*DEPOSIT_COLOR)
            markups.deposits[lesion["id"]] = node
    return markups


def showSegmentationsIn3D(segmentationNodes, lesionsNode) -> None:
    """Closed surfaces for the 3D view; structures see-through so the lesion and needle inside stay visible."""
    for node in segmentationNodes:
        node.CreateClosedSurfaceRepresentation()
        display = node.GetDisplayNode()
        if display is not None and node is not lesionsNode:
            display.SetOpacity3D(STRUCTURE_OPACITY_3D)


# --------------------------------------------------------------------- key images of a plan


@dataclass
class RenderedPlan:
    """The key images of a plan and where each view put the trajectory's entry and target
    (``pixels[(lesion, rank, view)] = {"entry": (column, row), "target": (column, row)}``).
    """

    keyImages: KeyImages
    pixels: dict = field(default_factory=dict)


def rendererDescription() -> str:
    """The renderer, as the report names it."""
    import importlib.metadata

    try:
        version = f"slicer-core {importlib.metadata.version('slicer-core')}"
    except importlib.metadata.PackageNotFoundError:
        version = "3D Slicer"
    return f"3D Slicer's displayable managers ({version}, VTK {vtk.vtkVersion.GetVTKVersion()}), off screen"


def renderPlan(
    context: SlicerContext, plan: dict, ctNode, segmentationNodes, lesionsNode, size=VIEW_SIZE
) -> RenderedPlan:
    """Axial, along-the-needle and 3D views of each lesion's chosen path (see :func:`chosenPath`).

    The slice planes are the core's report planes (:func:`hitit.report.figures.trajectory_plane`), so the
    Slicer pictures and the core's fallback figures show the same part of the CT.
    """
    markups = addPlanMarkups(context, plan)
    showSegmentationsIn3D(segmentationNodes, lesionsNode)
    sliceView, threeDView = SliceView(context, "Red", size), ThreeDView(context, "1", size)
    images, pixels = {}, {}
    try:
        sliceView.setBackgroundVolume(ctNode)
        for lesion in plan["lesions"]:
            trajectory = chosenPath(lesion)
            if trajectory is None:
                continue
            key = (lesion["id"], int(trajectory["rank"]))
            markups.showOnly(lesion["id"])
            entry, target = rasFromLPS(trajectory["entry_lps"]), rasFromLPS(trajectory["target_lps"])
            for kind in ("axial", "oblique"):
                plane = trajectory_plane(
                    np.asarray(trajectory["entry_lps"]), np.asarray(trajectory["target_lps"]), kind
                )
                width, height = ((n - 1) * plane.pixel_mm for n in plane.size)
                # centred as trajectory_plane centres it: on the target (axial), on the needle's middle (oblique)
                centre = (
                    np.asarray(trajectory["target_lps"])
                    if kind == "axial"
                    else (np.asarray(trajectory["entry_lps"]) + np.asarray(trajectory["target_lps"])) / 2
                )
                # the core's plane rows run along v (down the image): screen up is -v
                sliceView.showPlane(rasFromLPS(centre), rasFromLPS(plane.u), rasFromLPS(-plane.v), width, height)
                images[(*key, kind)] = pngFromRGB(sliceView.render())
                pixels[(*key, kind)] = {"entry": sliceView.pixelOf(entry), "target": sliceView.pixelOf(target)}
            up, side = _threeDAxes(entry, target)
            threeDView.lookAt((entry + target) / 2, side, up, 4.0 * np.linalg.norm(target - entry) + 200.0)
            images[(*key, "3d")] = pngFromRGB(threeDView.render())
            pixels[(*key, "3d")] = {"entry": threeDView.pixelOf(entry), "target": threeDView.pixelOf(target)}
    finally:
        markups.showOnly(None)
        sliceView.close()
        threeDView.close()
    return RenderedPlan(KeyImages(rendererDescription(), images), pixels)


def _threeDAxes(entryRAS, targetRAS) -> tuple[np.ndarray, np.ndarray]:
    """(view up, camera direction) showing the whole needle side-on: the camera looks perpendicular to the
    needle from the side of the skin entry that faces away from the body's centre line, superior up.
    """
    axis = (targetRAS - entryRAS) / np.linalg.norm(targetRAS - entryRAS)
    superior = np.array([0.0, 0.0, 1.0])
    up = superior - axis * float(axis @ superior)
    up = up / np.linalg.norm(up) if np.linalg.norm(up) > 1e-6 else np.array([0.0, 1.0, 0.0])
    side = np.cross(axis, up)
    anterior = np.array([0.0, 1.0, 0.0])
    return up, (side if side @ anterior >= 0 else -side)


def composeScreenshot(pictures: list[bytes], gap: int = 6) -> bytes:
    """PNG of pictures side by side on black, tops aligned (e.g. the axial, oblique and 3D views)."""
    arrays = [rgbFromPNG(p) for p in pictures]
    height = max(a.shape[0] for a in arrays)
    width = sum(a.shape[1] for a in arrays) + gap * (len(arrays) - 1)
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    column = 0
    for array in arrays:
        canvas[: array.shape[0], column : column + array.shape[1]] = array
        column += array.shape[1] + gap
    return pngFromRGB(canvas)
