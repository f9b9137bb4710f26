"""The Slicer-side library's packaging: installed once by CMake, kept out of the core's wheel, its requirements."""

from __future__ import annotations

import re
import tomllib

import pytest

from setuptools import find_packages

from slicer_modules import REPO


def pyproject():
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def test_core_wheel_holds_the_core_only():
    """The wheel's package list (what setuptools finds with the project's own patterns) has hitit, not hitit_slicer."""
    include = pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]
    found = find_packages(where=str(REPO), include=include)
    assert "hitit" in found and "hitit.plan" in found
    assert not [name for name in found if not (name == "hitit" or name.startswith("hitit."))], found


def test_library_is_installed_once_beside_the_modules():
    cmake = (REPO / "CMakeLists.txt").read_text(encoding="utf-8")
    assert re.search(
        r"DESTINATION_DIR \$\{CMAKE_BINARY_DIR\}/\$\{Slicer_QTSCRIPTEDMODULES_LIB_DIR\}/hitit_slicer", cmake
    )
    assert re.search(r"INSTALL_DIR \$\{Slicer_INSTALL_QTSCRIPTEDMODULES_LIB_DIR\}/hitit_slicer", cmake)
    assert "${CMAKE_CURRENT_SOURCE_DIR}/hitit_slicer/*.py" in cmake
    assert "file(GLOB_RECURSE HITIT_SLICER_PYTHON_SCRIPTS" in cmake  # scenarios/ is a sub-package
    assert re.search(r'RESOURCES "requirements.txt"', cmake)


def test_no_two_modules_install_the_same_file():
    """Scripted modules share one install folder: the same relative path from two modules is one file written twice."""
    from slicer_cmake_check import installed_files

    seen: dict[str, str] = {}
    for item in installed_files(REPO):
        module = item.rule.split("/", 1)[0]
        if item.rule.startswith(("HITITPlanner/", "HITITResponse/")):
            assert item.destination not in seen, (
                f"{item.destination} is installed by both {seen[item.destination]} and {module}"
            )
            seen[item.destination] = module
    assert set(seen.values()) == {"HITITPlanner", "HITITResponse"}


def test_requirements_cover_the_core_packages_slicer_lacks():
    """Every core dependency that Slicer does not ship is in the one requirements file, with the same lower bound."""
    from hitit_slicer.dependencies import distributionName, requirements

    shipped_by_slicer = {"numpy", "simpleitk", "vtk"}
    core = {distributionName(r).lower(): r.replace(" ", "") for r in pyproject()["project"]["dependencies"]}
    listed = {distributionName(r).lower(): r.replace(" ", "") for r in requirements()}
    assert set(listed) == set(core) - shipped_by_slicer
    for name, requirement in listed.items():
        assert requirement == core[name]


def test_missing_packages_are_asked_for_once_and_declining_names_them(tmp_path):
    """A requirement that is not installed: the user is asked, a no raises with the package named, a yes installs."""
    from hitit_slicer.dependencies import DependenciesDeclined, ensureDependencies

    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# comment\nnumpy>=1.0\nhitit-no-such-package>=1.0\n", encoding="utf-8")
    asked, installed = [], []

    def no(message):
        asked.append(message)
        return False

    try:
        ensureDependencies(no, installed.append, "HITITPlanner", requirements)
    except DependenciesDeclined as error:
        assert "hitit-no-such-package" in str(error) and "numpy" not in str(error)
    else:
        raise AssertionError("declining did not stop the action")
    assert len(asked) == 1 and "hitit-no-such-package" in asked[0] and not installed
    try:
        ensureDependencies(lambda message: True, installed.append, "HITITPlanner", requirements)
    except RuntimeError as error:  # the fake install installs nothing: the library says so
        assert "hitit-no-such-package" in str(error)
    assert installed == [["hitit-no-such-package>=1.0"]]
    requirements.write_text("numpy>=1.0\n", encoding="utf-8")
    assert ensureDependencies(no, installed.append, "HITITPlanner", requirements) == []
    assert len(asked) == 1  # nothing missing: nothing asked


def library_files():
    return sorted((REPO / "hitit_slicer").rglob("*.py"))


@pytest.mark.parametrize("path", library_files(), ids=lambda p: p.relative_to(REPO / "hitit_slicer").as_posix())
def test_library_never_imports_the_qt_side(path):
    """hitit_slicer runs on Slicer's core libraries alone: no Qt, no CTK, no scripted-module base classes, no
    parameter node wrapper, anywhere; at load time only slicer, vtk, numpy, the core and itself (and the standard
    library).
    """
    import ast
    import sys

    tree = ast.parse(path.read_text(encoding="utf-8"))
    forbidden = {
        "qt",
        "ctk",
        "slicer.ScriptedLoadableModule",
        "slicer.parameterNodeWrapper",
        "slicer.i18n",
        "SampleData",
    }
    for node in ast.walk(tree):
        names = (
            [a.name for a in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else []
        )
        for name in names:
            assert name not in forbidden and name.split(".")[0] not in {"qt", "ctk"}, f"{path.name} imports {name}"
    allowed = set(sys.stdlib_module_names) | {"slicer", "vtk", "vtkmodules", "numpy", "hitit", "hitit_slicer"}
    for node in tree.body:
        names = (
            [a.name for a in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else []
        )
        for name in names:
            assert name.split(".")[0] in allowed, f"{path.name} imports {name} when loaded"


def test_first_use_install_works_in_testing_mode():
    """Slicer's pip_ensure skips installing in testing mode (so a ctest self-test on a build machine could not import
    the core); the library asks with confirmOkCancelDisplay, which answers OK by itself in testing mode, then installs.
    """
    import ast

    tree = ast.parse((REPO / "hitit_slicer" / "dependencies.py").read_text(encoding="utf-8"))
    calls = {ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    assert "slicer.util.pip_install" in calls and not any("pip_ensure" in call for call in calls)
    assert "slicer.util.confirmOkCancelDisplay" in ast.unparse(tree)


def test_readme_names_every_package_the_first_use_prompt_installs():
    """The README's first-use paragraph lists what the prompt will install (the requirements file, by name)."""
    from hitit_slicer.dependencies import distributionName, requirements

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    paragraph = readme[
        readme.index("asks once to install the Python packages") : readme.index("hitit_slicer/requirements.txt")
    ]
    listed = {name.strip(" (\n") for name in paragraph.split("ship", 1)[1].split(":")[0].split(",")}
    assert listed == {distributionName(requirement) for requirement in requirements()}
