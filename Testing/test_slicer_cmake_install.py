"""No two CMake rules of the extension install the same file (Ninja refuses, other generators overwrite)."""

from __future__ import annotations

from slicer_cmake_check import install_collisions, installed_files
from slicer_modules import REPO, module_files


def test_every_module_file_has_one_destination():
    destinations = {item.source: item.destination for item in installed_files(REPO)}
    for module in module_files():
        assert destinations[f"{module.parent.name}/{module.name}"] == module.name
    assert destinations["hitit/__init__.py"] == "hitit/__init__.py"


def test_no_two_rules_install_the_same_file():
    assert install_collisions(REPO) == []


def write_extension(root, planner_resources, response_resources, core_destination="hitit"):
    """A small extension tree: two modules and a core package, as our top-level CMakeLists lays them out."""
    (root / "core").mkdir()
    (root / "core" / "__init__.py").write_text("", encoding="utf-8")
    (root / "CMakeLists.txt").write_text(
        f"""
project(X)
file(GLOB_RECURSE CORE_SCRIPTS RELATIVE ${{CMAKE_CURRENT_SOURCE_DIR}}/core \
CONFIGURE_DEPENDS ${{CMAKE_CURRENT_SOURCE_DIR}}/core/*.py)
ctkMacroCompilePythonScript(
  TARGET_NAME Core
  SCRIPTS "${{CORE_SCRIPTS}}"
  SOURCE_DIR ${{CMAKE_CURRENT_SOURCE_DIR}}/core
  DESTINATION_DIR ${{CMAKE_BINARY_DIR}}/${{Slicer_QTSCRIPTEDMODULES_LIB_DIR}}/{core_destination}
  INSTALL_DIR ${{Slicer_INSTALL_QTSCRIPTEDMODULES_LIB_DIR}}/{core_destination}
  NO_INSTALL_SUBDIR
  )
add_subdirectory(Planner)
add_subdirectory(Response)
""",
        encoding="utf-8",
    )
    for name, resources in (("Planner", planner_resources), ("Response", response_resources)):
        (root / name).mkdir()
        (root / name / "CMakeLists.txt").write_text(
            f"""
set(MODULE_NAME {name})
set(MODULE_PYTHON_SCRIPTS ${{MODULE_NAME}}.py)
set(MODULE_PYTHON_RESOURCES {" ".join(resources)})
slicerMacroBuildScriptedModule(
  NAME ${{MODULE_NAME}}
  SCRIPTS ${{MODULE_PYTHON_SCRIPTS}}
  RESOURCES ${{MODULE_PYTHON_RESOURCES}}
  )
""",
            encoding="utf-8",
        )


def test_a_resource_installed_by_both_modules_is_found(tmp_path):
    write_extension(
        tmp_path,
        ["Resources/UI/Planner.ui", "Resources/requirements.txt"],
        ["Resources/UI/Response.ui", "Resources/requirements.txt"],
    )
    collisions = install_collisions(tmp_path)
    assert len(collisions) == 1
    assert collisions[0].startswith("Resources/requirements.txt is installed 2 times")
    assert "Planner/CMakeLists.txt: slicerMacroBuildScriptedModule(Planner)" in collisions[0]
    assert "Response/CMakeLists.txt: slicerMacroBuildScriptedModule(Response)" in collisions[0]


def test_a_module_shadowing_the_core_package_is_found(tmp_path):
    # the core installed straight into the scripted-module folder: its __init__.py meets a module's
    write_extension(tmp_path, ["Resources/UI/Planner.ui"], ["Resources/UI/Response.ui"], core_destination="")
    (tmp_path / "Planner" / "CMakeLists.txt").write_text(
        "slicerMacroBuildScriptedModule(NAME Planner SCRIPTS __init__.py)\n", encoding="utf-8"
    )
    collisions = install_collisions(tmp_path)
    assert collisions and collisions[0].startswith("__init__.py is installed 2 times")


def test_distinct_resources_do_not_collide(tmp_path):
    write_extension(tmp_path, ["Resources/UI/Planner.ui"], ["Resources/UI/Response.ui"])
    assert install_collisions(tmp_path) == []
    assert {i.destination for i in installed_files(tmp_path)} == {
        "hitit/__init__.py",
        "Planner.py",
        "Resources/UI/Planner.ui",
        "Response.py",
        "Resources/UI/Response.ui",
    }
