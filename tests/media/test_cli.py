"""avsync probe: a table or JSON; bad files are reported one line each and set exit status 1."""

import json

from avsync.cli import main


def test_probe_json(impulse, capsys):
    assert main(["probe", "--format", "json", str(impulse)]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["path"] == str(impulse) and row["video"]["fps"] == 25.0 and row["audio"]["sample_rate"] == 16000


def test_probe_table_with_a_bad_file(tmp_path, impulse, capsys):
    assert main(["probe", str(impulse), str(tmp_path / "missing.mp4")]) == 1
    captured = capsys.readouterr()
    assert all(word in captured.out for word in ("h264", "64x48", "25.000", "aac", "16000", "3.000 s"))
    assert captured.err.strip() == f"avsync: error: {tmp_path / 'missing.mp4'}: no such file"


def test_probe_json_lists_errors(tmp_path, capsys):
    (tmp_path / "x.mp4").write_bytes(b"")
    assert main(["probe", "--format", "json", str(tmp_path / "x.mp4")]) == 1
    assert json.loads(capsys.readouterr().out) == [{"path": str(tmp_path / "x.mp4"),
                                                     "error": f"{tmp_path / 'x.mp4'}: empty file (0 bytes)"}]


def test_shift_needs_an_offset(impulse, tmp_path, capsys):
    try:
        main(["shift", str(impulse), str(tmp_path / "o.mp4")])
    except SystemExit as e:
        assert e.code == 2
    else:
        raise AssertionError("argparse accepted a shift without --offset")
    assert "--offset" in capsys.readouterr().err
