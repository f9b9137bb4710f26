"""Was the CT contrast-enhanced? From the user's statement or the CT header, and how that is known.

Necrosis is non-enhancement: only on a contrast-enhanced CT can a region that stays at fluid
attenuation be told from viable tumour, which enhances (:mod:`hitit.lesions.necrosis`). So the
answer, and where it came from, travels with every necrosis measurement:

- the user's statement (``--contrast yes|no``) wins; a header that says otherwise gives a warning;
- else the CT header: DICOM Contrast/Bolus attributes (PS3.3 C.7.6.4; ``ContrastBolusAgent`` and the
  related ingredient, route, volume and dose attributes), or the same keywords in a NRRD/MetaImage
  header (:data:`hitit.io.volumes.HEADER_ATTRIBUTES`). An agent named -> enhanced; an agent of
  "none"/"no" -> not enhanced. A DICOM CT without any of these attributes is taken as unenhanced:
  the CT Image IOD requires the Contrast/Bolus module when contrast was given (PS3.3 Table A.3-1);
- else unknown (a NIfTI file, or a volume made in memory).
"""

from __future__ import annotations

from dataclasses import dataclass

from hitit.errors import InputError

#: Header keywords that say contrast was given when they hold a value (the agent or its ingredient, the
#: route); volume and dose only count when positive, since scanners often write 0 for "not recorded".
AGENT_KEYWORDS = ("ContrastBolusAgent", "ContrastBolusIngredient", "ContrastBolusRoute")
AMOUNT_KEYWORDS = ("ContrastBolusVolume", "ContrastBolusTotalDose")
#: Values of an agent attribute that mean "no contrast" (compared in lower case).
NO_AGENT_VALUES = ("none", "no", "n/a", "na", "nil", "0", "-", "without", "non-contrast", "unenhanced")
#: Values of ``--contrast``.
STATEMENTS = ("yes", "no")


@dataclass(frozen=True)
class Contrast:
    """Whether the CT is contrast-enhanced (None: unknown) and how that is known (one sentence)."""

    enhanced: bool | None
    source: str

    def to_dict(self) -> dict:
        """JSON-ready record."""
        return {"enhanced": self.enhanced, "source": self.source}


def contrast_from_header(metadata: dict[str, str]) -> Contrast:
    """The contrast state a CT header states (``Volume.metadata``), see the module docstring."""
    header = metadata.get("HeaderFormat", "")
    for keyword in AGENT_KEYWORDS:
        value = str(metadata.get(keyword, "")).strip()
        if value and value.lower() in NO_AGENT_VALUES:
            return Contrast(False, f"CT header ({header or 'file'}): {keyword} = '{value}'")
        if value:
            return Contrast(True, f"CT header ({header or 'file'}): {keyword} = '{value}'")
    for keyword in AMOUNT_KEYWORDS:
        try:
            amount = float(metadata.get(keyword, "") or 0.0)
        except ValueError:
            continue
        if amount > 0:
            return Contrast(True, f"CT header ({header or 'file'}): {keyword} = {amount:g}")
    if header == "DICOM":
        return Contrast(
            False,
            "CT header (DICOM): no Contrast/Bolus attributes, which a CT image must carry when contrast was given",
        )
    return Contrast(
        None,
        f"the CT {'file (' + header + ')' if header else 'volume'} does not say whether contrast "
        "was given: state it with --contrast yes|no",
    )


def resolve_contrast(stated: str | None, metadata: dict[str, str]) -> tuple[Contrast, list[str]]:
    """The contrast state from the user's statement (``yes``/``no``/None) or the header, and any warning."""
    header = contrast_from_header(metadata)
    if stated is None:
        return header, []
    if stated not in STATEMENTS:
        raise InputError(f"Unknown contrast statement {stated!r}: use yes or no.")
    enhanced = stated == "yes"
    warnings = []
    if header.enhanced is not None and header.enhanced != enhanced:
        warnings.append(f"Contrast stated as '{stated}' but the {header.source}: the statement is used.")
    return Contrast(enhanced, f"stated by the user (contrast {stated})"), warnings
