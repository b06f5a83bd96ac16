"""Experiment: synthetic talking mouths whose lips follow the phonemes of what is said (issue 14's espeak-ng route).

espeak-ng (Debian's ``espeak-ng``; needed only here, never by avsync) speaks random pseudo-words in many languages,
voices, rates and pitches, and reports when each phoneme starts (its phoneme events, through ``libespeak-ng``'s C
API). Each phoneme gives the mouth a target (a viseme: lips closed for p/b/m, nearly for f/v, open for a, half-open
for e/@, rounded and narrow for o/u/w, ...); :func:`synthetic_lips.articulate` turns the targets into a measured
mouth track (articulation lag, lips 30-100 ms ahead of the voice, mesh jitter, 12.5 Hz sampling). The voice gets room
noise at a random level. Then synthetic_lips.py's recipe: half of each batch these, half the TRAIN group's real crops;
judged as lipnet-v1 was (held-out TRAIN speakers, then ``speech_alone.py --lips runs/lipnet/lipnet-espeak`` on DEV).

    apt-get install espeak-ng
    .venv/bin/python scripts/experiments/espeak_lips.py --mouths data/mouths --out runs/lipnet/lipnet-espeak --steps 3000
"""

from __future__ import annotations

import ctypes as C
import sys
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

sys.path.insert(0, str(Path(__file__).parent))
import lipnet  # noqa: E402
from lipnet import CROP, FPS, SR  # noqa: E402
from synthetic_lips import articulate, set_reach, train_mixed, training_parser  # noqa: E402

VOICES = ("en", "en-us", "en-gb-scotland", "de", "fr", "es", "it", "pt", "nl", "pl", "sv", "cs", "hu", "tr", "id")
VARIANTS = ("", "+m1", "+m2", "+m3", "+m4", "+m5", "+f1", "+f2", "+f3", "+f4")
ONSETS = ("", "b", "p", "m", "f", "v", "t", "d", "n", "l", "r", "s", "k", "g", "w", "h", "sh", "ch", "j", "z", "th")
VOWELS = ("a", "e", "i", "o", "u", "ai", "ou", "ee", "oo", "ea", "au")
CODAS = ("", "", "", "n", "m", "s", "t", "l", "r", "k", "p")


class Event(C.Structure):
    """libespeak-ng's ``espeak_EVENT``."""

    class _Id(C.Union):
        _fields_ = [("number", C.c_int), ("name", C.c_char_p), ("string", C.c_char * 8)]

    _fields_ = [("type", C.c_int), ("unique_identifier", C.c_uint), ("text_position", C.c_int), ("length", C.c_int),
                ("audio_position", C.c_int), ("sample", C.c_int), ("user_data", C.c_void_p), ("id", _Id)]


class Speaker:
    """espeak-ng in synchronous mode: text -> (16 kHz sound, [(phoneme start in s, phoneme)])."""

    def __init__(self) -> None:
        self.lib = C.CDLL("libespeak-ng.so.1")
        self.rate = self.lib.espeak_Initialize(2, 0, None, 1)        # synchronous, with phoneme events
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[int, str]] = []
        self._cb = C.CFUNCTYPE(C.c_int, C.POINTER(C.c_short), C.c_int, C.POINTER(Event))(self._collect)
        self.lib.espeak_SetSynthCallback(self._cb)

    def _collect(self, wav, n, events) -> int:
        if n > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, (n,)).copy())
        i = 0
        while events[i].type != 0:
            if events[i].type == 7:                                   # espeakEVENT_PHONEME
                self._events.append((events[i].sample, events[i].id.string.decode(errors="replace")))
            i += 1
        return 0

    def say(self, text: str, voice: str, rate: int, pitch: int) -> tuple[np.ndarray, list[tuple[float, str]]]:
        """The sound of ``text`` at 16 kHz and when each phoneme starts."""
        self._chunks, self._events = [], []
        self.lib.espeak_SetVoiceByName(voice.encode())
        self.lib.espeak_SetParameter(1, rate, 0)                      # espeakRATE, words per minute
        self.lib.espeak_SetParameter(3, pitch, 0)                     # espeakPITCH, 0-100
        raw = text.encode()
        self.lib.espeak_Synth(raw, len(raw) + 1, 0, 1, 0, 0, None, None)
        audio = np.concatenate(self._chunks).astype(np.float32) / 32768 if self._chunks else np.zeros(0, np.float32)
        return (resample_poly(audio, SR, self.rate).astype(np.float32),
                [(s / self.rate, p) for s, p in self._events])


