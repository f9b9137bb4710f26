"""Round trip: plan on a DICOM CT -> export-dicom (SEG + SR TID 1500) -> dciodvfy, dcmqi and highdicom
read-back -> study-from-sr; bad input refused in one line with nothing written.
"""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from dicom_data import TEST_PATIENT_ID, TEST_PATIENT_NAME, ct_series_with_uids, rtutils_rtstruct, tool

from hitit.cli.main import main
from hitit.dicom.export import tracking_uid
from hitit.geometry import mask_onto_grid
from hitit.io.segmentations import read_structures
from hitit.response.study import load_study


def _ball(grid, organ_mask, radius_mm):
    """The part of ``organ_mask`` within ``radius_mm`` of its centroid (a lesion inside the organ)."""
    k, j, i = np.nonzero(organ_mask)
    centre = grid.index_to_lps(np.array([i.mean(), j.mean(), k.mean()]))
    kk, jj, ii = np.indices(grid.shape)
    points = grid.index_to_lps(np.stack([ii, jj, kk], axis=-1))
    return (np.linalg.norm(points - centre, axis=-1) <= radius_mm) & organ_mask


@pytest.fixture(scope="module")
def exported(tmp_path_factory, ts_dicom_dir, ts_dicom_truth, ts_dcmqi_seg):
    """A plan of two lesions (read from an RTSTRUCT) on the DICOM CT, and its DICOM export."""
    ct, truth = ts_dicom_truth
    root = tmp_path_factory.mktemp("export")
    lesions = {"L1": _ball(ct.grid, truth["liver"], 12.0), "L2": _ball(ct.grid, truth["spleen"], 10.0)}
    lesion_file = rtutils_rtstruct(ts_dicom_dir, lesions, root / "lesions.rtstruct.dcm")
    plan_dir, out = root / "plan", root / "dicom"
    assert (
        main(
            [
                "plan",
                "--ct",
                str(ts_dicom_dir),
                "--structures",
                str(ts_dcmqi_seg),
                "--lesions",
                str(lesion_file),
                "--protocol",
                "pv10",
                "--out",
                str(plan_dir),
            ]
        )
        == 0
    )
    assert main(["export-dicom", "--plan", str(plan_dir), "--ct", str(ts_dicom_dir), "--out", str(out)]) == 0
    plan = json.loads((plan_dir / "plan.json").read_text(encoding="utf-8"))
    return {
        "ct": ct,
        "lesions": lesions,
        "plan_dir": plan_dir,
        "plan": plan,
        "out": out,
        "root": root,
        "seg": out / "lesions.seg.dcm",
        "sr": out / "measurements.sr.dcm",
    }


def test_plan_folder_keeps_the_lesion_masks_and_no_patient(exported):
    masks = read_structures(exported["plan_dir"] / "lesions.seg.nrrd", exported["ct"].grid)
    assert set(masks) == set(exported["lesions"])
    assert all(np.array_equal(masks[n], m) for n, m in exported["lesions"].items())
    for name in ("plan.json", "lesions.csv", "report.html"):
        text = (exported["plan_dir"] / name).read_text(encoding="utf-8")
        assert TEST_PATIENT_ID not in text and TEST_PATIENT_NAME not in text, name


