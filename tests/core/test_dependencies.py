"""An exercise that fails only because one it builds on fails says so (Exercise.uses)."""
from helpers import ROOT, check_source

RESNET = (ROOT / "solutions" / "unit5" / "resnet.py").read_text()
BROKEN_BLOCK = RESNET.replace("return F.relu(Y + shortcut)", "return F.relu(Y)")   # forgets the shortcut


def test_small_resnet_on_a_broken_residual_block_names_the_block():
    result = check_source("unit5", BROKEN_BLOCK, ["ResidualBlock", "small_resnet"])
    block, net = result.exercises["ResidualBlock"], result.exercises["small_resnet"]
    assert not block.passed and not net.passed
    assert net.notes == ["small_resnet may fail only because `ResidualBlock`, which it uses, fails its checks; "
                         "fix ResidualBlock first"]
    assert block.notes == []
    assert result.to_json()["exercises"]["small_resnet"]["notes"] == net.notes


def test_no_note_when_the_dependency_passes_or_is_not_used():
    result = check_source("unit5", RESNET, ["ResidualBlock", "small_resnet"])
    assert result.exercises["small_resnet"].passed and result.exercises["small_resnet"].notes == []
    own = BROKEN_BLOCK.replace("resnet_stage(", "own_stage(").replace("ResidualBlock(", "OwnBlock(") \
        + "\nOwnBlock = __import__('torch').nn.Identity\n"
    result = check_source("unit5", own, ["ResidualBlock", "small_resnet"])
    assert result.exercises["small_resnet"].notes == []


def test_the_note_is_shown_under_the_exercise():
    from grader.report.text import render_unit

    text = render_unit(check_source("unit5", BROKEN_BLOCK, ["ResidualBlock", "small_resnet"]))
    assert "FAIL small_resnet" in text
    assert "     note: small_resnet may fail only because `ResidualBlock`, which it uses, fails its\n" in text
