"""Write a plan folder: ``plan.json``, ``trajectories.mrk.json``, ``deposits.mrk.json``,
``accessibility_<lesion>.vtp``, ``lesions.csv`` and ``report.html``.

:func:`write_plan` writes the folder of a computed plan. The writers read the plan's JSON-ready dict
(the same one ``plan.json`` holds), so the command line and the Slicer module export identical folders.
The folder is one output set (:mod:`hitit.io.outdir`): an earlier plan there is replaced as a whole once
everything is written, and files the user keeps in the folder are never touched.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from vtkmodules.util import numpy_support
from vtkmodules.vtkCommonCore import vtkPoints, vtkStringArray
from vtkmodules.vtkCommonDataModel import vtkPolyData
from vtkmodules.vtkIOXML import vtkXMLPolyDataWriter

from hitit.errors import InputError
from hitit.io.atomic import write_text_atomic
from hitit.geometry import Grid
from hitit.io.markups import Markup, write_markups
from hitit.io.outdir import write_output_set
from hitit.io.segmentations import write_seg_nrrd
from hitit.plan.plan_file import check_plan
from hitit.plan.lesion_table import LESION_COLUMNS, deposit_list, lesion_rows
from hitit.plan.report import build_report
from hitit.plan.trajectory_lines import trajectory_lines
from hitit.report.figures import render_skin_map
from hitit.report.key_images import KeyImages

if TYPE_CHECKING:
    from hitit.case import Case
    from hitit.plan.pipeline import Plan

#: Colour of the deposit point lists (trajectory lines take theirs from :mod:`hitit.plan.trajectory_lines`).
DEPOSIT_COLOR = (1.0, 0.85, 0.0)
#: zlib level of the model files: level 5 writes the teaching case's skin map (45 000 points) to 0.9 MB
#: in 0.2 s; level 9 saves 1 % more at five times the time. zlib is what Slicer itself writes.
MODEL_COMPRESSION_LEVEL = 5
#: Kind of output set a plan folder is (its marker names it).
PLAN_OUTPUT_KIND = "plan"
#: Files of every plan folder besides the per-lesion accessibility maps.
PLAN_FILES = (
    "plan.json",
    "lesions.csv",
    "trajectories.mrk.json",
    "deposits.mrk.json",
    "report.html",
    "lesions.seg.nrrd",
)
#: The plan folder's copy of the lesion masks (one segment per lesion id, on the CT grid), so that
#: ``hitit export-dicom`` needs only the plan folder and the CT series.
LESION_MASKS_FILE = "lesions.seg.nrrd"


def _lesion_table(plan: dict) -> tuple[list[dict], list[str]]:
    """Rows and columns of ``lesions.csv``: a patient_id column only when the plan carries the patient."""
    rows = lesion_rows(plan)
    if not plan.get("patient"):
        return rows, LESION_COLUMNS
    return [{"patient_id": plan["patient"].get("id", ""), **row} for row in rows], ["patient_id", *LESION_COLUMNS]


def _csv_text(rows: list[dict], columns: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else round(v, 3) if isinstance(v, float) else v) for k, v in row.items()})
    return buffer.getvalue()


def trajectory_markups(plan: dict) -> list[Markup]:
    """One line per proposed path (safe ones, and the least-bad ones of a lesion with no safe path), named and
    coloured as the Slicer Planner shows them (:func:`hitit.plan.trajectory_lines.trajectory_lines`).
    """
    return [
        Markup(
            "line",
            line.name,
            [line.entry_lps, line.target_lps],
            labels=[f"{line.name}-entry", f"{line.name}-target"],
            descriptions=[line.description, ""],
            color=line.color,
        )
        for line in trajectory_lines(plan)
    ]


def deposit_markups(plan: dict) -> list[Markup]:
    """One point list per lesion with deposits, each labelled with its needle depth from the skin."""
    lists = []
    for lesion in plan["lesions"]:
        deposits = deposit_list(lesion)
        if deposits:
            lists.append(
                Markup(
                    "points",
                    f"{lesion['id']}-deposits",
                    [d["point_lps"] for d in deposits],
                    labels=[f"{lesion['id']}-D{i + 1} {d['needle_depth_mm']:.0f} mm" for i, d in enumerate(deposits)],
                    descriptions=[
                        f"{d['volume_ml']:.2f} mL at {d['needle_depth_mm']:.1f} mm from the skin" for d in deposits
                    ],
                    color=DEPOSIT_COLOR,
                )
            )
    return lists


def write_plan(
    plan: Plan,
    case: Case,
    out_dir: str | Path,
    patient: dict[str, str] | None = None,
    key_images: KeyImages | None = None,
) -> dict[str, Path]:
    """Write the plan folder for ``plan`` computed on ``case``; returns the written paths by kind.

    No patient name or id is written unless ``patient`` (``{"id": ..., "name": ...}``) is given:
    then ``plan.json``, ``lesions.csv`` and the report carry it. ``key_images``: views of the chosen
    paths drawn by another renderer for the report (see :func:`build_report`).
    """
    plan_dict = plan.to_dict()
    if patient:
        plan_dict["patient"] = dict(patient)
    polydata = {lesion.lesion_id: lesion.target.accessibility_polydata() for lesion in plan.lesions}
    pictures = {lesion.lesion_id: skin_map_png(lesion.target) for lesion in plan.lesions}
    lesions = {lesion.lesion_id: case.lesions[lesion.lesion_id] for lesion in plan.lesions}
    return write_plan_folder(
        plan_dict, out_dir, polydata, build_report(plan_dict, case, pictures, key_images), (case.grid, lesions)
    )


def skin_map_png(target) -> bytes:
    """The skin accessibility picture of one :class:`~hitit.trajectories.planner.TargetPlan` (PNG bytes)."""
    skin = target.skin
    paths = target.trajectories or target.least_bad
    marks = [(str(rank), np.asarray(t.entry_lps)) for rank, t in enumerate(paths, start=1)]
    return render_skin_map(
        skin.points_lps,
        skin.normals_lps,
        target.arrays["score"],
        target.arrays["reason"],
        marks,
        f"{target.target_id}: {target.counts.get('feasible', 0)} safe skin entries",
    )


def write_polydata(polydata, path: Path) -> Path:
    """Write LPS-mm polydata as a zlib-compressed ``.vtp`` model that Slicer loads where it belongs.

    The coordinate system is marked the way Slicer's model storage node writes and reads it: a
    ``SPACE`` string array in the field data holding ``LPS``. Points are stored as 32-bit floats
    (0.01 um at 200 mm, far below a voxel) and cells with 32-bit indices; the input is not changed.
    """
    out = vtkPolyData()
    out.ShallowCopy(polydata)
    points = vtkPoints()
    points.SetData(
        numpy_support.numpy_to_vtk(
            numpy_support.vtk_to_numpy(polydata.GetPoints().GetData()).astype(np.float32), deep=True
        )
    )
    out.SetPoints(points)
    polys = polydata.GetPolys().NewInstance()
    polys.DeepCopy(polydata.GetPolys())
    polys.ConvertTo32BitStorage()
    out.SetPolys(polys)
    space = vtkStringArray()
    space.SetName("SPACE")
    space.InsertNextValue("LPS")
    out.GetFieldData().AddArray(space)
    writer = vtkXMLPolyDataWriter()
    writer.SetFileName(str(path))
    writer.SetInputData(out)
    writer.SetDataModeToAppended()
    writer.EncodeAppendedDataOff()
    writer.SetCompressorTypeToZLib()
    writer.SetCompressionLevel(MODEL_COMPRESSION_LEVEL)
    if not writer.Write():
        raise InputError(f"Could not write {path}.")
    return path


def plan_file_names(lesion_ids: list[str]) -> list[str]:
    """Names of the files a plan folder of these lesions holds (deposits.mrk.json only when there are deposits)."""
    return [*PLAN_FILES, *(accessibility_file_name(lesion_id) for lesion_id in lesion_ids)]


def accessibility_file_name(lesion_id: str) -> str:
    """File name of a lesion's accessibility model in the plan folder."""
    return f"accessibility_{lesion_id}.vtp"


