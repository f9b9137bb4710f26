"""Every Slicer name the modules use exists in Slicer's API (Data/slicer/slicer-api.json), also in 5.10."""

from __future__ import annotations

import json

import pytest

from slicer_contract import (
    DEFAULT_CONTRACT,
    DEFAULT_RULES,
    DEFAULT_SIGNATURES,
    Contract,
    check_module_file,
    check_source,
)
from slicer_modules import REPO, module_files

CONTRACT = Contract.load()


def test_contract_file_is_the_documented_commit():
    data = json.loads(DEFAULT_CONTRACT.read_text(encoding="utf-8"))
    assert data["slicer"]["commit"] == "583e9b37d50ead7daf7b783dce465ccaecec8809"
    assert (DEFAULT_CONTRACT.parent / "SOURCE.txt").read_text(encoding="utf-8").count(data["slicer"]["commit"]) >= 1
    assert "v5.10.0" in data["availability"]["revisions"]


def test_there_is_a_module_to_check():
    assert any(p.stem == "HITITPlanner" for p in module_files())


def slicer_side_files():
    """The module files, their <Module>Lib helpers and the Slicer-side library, when present."""
    files = list(module_files())
    for module in module_files():
        files += sorted((module.parent / f"{module.stem}Lib").glob("*.py"))
    return files + sorted((REPO / "hitit_slicer").rglob("*.py"))


@pytest.mark.parametrize("path", slicer_side_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_module_uses_only_existing_slicer_api(path):
    findings = check_module_file(path, CONTRACT)
    assert not findings, "\n".join(str(f) for f in findings)


def test_generated_rules_and_signatures_name_their_sources():
    rules = json.loads(DEFAULT_RULES.read_text(encoding="utf-8"))
    signatures = json.loads(DEFAULT_SIGNATURES.read_text(encoding="utf-8"))
    assert rules["slicer"]["commit"] == CONTRACT.data["slicer"]["commit"]
    assert (REPO / rules["generated_by"]).is_file() and (REPO / signatures["generated_by"]).is_file()
    source_txt = (DEFAULT_CONTRACT.parent / "SOURCE.txt").read_text(encoding="utf-8")
    assert signatures["source"]["package"] == "slicer-core" and signatures["source"]["version"] in source_txt
    # facts read by hand from Slicer's source, so a broken generator cannot pass silently
    assert "SetUseColumnNameAsColumnHeader" in rules["deprecated"]["methods"]["vtkMRMLTableNode"]
    assert "SetUseColumnTitleAsColumnHeader" not in rules["deprecated"]["methods"]["vtkMRMLTableNode"]
    assert rules["required_arguments"]["SampleData"]["SampleDataLogic.registerCustomSampleDataSource"] == [
        "fileNames",
        "uris",
    ]
    assert CONTRACT.overloads("vtkMRMLMarkupsFiducialNode", "AddControlPoint") == [[1, 2], [3, 4]]


MRML_SOURCE = """
import slicer
import SampleData

def run(path):
    table = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLTableNode")
    {line}
"""


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("table.SetColumnTitle('lesion')", "vtkMRMLTableNode.SetColumnTitle() takes 2 arguments, 1 given"),
        ("table.GetNumberOfRows(0)", "vtkMRMLTableNode.GetNumberOfRows() takes 0 arguments, 1 given"),
        (
            "table.SetUseColumnNameAsColumnHeader(True)",
            "vtkMRMLTableNode.SetUseColumnNameAsColumnHeader() is deprecated",
        ),
        ("slicer.mrmlScene.SaveStateForUndo(table)", "vtkMRMLScene.SaveStateForUndo() is deprecated"),
        (
            "SampleData.SampleDataLogic.registerCustomSampleDataSource(category='HITIT', sampleName='x', "
            "customDownloader=print)",
            "registerCustomSampleDataSource() needs fileNames, uris",
        ),
        (
            "SampleData.SampleDataLogic.registerCustomSampleDataSource(sampleName='x', uri='a')",
            "registerCustomSampleDataSource() has no keyword argument 'uri'",
        ),
        (
            "slicer.packaging.pip_ensure(['numpy'], requestor='HITIT')",
            "pip_ensure() has no keyword argument 'requestor'",
        ),
        ("slicer.packaging.pip_ensure()", "pip_ensure() misses required argument(s) requirements"),
        (
            "slicer.util.pip_install('numpy', requestor='HITIT')",
            "slicer.util.pip_install() passes requestor= on to slicer.packaging.pip_install()",
        ),
        ("slicer.util.toVTKString('x')", "slicer.util.toVTKString() is deprecated in Slicer"),
        ("slicer.util.loadVolume(path, returnNode=True)", "the returnNode argument is deprecated"),
    ],
)
def test_checker_catches_wrong_calls(line, expected):
    messages = [f.message for f in check_source(MRML_SOURCE.format(line=line), CONTRACT)]
    assert any(expected in m for m in messages), messages