def test_dciodvfy_finds_no_error(exported):
    for path in (exported["seg"], exported["sr"]):
        run = subprocess.run([str(tool("dciodvfy")), str(path)], capture_output=True, text=True)
        errors = [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")]
        assert not errors, f"{path.name}: {errors}"


def test_dcmqi_reads_the_seg_voxel_for_voxel(exported, tmp_path):
    run = subprocess.run(
        [
            str(tool("segimage2itkimage")),
            "--inputDICOM",
            str(exported["seg"]),
            "--outputDirectory",
            str(tmp_path),
            "-t",
            "nrrd",
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    attributes = json.loads((tmp_path / "meta.json").read_text(encoding="utf-8"))["segmentAttributes"]
    read = {}
    for number, segments in enumerate(attributes, start=1):
        (segment,) = segments
        image = sitk.ReadImage(str(tmp_path / f"{number}.nrrd"))
        read[segment["SegmentLabel"]] = mask_onto_grid(image, exported["ct"].grid)
        assert segment["SegmentedPropertyTypeCodeSequence"]["CodeValue"] == "108369006"  # Neoplasm
        assert segment["SegmentedPropertyCategoryCodeSequence"]["CodeValue"] == "49755003"
    assert set(read) == set(exported["lesions"])
    for name, mask in exported["lesions"].items():
        assert np.array_equal(read[name], mask), name


def _tid1500(path: Path, tmp_path: Path) -> dict:
    out = tmp_path / f"{path.stem}.json"
    run = subprocess.run(
        [str(tool("tid1500reader")), "--inputDICOM", str(path), "--outputMetadata", str(out)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    return json.loads(out.read_text(encoding="utf-8"))


def _patient_key(ct_dir: Path) -> str:
    """Issuer and Patient ID of the test CT, as tracking UIDs are derived from them."""
    ct = pydicom.dcmread(sorted(ct_dir.iterdir())[0], stop_before_pixels=True)
    return f"{ct.get('IssuerOfPatientID', '')}^{ct.PatientID}"


def test_dcmqi_reads_the_measurements_of_the_plan(exported, ts_dicom_dir, tmp_path):
    report = _tid1500(exported["sr"], tmp_path)
    by_id = {m["TrackingIdentifier"]: m for m in report["Measurements"]}
    plan_lesions = {lesion["id"]: lesion for lesion in exported["plan"]["lesions"]}
    assert set(by_id) == set(plan_lesions)
    seg = pydicom.dcmread(exported["seg"])
    labels = {int(s.SegmentNumber): s.SegmentLabel for s in seg.SegmentSequence}
    for lesion_id, group in by_id.items():
        lesion = plan_lesions[lesion_id]
        values = {
            item["quantity"]["CodeMeaning"]: (float(item["value"]), item["units"]["CodeValue"])
            for item in group["measurementItems"]
        }
        assert (
            values["Volume"][0] == pytest.approx(lesion["measurement"]["volume_ml"], abs=0.1)
            and values["Volume"][1] == "ml"
        )
        assert values["Long axis"][0] == pytest.approx(lesion["measurement"]["longest_diameter_mm"], abs=0.1)
        assert values["Short axis"][0] == pytest.approx(lesion["measurement"]["short_axis_mm"], abs=0.1)
        assert values["Long axis"][1] == values["Short axis"][1] == "mm"
        assert values["Planned intratumoral injectate volume"][0] == pytest.approx(
            lesion["allocation"]["injectate_ml"], abs=0.1
        )
        assert labels[group["ReferencedSegment"]] == lesion_id
        assert group["segmentationSOPInstanceUID"] == seg.SOPInstanceUID
        assert group["FindingSite"]["CodeMeaning"].lower() == lesion["measurement"]["organ"]
        assert group["TrackingUniqueIdentifier"] == tracking_uid(_patient_key(ts_dicom_dir), lesion_id)
    assert any(lesion["allocation"]["injectate_ml"] > 0 for lesion in plan_lesions.values())


def test_objects_join_the_ct_study_in_new_series(exported, ts_dicom_dir):
    import highdicom as hd

    ct = pydicom.dcmread(sorted(ts_dicom_dir.iterdir())[0], stop_before_pixels=True)
    seg, sr = hd.seg.segread(exported["seg"]), hd.sr.srread(exported["sr"])
    for obj in (seg, sr):
        assert obj.StudyInstanceUID == ct.StudyInstanceUID and obj.PatientID == ct.PatientID
        assert obj.PatientName == ct.PatientName and obj.SeriesInstanceUID != ct.SeriesInstanceUID
    assert seg.FrameOfReferenceUID == ct.FrameOfReferenceUID
    assert {seg.get_segment_description(n).segment_label for n in seg.get_segment_numbers()} == set(exported["lesions"])
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == ct.SeriesInstanceUID
    # highdicom reads the segments back on the CT grid as the plan has them
    assert (
        read_structures(exported["seg"], exported["ct"].grid, reference=exported["ct"].dicom).keys()
        == exported["lesions"].keys()
    )


def _with_changes(sr_path: Path, out: Path, study_date: str, scale: float) -> Path:
    """A copy of an SR report with another study date and every length multiplied by ``scale``."""
    dataset = pydicom.dcmread(sr_path)
    dataset.StudyDate = study_date
    dataset.SOPInstanceUID = pydicom.uid.generate_uid()
    for item in dataset.iterall():
        if item.keyword == "MeasuredValueSequence":
            value = item.value[0]
            if value.MeasurementUnitsCodeSequence[0].CodeValue == "mm":
                value.NumericValue = f"{float(value.NumericValue) * scale:.2f}"
                if "FloatingPointValue" in value:  # highdicom stores the full-precision value beside the DS
                    value.FloatingPointValue = float(value.NumericValue)
    dataset.save_as(out)
    return out


def test_study_from_reports_round_trip(exported, tmp_path, capsys):
    later = _with_changes(exported["sr"], tmp_path / "week8.sr.dcm", "20230201", 0.5)
    defaults = tmp_path / "defaults.json"
    # reports given out of order: time points come by date
    assert main(["study-from-sr", str(later), str(exported["sr"]), "--out", str(defaults)]) == 0
    err = capsys.readouterr().err
    assert "L1, L2" in err and "injected_from" in err and "--roles" in err
    study = load_study(defaults)  # schema and rules
    assert [tp.id for tp in study.timepoints] == ["2022-12-08", "2023-02-01"]
    plan = {lesion["id"]: lesion["measurement"] for lesion in exported["plan"]["lesions"]}
    for lesion in study.lesions:
        assert lesion.role == "target" and lesion.injected_from is None
        assert lesion.measurements["2022-12-08"] == pytest.approx(plan[lesion.id]["longest_diameter_mm"], abs=0.01)
        assert lesion.measurements["2023-02-01"] == pytest.approx(
            plan[lesion.id]["longest_diameter_mm"] * 0.5, abs=0.01
        )
    roles = tmp_path / "roles.csv"
    roles.write_text("lesion_id,role,nodal,injected_from\nL1,target,no,2022-12-08\n", encoding="utf-8")
    study_path = tmp_path / "study.json"
    assert (
        main(["study-from-sr", str(exported["sr"]), str(later), "--roles", str(roles), "--out", str(study_path)]) == 0
    )
    lesions = {lesion.id: lesion for lesion in load_study(study_path).lesions}
    assert lesions["L1"].injected_from == "2022-12-08" and lesions["L2"].injected_from is None
    assert main(["response", str(study_path), "--out", str(tmp_path / "response")]) == 0
    response = json.loads((tmp_path / "response" / "response.json").read_text(encoding="utf-8"))
    assert '"PR"' in json.dumps(response)  # both targets halved: partial response
    roles.write_text("lesion_id,role,nodal,injected_from\nL2,non-target,no,\n", encoding="utf-8")
    # labels name the time points of the reports they go with
    assert (
        main(
            [
                "study-from-sr",
                str(later),
                str(exported["sr"]),
                "--label",
                "week8",
                "--label",
                "baseline",
                "--roles",
                str(roles),
                "--out",
                str(tmp_path / "labelled.json"),
            ]
        )
        == 0
    )
    labelled = load_study(tmp_path / "labelled.json")
    assert [tp.id for tp in labelled.timepoints] == ["baseline", "week8"]
    non_target = next(lesion for lesion in labelled.lesions if lesion.id == "L2")
    assert non_target.role == "non-target" and non_target.status == {"baseline": "present", "week8": "present"}
    assert not non_target.measurements


def test_study_from_sr_bad_input(exported, tmp_path, capsys):
    out = tmp_path / "study.json"
    assert "not a DICOM structured report" in _refused(
        ["study-from-sr", str(exported["seg"]), "--out", str(out)], out, capsys
    )
    assert "same time point" in _refused(
        ["study-from-sr", str(exported["sr"]), str(exported["sr"]), "--out", str(out)], out, capsys
    )


# --------------------------------------------------------------------- bad input: one line, exit 2, nothing written
def _refused(argv: list[str], out: Path, capsys) -> str:
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert not out.exists()
    return err


def test_ct_without_uids_is_refused(exported, ts_dir, tmp_path, capsys):
    out = tmp_path / "out"
    err = _refused(
        [
            "export-dicom",
            "--plan",
            str(exported["plan_dir"]),
            "--ct",
            str(ts_dir / "dicom_20slices"),
            "--out",
            str(out),
        ],
        out,
        capsys,
    )
    assert "Study Instance UID" in err and "SOP Instance UID" in err


def test_patient_id_or_seed_keeps_tracking_uids(exported, ts_dir, ts_dicom_dir, tmp_path, capsys):
    anonymous = ct_series_with_uids(
        ts_dir / "dicom_20slices", tmp_path / "anonymous", study_uid="2.25.42", series_uid="2.25.43", patient_id=""
    )
    out = tmp_path / "out"
    assert "--tracking-seed" in _refused(
        ["export-dicom", "--plan", str(exported["plan_dir"]), "--ct", str(anonymous), "--out", str(out)], out, capsys
    )
    assert (
        main(
            [
                "export-dicom",
                "--plan",
                str(exported["plan_dir"]),
                "--ct",
                str(anonymous),
                "--out",
                str(out),
                "--tracking-seed",
                "patient 17",
            ]
        )
        == 0
    )
    first = {
        m["TrackingIdentifier"]: m["TrackingUniqueIdentifier"]
        for m in _tid1500(out / "measurements.sr.dcm", tmp_path)["Measurements"]
    }
    assert (
        main(
            [
                "export-dicom",
                "--plan",
                str(exported["plan_dir"]),
                "--ct",
                str(anonymous),
                "--out",
                str(tmp_path / "again"),
                "--tracking-seed",
                "patient 17",
            ]
        )
        == 0
    )
    again = {
        m["TrackingIdentifier"]: m["TrackingUniqueIdentifier"]
        for m in _tid1500(tmp_path / "again" / "measurements.sr.dcm", tmp_path)["Measurements"]
    }
    assert first == again and len(set(first.values())) == 2
    assert set(first.values()).isdisjoint(tracking_uid(_patient_key(ts_dicom_dir), lesion) for lesion in first)


def test_plan_of_another_grid_is_refused(exported, ts_dicom_dir, tmp_path, capsys, teaching_case_files):
    out = tmp_path / "out"
    other_plan = tmp_path / "plan"
    other_plan.mkdir()
    (other_plan / "plan.json").write_text(json.dumps(exported["plan"]), encoding="utf-8")
    from hitit.io.segmentations import write_seg_nrrd
    from hitit.io.volumes import read_volume

    teaching = read_volume(teaching_case_files["ct"])
    write_seg_nrrd(other_plan / "lesions.seg.nrrd", teaching.grid, {"L1": np.ones(teaching.grid.shape, bool)})
    err = _refused(
        ["export-dicom", "--plan", str(other_plan), "--ct", str(ts_dicom_dir), "--out", str(out)], out, capsys
    )
    assert "another CT grid" in err


def test_include_patient_id_is_opt_in(ts_dicom_dir, ts_dcmqi_seg, exported, tmp_path, capsys, teaching_case_files):
    plan_dir = tmp_path / "plan"
    lesion_file = exported["root"] / "lesions.rtstruct.dcm"
    assert (
        main(
            [
                "plan",
                "--ct",
                str(ts_dicom_dir),
                "--structures",
                str(ts_dcmqi_seg),
                "--lesions",
                str(lesion_file),
                "--protocol",
                "pv10",
                "--include-patient-id",
                "--out",
                str(plan_dir),
            ]
        )
        == 0
    )
    plan = json.loads((plan_dir / "plan.json").read_text(encoding="utf-8"))
    assert plan["patient"] == {"id": TEST_PATIENT_ID, "name": TEST_PATIENT_NAME}
    with (plan_dir / "lesions.csv").open(encoding="utf-8") as handle:
        assert {row["patient_id"] for row in csv.DictReader(handle)} == {TEST_PATIENT_ID}
    assert TEST_PATIENT_NAME in (plan_dir / "report.html").read_text(encoding="utf-8")
    capsys.readouterr()
    out = tmp_path / "nrrd-plan"
    assert "--include-patient-id" in _refused(
        [
            "plan",
            "--ct",
            str(teaching_case_files["ct"]),
            "--lesions",
            str(teaching_case_files["lesions"]),
            "--include-patient-id",
            "--out",
            str(out),
        ],
        out,
        capsys,
    )


def test_export_never_overwrites_a_users_file(exported, ts_dicom_dir, tmp_path, capsys):
    """An export folder holding the user's own lesions.seg.dcm is refused, the file untouched; an
    export HITIT wrote before is replaced as a whole, the user's other files kept.
    """
    out = tmp_path / "pacs"
    out.mkdir()
    (out / "lesions.seg.dcm").write_bytes(b"the user's own file")
    code = main(["export-dicom", "--plan", str(exported["plan_dir"]), "--ct", str(ts_dicom_dir), "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "lesions.seg.dcm" in err, err
    assert sorted(p.name for p in out.iterdir()) == ["lesions.seg.dcm"]
    assert (out / "lesions.seg.dcm").read_bytes() == b"the user's own file"
    (out / "lesions.seg.dcm").unlink()
    (out / "notes.txt").write_text("keep me", encoding="utf-8")
    for _ in range(2):  # the second run replaces the set the first wrote
        assert (
            main(["export-dicom", "--plan", str(exported["plan_dir"]), "--ct", str(ts_dicom_dir), "--out", str(out)])
            == 0
        )
    assert pydicom.dcmread(out / "lesions.seg.dcm").Modality == "SEG"
    assert (out / "notes.txt").read_text(encoding="utf-8") == "keep me"
