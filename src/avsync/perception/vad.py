"""Where the sound holds speech: Silero VAD's ONNX model (``silero-vad``'s own file) on onnxruntime.

:func:`speech_probability` gives one probability every 32 ms (512 samples at 16 kHz, each chunk seen
with the 64 samples before it and the model's recurrent state, as the model was trained);
:func:`speech_frames` turns it into a per-frame mask on a frame clock, widened by ``pad_sec`` each
side so that the lips that move just before a word are inside it.
"""

from __future__ import annotations

import numpy as np

from avsync.perception import require_speech

SAMPLE_RATE = 16000
CHUNK = 512
CONTEXT = 64


class SileroVAD:
    """The model, loaded once; call :meth:`probability` per file."""

    def __init__(self) -> None:
        require_speech()
        import importlib.resources

        import onnxruntime

        opts = onnxruntime.SessionOptions()
        opts.inter_op_num_threads = opts.intra_op_num_threads = 1
        opts.log_severity_level = 3
        model = importlib.resources.files("silero_vad.data").joinpath("silero_vad.onnx")
        self.session = onnxruntime.InferenceSession(str(model), sess_options=opts, providers=["CPUExecutionProvider"])

    def probability(self, audio: np.ndarray) -> np.ndarray:
        """Speech probability of every 32 ms chunk of 16 kHz mono ``audio`` ``(S,)`` -> ``(S // 512,)``."""
        n = len(audio) // CHUNK
        x = np.concatenate([np.zeros(CONTEXT, np.float32), audio[: n * CHUNK].astype(np.float32)])
        state = np.zeros((2, 1, 128), np.float32)
        sr = np.array(SAMPLE_RATE, np.int64)
        out = np.empty(n, np.float32)
        for i in range(n):
            chunk = x[i * CHUNK: (i + 1) * CHUNK + CONTEXT][None]
            p, state = self.session.run(None, {"input": chunk, "state": state, "sr": sr})
            out[i] = float(p.reshape(-1)[0])
        return out


def speech_near(prob: np.ndarray, first_sec: float, threshold: float = 0.5, pad_sec: float = 0.5):
    """A function of file time: whether speech (``prob`` of chunks from ``first_sec`` on) is within
    ``pad_sec`` of it."""
    chunk_sec = CHUNK / SAMPLE_RATE
    speech = (prob >= threshold).astype(np.int64)
    pad = int(np.ceil(pad_sec / chunk_sec))
    near = np.convolve(speech, np.ones(2 * pad + 1, np.int64), mode="same") > 0 if len(speech) else speech > 0

    def at(t: float) -> bool:
        i = int((t - first_sec) / chunk_sec)
        return bool(0 <= i < len(near) and near[i])

    return at


def speech_frames(prob: np.ndarray, n_frames: int, fps: float, threshold: float = 0.5,
                  pad_sec: float = 0.3, offset_sec: float = 0.0) -> np.ndarray:
    """Per frame of a ``fps`` clock: whether speech (probability >= ``threshold``) is within ``pad_sec``;
    frame 0 is ``offset_sec`` after the first chunk of ``prob`` (frames before it hear no speech)."""
    chunk_sec = CHUNK / SAMPLE_RATE
    speech = prob >= threshold
    t = offset_sec + np.arange(n_frames) / fps
    idx = np.floor(t / chunk_sec).astype(int)
    mask = (speech[idx.clip(0, len(speech) - 1)] & (idx >= 0)) if len(speech) else np.zeros(n_frames, bool)
    pad = int(round(pad_sec * fps))
    if pad and mask.any():
        mask = np.convolve(mask.astype(int), np.ones(2 * pad + 1, int), mode="same") > 0
    return mask