def write_plan_folder(
    plan: dict,
    out_dir: str | Path,
    polydata: dict[str, object],
    report_html: str,
    lesions: tuple[Grid, dict] | None = None,
) -> dict[str, Path]:
    """Write every plan file into ``out_dir`` as one output set (see :func:`hitit.io.outdir.write_output_set`):
    a previous plan there is replaced as a whole, the user's own files are never touched.

    ``lesions`` = (CT grid, lesion masks by id) adds :data:`LESION_MASKS_FILE`; the plan is checked against
    its schema first (:func:`hitit.plan.plan_file.check_plan`), so a plan its readers would refuse is never written.
    """
    text = plan_json_text(plan)
    check_plan(json.loads(text), "the plan to write")

    def write(staging: Path) -> dict[str, Path]:
        files = {
            "plan": staging / "plan.json",
            "lesions_csv": staging / "lesions.csv",
            "trajectories": staging / "trajectories.mrk.json",
            "report": staging / "report.html",
        }
        write_text_atomic(files["plan"], text)
        write_text_atomic(files["lesions_csv"], _csv_text(*_lesion_table(plan)))
        write_markups(files["trajectories"], trajectory_markups(plan))
        deposits = deposit_markups(plan)
        if deposits:
            files["deposits"] = write_markups(staging / "deposits.mrk.json", deposits)
        for lesion_id, poly in polydata.items():
            files[f"accessibility_{lesion_id}"] = write_polydata(poly, staging / accessibility_file_name(lesion_id))
        write_text_atomic(files["report"], report_html)
        if lesions is not None:
            files["lesions_seg"] = write_seg_nrrd(staging / LESION_MASKS_FILE, *lesions, crop=True)
        return files

    return write_output_set(out_dir, PLAN_OUTPUT_KIND, write)


#: A list of numbers as the indenter writes it: one number per line (a newline cannot occur inside
#: a JSON string, so this never matches string content).
_NUMBER_LIST = re.compile(r"\[\n\s*(-?[0-9][-+0-9.eE]*(?:,\n\s*-?[0-9][-+0-9.eE]*)*)\n\s*\]")


def plan_json_text(plan: dict) -> str:
    """``plan.json`` text: indented objects, each list of numbers (a point, a direction) on one line."""
    text = json.dumps(plan, indent=1, default=_json_default)
    return _NUMBER_LIST.sub(lambda m: "[" + ", ".join(v.strip() for v in m.group(1).split(",")) + "]", text) + "\n"


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (set, tuple)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"Not JSON serialisable: {type(value).__name__}")
