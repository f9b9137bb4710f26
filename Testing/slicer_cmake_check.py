"""Where the extension's CMake files install each Python script and resource, and which install the same file.

Two rules writing one destination make Ninja stop ("multiple rules generate ...") and make other
generators overwrite one file with the other without a word. Destinations follow Slicer's and CTK's macros:

- ``slicerMacroBuildScriptedModule(NAME n SCRIPTS ... RESOURCES ... [WITH_SUBDIR])``
  (Slicer CMake/SlicerMacroBuildScriptedModule.cmake) hands the files to ``ctkMacroCompilePythonScript`` with
  ``DESTINATION_DIR <qt-scripted-modules>[/<module folder> with WITH_SUBDIR]``;
- ``ctkMacroCompilePythonScript(... SOURCE_DIR s DESTINATION_DIR d ...)`` (CTK CMake/ctkMacroCompilePythonScript.cmake)
  copies each file, keeping its path relative to the source folder, into ``d``; a script named without an
  extension gets ``.py``.

Only the CMake the extension uses is read: ``set``, ``file(GLOB|GLOB_RECURSE ... RELATIVE ...)``,
``add_subdirectory``, ``function`` definitions and calls, and the two macros; both branches of an ``if`` count, as
either may be configured.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path

#: How destinations under Slicer's scripted-module folder are written (the folder itself is left symbolic).
SCRIPTED_MODULES_DIR = "${Slicer_QTSCRIPTEDMODULES_LIB_DIR}"


@dataclass(frozen=True)
class Installed:
    """One file installed by one CMake rule."""

    destination: str  # relative to Slicer's qt-scripted-modules folder
    source: str  # relative to the repository
    rule: str  # e.g. "HITITPlanner/CMakeLists.txt: slicerMacroBuildScriptedModule(HITITPlanner)"


def _commands(text: str):
    """(name, arguments) of each command call in a CMake file (comments removed, quotes stripped)."""
    text = re.sub(r"#[^\n]*", "", text)
    for match in re.finditer(r"(\w+)\s*\(((?:[^()]|\([^()]*\))*)\)", text):
        arguments = [a.strip('"') for a in re.findall(r'"[^"]*"|[^\s]+', match.group(2))]
        yield match.group(1), arguments


def _expand(argument: str, variables: dict[str, list[str]]) -> list[str]:
    """``${VAR}`` replaced by the variable's items (unknown variables stay as written); a list splits on ';'."""
    whole = re.fullmatch(r"\$\{(\w+)\}", argument)
    if whole and whole.group(1) in variables:
        return list(variables[whole.group(1)])
    expanded = re.sub(r"\$\{(\w+)\}", lambda m: ";".join(variables.get(m.group(1), [m.group(0)])), argument)
    return [item for item in expanded.split(";") if item]


def _keywords(arguments: list[str], keywords: set[str]) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    current = None
    for argument in arguments:
        if argument in keywords:
            current = argument
            values.setdefault(current, [])
        elif current:
            values[current].append(argument)
    return values


def _glob(arguments: list[str]) -> list[str]:
    """``file(GLOB[_RECURSE] VAR [RELATIVE dir] [CONFIGURE_DEPENDS] patterns...)`` evaluated on disk."""
    recursive = arguments[0] == "GLOB_RECURSE"
    rest = [a for a in arguments[2:] if a != "CONFIGURE_DEPENDS"]
    relative = None
    if rest[:1] == ["RELATIVE"]:
        relative, rest = Path(rest[1]), rest[2:]
    found = []
    for pattern in rest:
        folder, name = Path(pattern).parent, Path(pattern).name
        candidates = folder.rglob("*") if recursive else folder.glob("*")
        found += [p for p in candidates if p.is_file() and fnmatch.fnmatch(p.name, name)]
    return sorted(str(p.relative_to(relative)) if relative else str(p) for p in set(found))


def _destination_prefix(destination_dir: str) -> str | None:
    """Part of a DESTINATION_DIR below Slicer's scripted-module folder ('' for the folder itself)."""
    if SCRIPTED_MODULES_DIR not in destination_dir:
        return None
    return destination_dir.split(SCRIPTED_MODULES_DIR, 1)[1].strip("/")


