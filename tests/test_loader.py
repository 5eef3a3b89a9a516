"""The training input pipeline: batched reads of crops from a prepared dataset, page release, augmentation."""

import math

import numpy as np
import pytest
import torch

from ecglab.datasets.core.prepared import write_prepared
from ecglab.training.augment import augment_batch
from ecglab.training.config import AugmentConfig, validate_config
from ecglab.training.dataset import RecordDataset, record_loader
from ecglab.errors import ConfigError


@pytest.fixture
def rows(tmp_path):
    """Eight 2-lead records whose sample values encode (record, lead, time): 1000·r + 100·l + t/10."""
    n, leads, length = 8, 2, 50
    signals = (1000 * np.arange(n)[:, None, None] + 100 * np.arange(leads)[None, :, None]
               + np.arange(length)[None, None, :] / 10).astype(np.float32)
    labels = np.eye(2, dtype=np.uint8)[np.arange(n) % 2]
    import pandas as pd

    meta = pd.DataFrame({"record_id": [f"r{i}" for i in range(n)], "patient_id": [f"p{i}" for i in range(n)],
                         "split": ["train"] * 4 + ["val"] * 2 + ["test"] * 2})
    dataset = write_prepared(tmp_path / "ds", signals, labels, meta, name="toy", kind="multiclass", classes=["a", "b"],
                             fs=100.0, leads=["I", "II"])
    return dataset, signals, labels


def test_a_batch_holds_the_cropped_samples_of_the_requested_rows(rows):
    dataset, signals, labels = rows
    index = np.array([5, 2, 7])
    meta = np.arange(16, dtype=np.float32).reshape(8, 2)
    torch.manual_seed(0)
    x, y, m = RecordDataset(dataset.signals, np.asarray(dataset.labels), index, meta, crop=20).__getitems__([0, 2])
    assert x.shape == (2, 2, 20) and x.dtype == torch.float32
    for got, row in zip(x.numpy(), (5, 7)):
        start = int(round(got[0, 0] % 100 * 10))  # the first sample's time index
        np.testing.assert_array_equal(got, signals[row, :, start:start + 20])
    np.testing.assert_array_equal(y.numpy(), labels[[5, 7]])
    np.testing.assert_array_equal(m.numpy(), meta[[5, 7]])


def test_the_loader_yields_whole_records_in_order_without_a_crop(rows):
    dataset, signals, _ = rows
    loaded = RecordDataset(dataset.signals, np.asarray(dataset.labels), np.arange(8), np.zeros((8, 0), np.float32))
    batches = list(record_loader(loaded, batch_size=3))
    assert [len(b[0]) for b in batches] == [3, 3, 2]
    np.testing.assert_array_equal(torch.cat([b[0] for b in batches]).numpy(), signals)
    x, y, meta = loaded[4]  # single access gives one record
    np.testing.assert_array_equal(x.numpy(), signals[4])
    assert meta.shape == (0,)


def test_float16_records_arrive_as_float32(tmp_path, rows):
    dataset, signals, labels = rows
    half = write_prepared(tmp_path / "half", signals, labels, dataset.meta, dtype="float16", name="toy", kind="multiclass",
                          classes=["a", "b"], fs=100.0, leads=["I", "II"])
    x, _, _ = RecordDataset(half.signals, labels, np.arange(2), np.zeros((8, 0), np.float32)).__getitems__([0, 1])
    assert x.dtype == torch.float32
    np.testing.assert_allclose(x.numpy(), signals[:2].astype(np.float16), rtol=0)


def test_pages_read_are_released_as_the_epoch_goes(rows, monkeypatch):
    import ecglab.training.dataset as data

    released = []
    monkeypatch.setattr(data, "RESIDENT_BYTES", 2 * 2 * 50 * 4)  # two records' worth
    monkeypatch.setattr(data, "release_pages", lambda array: released.append(array))
    dataset, _, _ = rows
    loaded = RecordDataset(dataset.signals, np.asarray(dataset.labels), np.arange(8), np.zeros((8, 0), np.float32))
    for _ in record_loader(loaded, batch_size=1):
        pass
    assert len(released) == 4 and all(a is dataset.signals for a in released)