# espeak phoneme mnemonics by their first letter -> (inner-lip opening in eye units at full articulation, extra
# narrowing of the mouth); anything else is a consonant made with teeth and tongue
VISEMES = (("pbm", 0.0, 0.0), ("fv", 0.05, 0.0), ("aA&", 0.45, 0.0), ("0Oo", 0.3, 0.15), ("uUw", 0.15, 0.2),
           ("eE@3V", 0.3, 0.0), ("iIj", 0.15, -0.05))
CONSONANT, PAUSE = (0.12, 0.0), (0.02, 0.0)


def viseme(phoneme: str) -> tuple[float, float]:
    """The mouth's target (:data:`VISEMES`) for an espeak phoneme; a pause: lips together at rest."""
    p = phoneme.strip("'%=,:;_!")
    if not p:
        return PAUSE
    return next(((o, n) for letters, o, n in VISEMES if p[0] in letters), CONSONANT)


def pseudo_text(rng: np.random.Generator) -> str:
    """A few sentences of random pseudo-words."""
    def word() -> str:
        return "".join(rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS) for _ in range(rng.integers(1, 4)))
    return ". ".join(" ".join(word() for _ in range(rng.integers(2, 8))) for _ in range(rng.integers(2, 5))) + "."


def utterance(speaker: Speaker, rng: np.random.Generator, seconds: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sound, opening target, narrowing) of ``seconds`` of one synthetic speaker, the targets on the 25 fps clock."""
    voice = str(rng.choice(VOICES)) + str(rng.choice(VARIANTS))
    parts, events, t = [], [], 0.0
    while t < seconds:
        audio, ph = speaker.say(pseudo_text(rng), voice, int(rng.integers(120, 230)), int(rng.integers(20, 80)))
        gap = np.zeros(int(rng.uniform(0.1, 0.8) * SR), np.float32)
        parts += [audio, gap]
        events += [(t + s, p) for s, p in ph] + [(t + len(audio) / SR, "_")]
        t += (len(audio) + len(gap)) / SR
    sound = np.concatenate(parts)
    n = int(len(sound) / SR * FPS)
    times = np.array([e[0] for e in events])
    shapes = np.array([viseme(e[1]) for e in events])
    k = np.clip(np.searchsorted(times, (np.arange(n) + 0.5) / FPS, side="right") - 1, 0, len(events) - 1)
    scale = rng.uniform(0.6, 1.4)                                     # how wide this speaker articulates
    opening, narrow = shapes[k, 0] * scale + rng.uniform(0.0, 0.05), shapes[k, 1] * scale
    noise = rng.normal(0, 1, len(sound)).astype(np.float32)
    noise = np.convolve(noise, np.ones(8) / 8, "same")                # a duller room noise
    level = np.sqrt(np.mean(sound ** 2)) / (10 ** (rng.uniform(5, 30) / 20)) / (np.sqrt(np.mean(noise ** 2)) + 1e-9)
    return (sound + level * noise) * rng.uniform(0.2, 0.9), opening, narrow


def pool(n: int, seed: int, seconds: float) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``n`` utterances of synthetic speakers (made once before training)."""
    rng, speaker = np.random.default_rng(seed), Speaker()
    return [utterance(speaker, rng, seconds) for _ in range(n)]


def espeak_item(utterances, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One crop as lipnet.py's crops are: (series, seen) of CROP frames, sound with MARGIN frames each side."""
    m = lipnet.MARGIN
    while True:
        sound, opening, narrow = utterances[int(rng.integers(0, len(utterances)))]
        frames = len(opening)
        if frames < CROP + 2 * m:
            continue
        f0 = int(rng.integers(0, frames - CROP - 2 * m + 1))
        series, seen = articulate(opening[f0:f0 + CROP + 2 * m], rng, narrow[f0:f0 + CROP + 2 * m])
        a0 = int(round(f0 / FPS * SR))
        audio = sound[a0:a0 + lipnet.AUDIO]
        if len(audio) == lipnet.AUDIO and (opening[f0 + m:f0 + m + CROP] > 0.05).mean() > 0.4:
            return series[m:m + CROP], seen[m:m + CROP], audio


def main() -> int:
    """Make the pool, train (see the module docstring)."""
    ap = training_parser(__doc__.splitlines()[0])
    ap.add_argument("--utterances", type=int, default=400)
    args = ap.parse_args()
    set_reach(args.reach)
    utterances = pool(args.utterances, args.seed + 1, 10.0 + 2 * args.reach)
    print(f"{len(utterances)} utterances, {sum(len(u[0]) for u in utterances) / SR / 60:.0f} min", flush=True)
    train_mixed(args, lambda rng: espeak_item(utterances, rng),
                "speech expert: learnt lip scorer, real TRAIN + espeak-ng speakers (experiment)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