def installed_files(
    folder: Path,
    repo: Path | None = None,
    variables: dict[str, list[str]] | None = None,
    functions: dict[str, tuple[list[str], str]] | None = None,
) -> list[Installed]:
    """Every Python script and resource the CMakeLists.txt of ``folder`` (and its subdirectories) installs.

    A ``function(name params...)`` defined there is run where it is called, with its parameters set to
    the call's arguments, as CMake does (``CMAKE_CURRENT_SOURCE_DIR`` is the caller's folder).
    """
    repo = repo or folder
    variables = dict(variables or {})
    functions = dict(functions or {})
    text = (folder / "CMakeLists.txt").read_text(encoding="utf-8")
    text = re.sub(r"#[^\n]*", "", text)
    for match in re.finditer(r"function\s*\(\s*(\w+)([^)]*)\)(.*?)endfunction\s*\([^)]*\)", text, re.S):
        functions[match.group(1)] = (match.group(2).split(), match.group(3))
    text = re.sub(r"function\s*\(.*?endfunction\s*\([^)]*\)", "", text, flags=re.S)
    return _run(text, folder, repo, variables, functions, (folder / "CMakeLists.txt").relative_to(repo).as_posix())


def _run(
    text: str,
    folder: Path,
    repo: Path,
    variables: dict[str, list[str]],
    functions: dict[str, tuple[list[str], str]],
    where: str,
) -> list[Installed]:
    """The files the commands of ``text`` install, run in ``folder``."""
    variables["CMAKE_CURRENT_SOURCE_DIR"] = [str(folder)]
    result: list[Installed] = []
    for name, raw in _commands(text):
        arguments = [item for argument in raw for item in _expand(argument, variables)]
        if name in functions:
            parameters, body = functions[name]
            scope = dict(variables) | {parameter: [value] for parameter, value in zip(parameters, arguments)}
            result += _run(body, folder, repo, scope, functions, where)
        elif name == "set" and arguments:
            variables[arguments[0]] = [a for a in arguments[1:] if a not in ("CACHE", "PARENT_SCOPE")]
        elif name == "file" and arguments[:1] in (["GLOB"], ["GLOB_RECURSE"]):
            variables[arguments[1]] = _glob(arguments)
        elif name == "add_subdirectory" and arguments and (folder / arguments[0] / "CMakeLists.txt").is_file():
            result += installed_files(folder / arguments[0], repo, variables, functions)
        elif name == "slicerMacroBuildScriptedModule":
            values = _keywords(
                arguments, {"NAME", "SCRIPTS", "RESOURCES", "WITH_SUBDIR", "WITH_GENERIC_TESTS", "VERBOSE"}
            )
            prefix = folder.name if "WITH_SUBDIR" in values else ""
            rule = f"{where}: slicerMacroBuildScriptedModule({' '.join(values.get('NAME', []))})"
            result += _copied(values, folder, prefix, rule, repo)
        elif name == "ctkMacroCompilePythonScript":
            values = _keywords(
                arguments,
                {
                    "TARGET_NAME",
                    "SCRIPTS",
                    "RESOURCES",
                    "SOURCE_DIR",
                    "DESTINATION_DIR",
                    "INSTALL_DIR",
                    "NO_INSTALL_SUBDIR",
                    "GLOBAL_TARGET",
                },
            )
            prefix = _destination_prefix(" ".join(values.get("DESTINATION_DIR", [])))
            if prefix is not None:
                source = Path(values["SOURCE_DIR"][0]) if values.get("SOURCE_DIR") else folder
                rule = f"{where}: ctkMacroCompilePythonScript({' '.join(values.get('TARGET_NAME', []))})"
                result += _copied(values, source, prefix, rule, repo)
    return result


def _copied(values: dict[str, list[str]], source: Path, prefix: str, rule: str, repo: Path) -> list[Installed]:
    files = []
    for kind in ("SCRIPTS", "RESOURCES"):
        for item in values.get(kind, []):
            relative = item + ".py" if kind == "SCRIPTS" and not Path(item).suffix else item
            destination = f"{prefix}/{relative}" if prefix else relative
            src = (source / relative).resolve()
            shown = src.relative_to(repo.resolve()).as_posix() if src.is_relative_to(repo.resolve()) else str(src)
            files.append(Installed(destination, shown, rule))
    return files


def install_collisions(repo: Path) -> list[str]:
    """One line per destination that two rules (or two entries of one rule) install."""
    by_destination: dict[str, list[Installed]] = {}
    for item in installed_files(repo):
        by_destination.setdefault(item.destination, []).append(item)
    return [
        f"{destination} is installed {len(items)} times: " + "; ".join(f"{i.source} by {i.rule}" for i in items)
        for destination, items in sorted(by_destination.items())
        if len(items) > 1
    ]