def test_no_augmentation_leaves_the_batch_unchanged_and_each_transform_does_what_it_says():
    torch.manual_seed(0)
    x = torch.randn(64, 3, 500)
    assert torch.equal(augment_batch(x, AugmentConfig(), fs=100.0), x)
    gain = augment_batch(x, AugmentConfig(amplitude=0.2), fs=100.0) / x
    per_lead = gain[:, :, :1]
    assert torch.allclose(gain, per_lead.expand_as(gain), rtol=1e-4)  # one gain per lead
    assert math.isclose(float(per_lead.log().std()), 0.2, rel_tol=0.15)
    noisy = augment_batch(x, AugmentConfig(noise=0.05), fs=100.0) - x
    assert math.isclose(float(noisy.std()), 0.05, rel_tol=0.05)
    wander = augment_batch(torch.zeros(16, 2, 2000), AugmentConfig(baseline=0.3), fs=100.0)
    assert float(wander.abs().max()) <= 0.3
    spectrum = torch.fft.rfft(wander, dim=-1).abs()
    peak_hz = spectrum.argmax(dim=-1).float() * 100.0 / 2000
    assert bool(((peak_hz >= 0.0) & (peak_hz <= 0.55)).all())  # slow: breathing and movement, not noise
    dropped = augment_batch(torch.ones(500, 12, 10), AugmentConfig(lead_dropout=0.5), fs=100.0)
    silent = (dropped.abs().sum(dim=-1) == 0).float()
    assert math.isclose(float(silent.mean()), 0.5, abs_tol=0.06)
    assert bool((silent.sum(dim=1) < 12).all())  # at least one lead is kept in every record


def test_augmentation_is_seeded_and_applies_to_training_crops_only(rows):
    dataset, signals, _ = rows
    augment = AugmentConfig(noise=0.5)
    train = RecordDataset(dataset.signals, np.asarray(dataset.labels), np.arange(4), np.zeros((8, 0), np.float32),
                          crop=50, augment=augment, fs=100.0)
    torch.manual_seed(1)
    first = train.__getitems__([0, 1])[0]
    torch.manual_seed(1)
    assert torch.equal(first, train.__getitems__([0, 1])[0])
    assert not torch.equal(first, torch.from_numpy(signals[:2]))


def test_augment_settings_are_validated():
    with pytest.raises(ConfigError, match="lead_dropout"):
        validate_config({"data": {"path": "x", "augment": {"lead_dropout": 1.0}}})
    with pytest.raises(ConfigError, match="unknown key 'data.augment.jitter'"):
        validate_config({"data": {"path": "x", "augment": {"jitter": 0.1}}})


def test_the_heap_is_trimmed_every_sixteenth_evaluation_batch(monkeypatch):
    from ecglab.training import heap

    calls = []
    monkeypatch.setattr(heap, "_TRIM", calls.append)
    for batch_index in range(40):
        heap.trim_heap(batch_index)
    assert calls == [0, 0]  # after batches 15 and 31
    monkeypatch.setattr(heap, "_TRIM", None)  # not glibc: nothing happens
    heap.trim_heap(15)


def test_a_time_shift_moves_every_lead_of_an_example_together_by_whole_samples():
    x = torch.arange(40.0).repeat(200, 2, 1)  # (200, 2, 40): each sample's value is its index
    shifted = augment_batch(x, AugmentConfig(shift=0.03), fs=100.0)  # up to 3 samples either way
    moves = x[:, 0, 20] - shifted[:, 0, 20]
    assert set(moves.tolist()) == {-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0}
    assert torch.equal(shifted[:, 0], shifted[:, 1])  # both leads alike
    inner = (x[:, 0, 3:-3] - moves[:, None]).clamp(0, 39)
    assert torch.equal(shifted[:, 0, 3:-3], inner)  # moved as a whole
    assert torch.equal(shifted[:, 0, 0], (-moves).clamp(0, 39)) and bool((shifted >= 0).all())  # edges repeated
    assert torch.equal(augment_batch(x, AugmentConfig(shift=0.004), fs=100.0), x)  # under a sample: no move
