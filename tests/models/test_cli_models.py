import json

from avsync.cli import main


def test_models_json_lists_every_model_with_parameter_counts(capsys):
    assert main(["models", "--format", "json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert {"sparsesync-paper", "sparsesync-tiny", "avst-dec-paper"} <= set(rows)
    paper = rows["sparsesync-paper"]["params"]
    assert 50e6 < paper["total"] < 60e6  # published: ~55 M with S3D + ResNet18
    assert paper["total"] == paper["visual"] + paper["audio"] + paper["transformer"]
    assert rows["sparsesync-tiny"]["params"]["total"] < paper["total"] / 10


def test_models_table(capsys):
    assert main(["models"]) == 0
    assert "sparsesync-small" in capsys.readouterr().out
