"""Synthetic 12-lead records prepared chunk by chunk: the same records however they are
scheduled (in-process, worker processes, one chunk alone), and memory that does not grow with
the number of records."""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys

import numpy as np
import pytest

from ecglab.datasets.core.registry import prepare
from ecglab.datasets.synthetic import generate_records
from ecglab.datasets.synthetic.noise import add_noise
from ecglab.datasets.synthetic.twelve_lead import CHUNK, plan_records, synthesize_chunk

N = 1800  # four chunks, the last one short: the fewest that PrepareContext.imap hands to worker processes


@pytest.fixture(scope="module")
def generated():
    return generate_records(N, fs=100, seed=4)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("streaming")
    return {workers: prepare("synthetic", root / f"w{workers}", n=N, fs=100, seed=4, workers=workers, progress=False)
            for workers in (1, 2)}


def test_plan_has_chunks_of_fixed_size_with_a_short_last_one():
    labels, meta, chunks = plan_records(N, fs=100, seed=4)
    assert len(chunks) == 4 and N > 3 * CHUNK and chunks.length == 1000
    assert [(c.rows.start, c.rows.stop) for c in chunks] == [(0, 500), (500, 1000), (1000, 1500), (1500, 1800)]
    assert [str(c) for c in chunks[1:3]] == ["records 500-999", "records 1000-1499"]
    assert chunks[-1].rows == chunks[3].rows and labels.shape == (N, 5) and len(meta) == N
    with pytest.raises(IndexError):
        chunks[4]


def test_prepared_dataset_equals_generate_records(prepared, generated):
    signals, labels, meta = generated
    dataset = prepared[1]
    np.testing.assert_array_equal(dataset.signals, signals)
    np.testing.assert_array_equal(dataset.labels, labels)
    assert dataset.meta.equals(meta)
    assert dataset.manifest["source"] == {"generator": "ecglab.datasets.synthetic", "task": "record", "n": N,
                                          "fs": 100.0, "seed": 4}
    assert dataset.manifest["input"] == "record" and dataset.manifest["skipped"]["count"] == 0


def test_worker_processes_give_the_same_bytes(prepared):
    one, two = prepared[1].path, prepared[2].path
    for name in ("signals.npy", "labels.npy"):
        assert (one / name).read_bytes() == (two / name).read_bytes()
    assert prepared[1].meta.equals(prepared[2].meta)
    manifests = [json.loads((path / "manifest.json").read_text()) for path in (one, two)]
    assert manifests[0]["split_counts"] == manifests[1]["split_counts"]


def test_a_chunk_alone_equals_its_rows_of_the_whole(generated):
    signals, _, _ = generated
    _, _, chunks = plan_records(N, fs=100, seed=4)
    for index in (3, 1):  # out of order, each with a fresh plan, and after a round trip to a worker
        chunk = pickle.loads(pickle.dumps(plan_records(N, fs=100, seed=4)[2][index]))
        np.testing.assert_array_equal(synthesize_chunk(chunk), signals[chunks[index].rows])


def test_each_chunk_draws_its_noise_from_a_stream_seeded_by_seed_and_first_row():
    noisy, _, _ = generate_records(600, fs=100, seed=2)
    clean, _, _ = generate_records(600, fs=100, seed=2, noise=False)
    for rows in (slice(0, CHUNK), slice(CHUNK, 600)):
        expected = add_noise(np.random.default_rng([2, 2, rows.start]), np.zeros_like(clean[rows]), 100)
        np.testing.assert_allclose(noisy[rows] - clean[rows], expected, atol=1e-5)
    assert 0.05 < expected.std() < 0.3  # millivolts of wander, hum and muscle noise


PEAK_RSS = """
import resource, sys
from ecglab.datasets.core.registry import prepare
prepare("synthetic", sys.argv[1], n=int(sys.argv[2]), fs=500, workers=1, progress=False)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def test_peak_memory_does_not_grow_with_the_number_of_records(tmp_path):
    peaks, sizes = {}, {}
    for n in (1000, 4000):
        out = tmp_path / f"n{n}"
        done = subprocess.run([sys.executable, "-c", PEAK_RSS, str(out), str(n)], capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        peaks[n] = int(done.stdout.split()[-1])
        sizes[n] = (out / "signals.npy").stat().st_size
        shutil.rmtree(out)
    assert sizes[4000] - sizes[1000] == 3000 * 12 * 5000 * 4  # 720 MB more written...
    assert abs(peaks[4000] - peaks[1000]) < 150 * 2**20, peaks  # ...for the same peak memory
