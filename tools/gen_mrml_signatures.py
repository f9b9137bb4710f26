"""Generate ``Testing/Data/slicer/mrml-signatures.json``: how many arguments each wrapped method of Slicer's
VTK/MRML classes accepts, read from the ``slicer-core`` wheel (Slicer's real core libraries built for PyPI).

VTK's Python wrapper writes every overload's signature at the head of the method's docstring, e.g.
``AddControlPoint(self, x:float, y:float, z:float, label:str=...) -> int``; a parameter with ``=...`` may be
left out. For every class reachable from ``import slicer`` (``vtkMRML*``, ``vtkSlicer*``, ``vtkSegment*``,
``vtkOrientedImageData*`` and their VTK base classes) the methods the class itself defines are listed as
``[[min, max], ...]`` per overload, with the Python base class to follow for inherited ones.

Usage (in an environment where ``pip install slicer-core`` was done)::

    python tools/gen_mrml_signatures.py --out Testing/Data/slicer/mrml-signatures.json

The output has no timestamps: the same wheel gives the same file.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import sys
from pathlib import Path

SCHEMA = "hitit-mrml-signatures/1"
PREFIXES = ("vtkMRML", "vtkSlicer", "vtkSegment", "vtkOrientedImageData")


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    return [p.strip() for p in [*parts, current] if p.strip()]


def overloads(name: str, doc: str | None) -> list[list[int]]:
    """``[[min, max], ...]`` argument counts (``self`` not counted) of each overload in a wrapped docstring."""
    if not doc:
        return []
    heads, current = [], None
    for line in doc.splitlines():
        if line.startswith(f"{name}("):
            current = line
            heads.append(current)
        elif current is not None and line.startswith("    ") and not line.startswith("C++"):
            heads[-1] += " " + line.strip()
        else:
            current = None
    result = []
    for head in heads:
        depth, end = 0, None
        for i, ch in enumerate(head):
            depth += {"(": 1, ")": -1}.get(ch, 0)
            if ch == ")" and depth == 0:
                end = i
                break
        if end is None:
            continue
        params = [p for p in _split_top_level(head[len(name) + 1 : end]) if p != "self"]
        if any(p.startswith("*") for p in params):
            result.append([sum(1 for p in params if "=" not in p and not p.startswith("*")), -1])
            continue
        required = sum(1 for p in params if "=" not in p)
        result.append([required, len(params)])
    return [list(r) for r in sorted({tuple(r) for r in result})]


def collect(slicer_module) -> dict:
    """Own methods and base class of every class reachable from the slicer module."""
    classes, pending = {}, [getattr(slicer_module, n) for n in dir(slicer_module) if n.startswith(PREFIXES)]
    while pending:
        cls = pending.pop()
        if not isinstance(cls, type) or cls.__name__ in classes or not cls.__name__.startswith("vtk"):
            continue
        base = next((b for b in cls.__bases__ if b.__name__.startswith("vtk")), None)
        methods = {}
        for name, value in sorted(vars(cls).items()):
            if name.startswith("_") or not callable(value):
                continue
            found = overloads(name, getattr(value, "__doc__", None))
            if found:
                methods[name] = found
        classes[cls.__name__] = {"base": base.__name__ if base else None, "methods": methods}
        if base is not None:
            pending.append(base)
    return dict(sorted(classes.items()))


def main(argv: list[str] | None = None) -> int:
    """Write the signatures file (``--out``); returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    import slicer  # noqa: PLC0415 - only the generator needs the wheel
    import vtk  # noqa: PLC0415

    classes = collect(slicer)
    data = {
        "schema": SCHEMA,
        "generated_by": "tools/gen_mrml_signatures.py",
        "source": {
            "package": "slicer-core",
            "version": importlib.metadata.version("slicer-core"),
            "vtk": vtk.vtkVersion.GetVTKVersion(),
        },
        "notes": [
            "methods.<name> lists [min, max] argument counts per overload (self not counted; max -1: any number)."
        ],
        "classes": classes,
    }
    Path(args.out).write_text(
        json.dumps(data, indent=None, separators=(",", ":")).replace('},"', '},\n"') + "\n", encoding="utf-8"
    )
    print(
        f"{args.out}: {len(classes)} classes, {sum(len(c['methods']) for c in classes.values())} methods",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
