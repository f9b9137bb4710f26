"""DICOM out and back: a plan's lesions as DICOM SEG + SR TID 1500, response studies from TID 1500 reports.

- ``ct_series``: the CT series' headers (identity, patient and study attributes, grid).
- ``concepts``: the coded concepts written (segment category/type, measurements, units, finding sites).
- ``export``: ``lesions.seg.dcm`` and ``measurements.sr.dcm`` from a plan folder and its CT series.
- ``measurement_reports``: TID 1500 reports read back as per-lesion measurements (``hitit study-from-sr``).

Reading SEG and RTSTRUCT as structures lives in ``hitit.io`` (``dicom_seg``, ``rtstruct``).
"""
