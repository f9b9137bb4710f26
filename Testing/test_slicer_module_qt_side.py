"""The Qt side of the modules, which Slicer's core wheel cannot run, read as source: the fixes that only the
widgets and the module classes can carry, and the parameter sets the library and the modules share.
"""

from __future__ import annotations

import ast
import re
import xml.etree.ElementTree as ET

import pytest

from slicer_modules import REPO

PLANNER = REPO / "HITITPlanner" / "HITITPlanner.py"
RESPONSE = REPO / "HITITResponse" / "HITITResponse.py"


def tree(path):
    return ast.parse(path.read_text(encoding="utf-8"))


def class_node(module, name):
    return next(n for n in module.body if isinstance(n, ast.ClassDef) and n.name == name)


def method(cls, name):
    return next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == name)


def fields(cls) -> dict:
    """{name: default source} of an annotated class body (``None`` when there is no default)."""
    out = {}
    for item in cls.body:
        if isinstance(item, ast.AnnAssign):
            out[item.target.id] = ast.unparse(item.value) if item.value is not None else None
    return out


def _normal(default):
    """Defaults compared as values: a node field or an unset path is None/Path() in the library,
    nothing in the wrapper.
    """
    if default in (None, "None", "Path()"):
        return None
    return ast.literal_eval(default)


@pytest.mark.parametrize(
    "module, wrapper, library, dataclass",
    [
        (PLANNER, "HITITPlannerParameterNode", "planner.py", "PlannerParameters"),
        (RESPONSE, "HITITResponseParameterNode", "response.py", "ResponseParameters"),
    ],
    ids=["HITITPlanner", "HITITResponse"],
)
def test_library_parameters_are_the_modules_parameters(module, wrapper, library, dataclass):
    """The library's plain parameter object has exactly the parameter node's names and defaults."""
    ours = fields(class_node(tree(module), wrapper))
    theirs = fields(class_node(tree(REPO / "hitit_slicer" / library), dataclass))
    assert list(ours) == list(theirs)
    for name in ours:
        assert _normal(ours[name]) == _normal(theirs[name]), name


def test_contrast_choices_are_the_header_and_the_cores_statements():
    """The Planner's contrast choices: leave it to the CT header,
    or one of the core's statements (--contrast yes|no).
    """
    from hitit.lesions.contrast import STATEMENTS

    module = class_node(tree(PLANNER), "HITITPlannerParameterNode")
    annotation = next(
        item.annotation for item in module.body if isinstance(item, ast.AnnAssign) and item.target.id == "contrast"
    )
    choices = ast.literal_eval(next(n for n in ast.walk(annotation) if isinstance(n, ast.Call)).args[0])
    assert choices == ["fromHeader", *STATEMENTS]
    library = ast.unparse(tree(REPO / "hitit_slicer" / "planner.py"))
    assert (
        "CONTRAST_FROM_HEADER = 'fromHeader'" in library
        and "CONTRAST_CHOICES = (CONTRAST_FROM_HEADER, 'yes', 'no')" in library
    )


def sample_data_call():
    for node in ast.walk(tree(PLANNER)):
        if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("registerCustomSampleDataSource"):
            return node
    raise AssertionError("the Planner registers no sample data")


def test_sample_data_source_gives_what_sampledata_counts():
    """SampleData builds a SampleDataSource and calls len() on uris and fileNames: both given, same length."""
    keywords = {k.arg: k.value for k in sample_data_call().keywords}
    for name in ("uris", "fileNames", "nodeNames"):
        assert name in keywords, name
    lengths = {
        name: len(keywords[name].elts)
        for name in ("uris", "fileNames", "nodeNames")
        if isinstance(keywords[name], ast.List)
    }
    assert len(set(lengths.values())) == 1, lengths
    assert "customDownloader" in keywords


def test_no_deprecated_column_header_call():
    """SetUseColumnNameAsColumnHeader is deprecated: the tables use column titles."""
    for path in [PLANNER, RESPONSE, *sorted((REPO / "hitit_slicer").rglob("*.py"))]:
        assert "SetUseColumnNameAsColumnHeader" not in path.read_text(encoding="utf-8"), path


def test_response_follows_new_lines_only_while_the_module_is_open():
    widget = class_node(tree(RESPONSE), "HITITResponseWidget")
    assert "NodeAddedEvent" not in ast.unparse(method(widget, "setup"))
    assert "addObserver(slicer.mrmlScene, slicer.mrmlScene.NodeAddedEvent" in ast.unparse(method(widget, "enter"))
    assert "removeObserver(slicer.mrmlScene, slicer.mrmlScene.NodeAddedEvent" in ast.unparse(method(widget, "exit"))


