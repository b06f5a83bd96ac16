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


def test_models_lists_what_model_accepts(capsys):
    import avsync

    assert main(["models", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    accepted = [r["name"] for r in rows if r["use"].startswith("check")]
    assert accepted == avsync.available_models() and "default" in accepted and "xcorr" in accepted
    for name in accepted:                                   # each one really loads
        assert avsync.load_model(name).name
    default = next(r for r in rows if r["name"] == "default")
    from avsync.models import count_parameters, load_model_file
    model = load_model_file(avsync.MODEL_DIR / "default.safetensors")
    assert default["frame_size"] == model.config.frame_size and default["params"] == count_parameters(model)
    assert all(r["use"] == "train --model" for r in rows if r["name"].startswith(("sparsesync-", "avst-")))
