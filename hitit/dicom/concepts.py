"""Coded concepts HITIT writes into DICOM SEG and SR objects, and why each was chosen.

Standard codes come from pydicom's tables of the DICOM standard (PS3.16), never typed in here,
except the one concept the standard does not have (the planned injectate volume, see below).

- Segments: category SCT 49755003 "Morphologically abnormal structure" (renamed "Morphologically
  altered structure" in newer SNOMED CT releases; the code is the same), type SCT 108369006
  "Neoplasm": a lesion planned for intratumoral injection is a tumour of unstated histology
  (CID 7150/7151, as QuantitativeReporting and OHIF label lesions).
- Measurements (TID 1410/1411 in TID 1500): SCT 118565006 "Volume" in UCUM ``ml``; SCT 103339001
  "Long axis" and SCT 103340004 "Short axis" in UCUM ``mm`` (the RECIST 1.1 longest diameter and
  short axis, CID 7470 linear measurements, the names OHIF and QuantitativeReporting use for
  bidirectional measurements).
- Planned injectate volume: private code ``99HITIT`` ``PLANNED-INJ-VOL`` "Planned
  intratumoral injectate volume" in UCUM ``ml``. The standard has DCM 122091 "Volume administered"
  (a delivered drug quantity, TID 3410) and DCM 122321 "Injectate Volume" (the injectate of a
  thermodilution cardiac output measurement); either would let a reader take a plan for a
  delivered dose or for a haemodynamic measurement, so a private concept (a coding scheme
  designator starting with "99", PS3.3 §8.2) names what the number is.
- Finding site: the SNOMED CT code of the lesion's host organ when the plan knows it and pydicom's
  tables name it (``kidney_left`` -> Kidney); otherwise no finding site is written.
"""

from __future__ import annotations

import re

#: Private coding scheme of concepts the standard lacks (PS3.3 §8.2: designators starting with "99").
HITIT_SCHEME = "99HITIT"


def concept(scheme: str, keyword: str):
    """The highdicom CodedConcept of a pydicom code keyword (``concept("SCT", "Volume")``)."""
    from highdicom.sr import CodedConcept
    from pydicom.sr.codedict import codes

    code = getattr(getattr(codes, scheme), keyword)
    return CodedConcept(code.value, code.scheme_designator, code.meaning)


def segment_category():
    """Segmented property category of a lesion: SCT 49755003."""
    return concept("SCT", "MorphologicallyAbnormalStructure")


def segment_type():
    """Segmented property type of a lesion: SCT 108369006 Neoplasm."""
    return concept("SCT", "Neoplasm")


def planned_injectate_volume():
    """The (private) concept of the planned injectate volume; see the module docstring for why."""
    from highdicom.sr import CodedConcept

    return CodedConcept("PLANNED-INJ-VOL", HITIT_SCHEME, "Planned intratumoral injectate volume")


def finding_site(organ: str | None):
    """SNOMED CT concept of a host organ name (``liver``, ``kidney_left``, ``lung_upper_lobe_left``), or None.

    The name is tried as a pydicom SCT keyword in CamelCase, dropping trailing words (side,
    lobe, segment) until one is known.
    """
    from pydicom.sr.codedict import codes

    if not organ:
        return None
    words = [w for w in re.split(r"[\s_\-.]+", organ.strip().lower()) if w]
    for end in range(len(words), 0, -1):
        keyword = "".join(w.capitalize() for w in words[:end])
        if keyword in codes.SCT.dir():
            return concept("SCT", keyword)
    return None