def test_plan_cannot_run_twice_while_planning():
    widget = class_node(tree(PLANNER), "HITITPlannerWidget")
    text = ast.unparse(method(widget, "onPlanButton"))
    assert (
        text.index("if self._planning")
        < text.index("self.ui.planButton.enabled = False")
        < text.index("_progressDialog")
    )
    assert "self._planning = False" in text.split("finally:")[1]
    assert "not self._planning" in ast.unparse(method(widget, "onParameterNodeModified"))


def test_protocol_default_is_the_cores_and_opening_never_installs():
    widget = class_node(tree(PLANNER), "HITITPlannerWidget")
    text = ast.unparse(method(widget, "_updateProtocolChoices"))
    assert "coreInstalled()" in text and "defaultProtocol()" in text and "protocols[0]" not in text


def test_skin_map_colouring_follows_the_parameter():
    widget = class_node(tree(PLANNER), "HITITPlannerWidget")
    assert "colorAccessibilityMap" in ast.unparse(method(widget, "onParameterNodeModified"))


def ui_widgets(path):
    root = ET.parse(path).getroot()
    return {w.get("name"): w for w in root.iter("widget")}


def bound_name(widget):
    for prop in widget.findall("property"):
        if prop.get("name") == "SlicerParameterName":
            return prop.findtext("string")
    return None


def test_optional_files_can_be_cleared_and_a_new_study_file_chosen():
    """CtkPathLineEdit reports no change for an empty (unacceptable) path, so these fields are bound by hand to
    text parameters; the study file's Browse opens a save dialog (Files|Writable) so a new file can be named.
    """
    widgets = ui_widgets(REPO / "HITITResponse" / "Resources" / "UI" / "HITITResponse.ui")
    for name in ("injectionLogPathLineEdit", "samplingLogPathLineEdit", "studyFilePathLineEdit"):
        assert widgets[name].get("class") == "ctkPathLineEdit" and bound_name(widgets[name]) is None, name
    filters = next(
        p for p in widgets["studyFilePathLineEdit"].findall("property") if p.get("name") == "filters"
    ).findtext("set")
    assert {"ctkPathLineEdit::Files", "ctkPathLineEdit::Writable"} <= set(filters.split("|"))
    parameters = fields(class_node(tree(RESPONSE), "HITITResponseParameterNode"))
    for name in ("injectionLog", "samplingLog", "studyFile"):
        assert parameters[name] == "''", name  # text, "" when unset (a Path cannot be empty: it becomes ".")
    widget = ast.unparse(class_node(tree(RESPONSE), "HITITResponseWidget"))
    assert "validInputChanged(bool)" in widget and "currentPathChanged(QString)" in widget


@pytest.mark.parametrize("module", [PLANNER, RESPONSE], ids=lambda p: p.stem)
def test_directory_buttons_show_the_parameter(module):
    """A ctkDirectoryButton shows a folder even when its parameter is unset: the widget sets every folder parameter to
    the folder shown (Slicer's default scene folder).
    """
    wrapper = class_node(tree(module), f"{module.stem}ParameterNode")
    folders = {
        item.target.id
        for item in wrapper.body
        if isinstance(item, ast.AnnAssign) and ast.unparse(item.annotation) == "pathlib.Path"
    }
    call = next(
        node
        for node in ast.walk(method(class_node(tree(module), f"{module.stem}Widget"), "initializeParameterNode"))
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "self.showFoldersOfTheParameters"
    )
    assert folders and {ast.literal_eval(argument) for argument in call.args} == folders
    mixin = ast.unparse(
        method(
            class_node(tree(REPO / "hitit_slicer" / "application.py"), "ModuleWidgetMixin"),
            "showFoldersOfTheParameters",
        )
    )
    assert "slicer.app.defaultScenePath" in mixin and "('', '.')" in mixin


@pytest.mark.parametrize("module", [PLANNER, RESPONSE], ids=lambda p: p.stem)
def test_module_files_hold_no_scene_plumbing(module):
    """Scene work is the library's: the module files create no nodes, convert no coordinates, read no files."""
    text = module.read_text(encoding="utf-8")
    for forbidden in (
        "AddNewNodeByClass",
        "arrayFromVolume",
        "arrayFromSegment",
        "GetIJKToRASMatrix",
        "rasFromLPS",
        "lpsFromRAS",
        "json.load",
        'split("-")',
        "loadVolume(",
        "loadSegmentation(",
    ):
        assert forbidden not in text, forbidden
    assert re.search(r"from hitit_slicer(\.\w+)? import", text)