@pytest.mark.parametrize(
    "line",
    [
        "table.SetColumnTitle('lesion', 'Lesion')",
        "table.SetUseColumnTitleAsColumnHeader(True)",
        "slicer.mrmlScene.SaveStateForUndo()",
        "SampleData.SampleDataLogic.registerCustomSampleDataSource(category='HITIT', sampleName='x', uris=[], "
        "fileNames=[], customDownloader=print)",
        "if hasattr(slicer, 'packaging'): slicer.packaging.pip_ensure(slicer.packaging.load_requirements(path), "
        "requester='HITIT')",
        "slicer.util.pip_install(['-r', path], requester='HITIT')",
    ],
)
def test_checker_accepts_right_calls(line):
    assert check_source(MRML_SOURCE.format(line=line), CONTRACT) == []


BAD_SOURCE = """
import slicer
from slicer import vtkMRMLMarkupsLineNode
import SampleData

def run(lineNode: vtkMRMLMarkupsLineNode):
    node = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode")
    node.AddControlPointt([0, 0, 0])
    slicer.util.loadVolumeFromFile("ct.nrrd")
    slicer.util.loadVolume("ct.nrrd", nodeName="CT")
    slicer.util.arrayFromVolume(node, True)
    lineNode.GetLineLenght()
    slicer.modules.nomodule.logic()
    SampleData.SampleDataLogic.registerCustomSampleDataCategory("HITIT", "HITIT")
"""


@pytest.mark.parametrize(
    "expected",
    [
        "vtkMRMLMarkupsFiducialNode has no method AddControlPointt",
        "slicer.util.loadVolumeFromFile does not exist",
        "slicer.util.loadVolume() has no keyword argument 'nodeName'",
        "slicer.util.arrayFromVolume() takes at most 1 positional arguments",
        "vtkMRMLMarkupsLineNode has no method GetLineLenght",
        "slicer.modules.nomodule.logic() is not a known module logic",
        "registerCustomSampleDataCategory does not exist in Slicer v5.10.0",
    ],
)
def test_checker_catches_mistakes(expected):
    messages = [f.message for f in check_source(BAD_SOURCE, CONTRACT)]
    assert any(expected in m for m in messages), messages


def test_checker_accepts_guarded_and_correct_use():
    source = """
import slicer
import SampleData
from slicer import vtkMRMLMarkupsLineNode

def run(lineNode: vtkMRMLMarkupsLineNode):
    if hasattr(SampleData.SampleDataLogic, "registerCustomSampleDataCategory"):
        SampleData.SampleDataLogic.registerCustomSampleDataCategory("HITIT", "HITIT")
    node = slicer.util.loadVolume("ct.nrrd", {"name": "CT"})
    lineNode.GetLineLengthWorld()
    slicer.modules.markups.logic().JumpSlicesToLocation(0, 0, 0, True)
    slicer.vtkMRMLMarkupsNode.PointModifiedEvent
"""
    assert check_source(source, CONTRACT) == []


def test_parameter_node_and_ui_types_are_used():
    source = """
import slicer
from slicer import vtkMRMLTableNode
from slicer.parameterNodeWrapper import parameterNodeWrapper

@parameterNodeWrapper
class P:
    table: vtkMRMLTableNode

def run(self, parameterNode):
    parameterNode.table.AddEmptyRoww()
    self.ui.volumeSelector.currentNode().GetIJKToRASMatrixx()
"""
    messages = [f.message for f in check_source(source, CONTRACT, {"volumeSelector": ["vtkMRMLScalarVolumeNode"]})]
    assert "vtkMRMLTableNode has no method AddEmptyRoww" in messages
    assert "vtkMRMLScalarVolumeNode has no method GetIJKToRASMatrixx" in messages
