"""Reading a user's JSON file with an error that names the file and the place it breaks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hitit.errors import InputError


def read_json(path: str | Path, what: str) -> Any:
    """The parsed content of the JSON file ``path``; :class:`InputError` naming ``what`` when missing or invalid."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what.capitalize()} not found: {path}.")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InputError(f"{path} is not valid JSON ({error.msg} at line {error.lineno}).") from None
