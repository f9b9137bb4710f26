"""Every Slicer name the modules use exists in Slicer's API (Data/slicer/slicer-api.json), also in 5.10."""

from __future__ import annotations

import json

import pytest

from slicer_contract import DEFAULT_CONTRACT, Contract, check_module_file, check_source
from slicer_modules import module_files

CONTRACT = Contract.load()


def test_contract_file_is_the_documented_commit():
    data = json.loads(DEFAULT_CONTRACT.read_text(encoding="utf-8"))
    assert data["slicer"]["commit"] == "583e9b37d50ead7daf7b783dce465ccaecec8809"
    assert (DEFAULT_CONTRACT.parent / "SOURCE.txt").read_text(encoding="utf-8").count(data["slicer"]["commit"]) >= 1
    assert "v5.10.0" in data["availability"]["revisions"]


def test_there_is_a_module_to_check():
    assert any(p.stem == "HITITPlanner" for p in module_files())


@pytest.mark.parametrize("path", module_files(), ids=lambda p: p.stem)
def test_module_uses_only_existing_slicer_api(path):
    findings = check_module_file(path, CONTRACT)
    assert not findings, "\n".join(str(f) for f in findings)


BAD_SOURCE = '''
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
'''


@pytest.mark.parametrize("expected", [
    "vtkMRMLMarkupsFiducialNode has no method AddControlPointt",
    "slicer.util.loadVolumeFromFile does not exist",
    "slicer.util.loadVolume() has no keyword argument 'nodeName'",
    "slicer.util.arrayFromVolume() takes at most 1 positional arguments",
    "vtkMRMLMarkupsLineNode has no method GetLineLenght",
    "slicer.modules.nomodule.logic() is not a known module logic",
    "registerCustomSampleDataCategory does not exist in Slicer v5.10.0",
])
def test_checker_catches_mistakes(expected):
    messages = [f.message for f in check_source(BAD_SOURCE, CONTRACT)]
    assert any(expected in m for m in messages), messages


def test_checker_accepts_guarded_and_correct_use():
    source = '''
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
'''
    assert check_source(source, CONTRACT) == []


def test_parameter_node_and_ui_types_are_used():
    source = '''
import slicer
from slicer import vtkMRMLTableNode
from slicer.parameterNodeWrapper import parameterNodeWrapper

@parameterNodeWrapper
class P:
    table: vtkMRMLTableNode

def run(self, parameterNode):
    parameterNode.table.AddEmptyRoww()
    self.ui.volumeSelector.currentNode().GetIJKToRASMatrixx()
'''
    messages = [f.message for f in check_source(source, CONTRACT, {"volumeSelector": ["vtkMRMLScalarVolumeNode"]})]
    assert "vtkMRMLTableNode has no method AddEmptyRoww" in messages
    assert "vtkMRMLScalarVolumeNode has no method GetIJKToRASMatrixx" in messages
