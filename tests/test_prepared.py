import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecglab.datasets.core.prepared import PreparedDataset, PreparedWriter, check_patient_splits, write_prepared
from ecglab.errors import DatasetError, LeakageError


def _meta(n, splits=("train", "val", "test")):
    patients = np.arange(n) // 2
    return pd.DataFrame({"record_id": [f"r{i}" for i in range(n)], "patient_id": patients,
                         "split": [splits[p % len(splits)] for p in patients]})


def _manifest():
    return dict(name="toy", kind="multilabel", classes=["A", "B"], fs=100.0, leads=["I", "II"])


def test_round_trip_memmap_and_manifest(tmp_path):
    signals = np.random.default_rng(0).normal(size=(12, 2, 50)).astype(np.float32)
    labels = (np.arange(24).reshape(12, 2) % 3 == 0).astype(np.uint8)
    ds = write_prepared(tmp_path / "ds", signals, labels, _meta(12), **_manifest())
    again = PreparedDataset(tmp_path / "ds")
    assert isinstance(again.signals, np.memmap)
    np.testing.assert_array_equal(again.signals, signals)
    np.testing.assert_array_equal(again.labels, labels)
    assert again.classes == ["A", "B"] and again.fs == 100.0 and again.length == 50 and len(again) == 12
    counts = json.loads((tmp_path / "ds" / "manifest.json").read_text())["split_counts"]
    assert counts["train"]["records"] == 4 and counts["train"]["patients"] == 2
    assert counts["train"]["classes"]["A"] == int(labels[ds.split_indices("train"), 0].sum())


def test_float16_storage(tmp_path):
    ds = write_prepared(tmp_path / "ds", np.ones((6, 2, 10)), np.zeros((6, 2)), _meta(6), dtype="float16", **_manifest())
    assert ds.signals.dtype == np.float16 and ds.manifest["dtype"] == "float16"


def test_leaking_patient_is_an_error_and_nothing_is_left(tmp_path):
    meta = _meta(6)
    meta.loc[1, "split"] = "test"  # patient 0 now in train and test
    with pytest.raises(LeakageError, match="patients appear in more than one split"):
        write_prepared(tmp_path / "ds", np.zeros((6, 2, 10)), np.zeros((6, 2)), meta, **_manifest())
    assert not (tmp_path / "ds").exists()
    assert not any(p.name.endswith(".partial") for p in tmp_path.iterdir())


def test_check_patient_splits_accepts_clean_split():
    check_patient_splits(_meta(10))


def test_existing_output_needs_overwrite(tmp_path):
    write_prepared(tmp_path / "ds", np.zeros((6, 2, 10)), np.zeros((6, 2)), _meta(6), **_manifest())
    with pytest.raises(DatasetError, match="already exists"):
        PreparedWriter(tmp_path / "ds", 6, 2, 10, 2)


def test_crash_mid_write_leaves_previous_dataset_intact(tmp_path):
    write_prepared(tmp_path / "ds", np.zeros((6, 2, 10)), np.zeros((6, 2)), _meta(6), **_manifest())
    writer = PreparedWriter(tmp_path / "ds", 6, 2, 10, 2, overwrite=True)
    writer.signals[:] = 1.0
    writer.abort()
    assert float(np.abs(PreparedDataset(tmp_path / "ds").signals).max()) == 0.0


def _fail_to_move(monkeypatch, directory, error):
    """Make renaming ``directory`` raise ``error``, as a full disk or a Ctrl-C at that moment would."""
    rename = Path.rename

    def failing(self, target):
        if self == directory:
            raise error
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", failing)


@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
def test_force_that_fails_while_putting_the_new_dataset_in_place_keeps_the_old_one(tmp_path, monkeypatch, error):
    write_prepared(tmp_path / "ds", np.zeros((6, 2, 10)), np.zeros((6, 2)), _meta(6), **_manifest())
    _fail_to_move(monkeypatch, PreparedWriter.partial_dir(tmp_path / "ds"), error)
    with pytest.raises(type(error)):
        write_prepared(tmp_path / "ds", np.ones((6, 2, 10)), np.zeros((6, 2)), _meta(6), overwrite=True, **_manifest())
    old = PreparedDataset(tmp_path / "ds")
    assert len(old) == 6 and float(np.abs(old.signals).max()) == 0.0
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]


def test_force_replaces_the_old_dataset_and_leaves_no_copy_of_it(tmp_path):
    write_prepared(tmp_path / "ds", np.zeros((6, 2, 10)), np.zeros((6, 2)), _meta(6), **_manifest())
    write_prepared(tmp_path / "ds", np.ones((8, 2, 10)), np.zeros((8, 2)), _meta(8), overwrite=True, **_manifest())
    assert float(PreparedDataset(tmp_path / "ds").signals.min()) == 1.0
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]


def test_a_swap_killed_between_its_renames_is_completed_by_the_next_run(tmp_path):
    write_prepared(tmp_path / "ds", np.zeros((6, 2, 10)), np.zeros((6, 2)), _meta(6), **_manifest())
    (tmp_path / "ds").rename(PreparedWriter.replaced_dir(tmp_path / "ds"))  # kill -9 after moving the old one aside
    write_prepared(tmp_path / "ds", np.ones((6, 2, 10)), np.zeros((6, 2)), _meta(6), overwrite=True, **_manifest())
    assert float(PreparedDataset(tmp_path / "ds").signals.min()) == 1.0
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]


def test_shape_mismatches_are_explained(tmp_path):
    with pytest.raises(DatasetError, match="meta has 5 rows but there are 6 signals"):
        write_prepared(tmp_path / "a", np.zeros((6, 2, 10)), np.zeros((6, 2)), _meta(5), **_manifest())
    with pytest.raises(DatasetError, match="lead names"):
        write_prepared(tmp_path / "b", np.zeros((6, 3, 10)), np.zeros((6, 2)), _meta(6), **_manifest())
    with pytest.raises(DatasetError, match="not a prepared dataset"):
        PreparedDataset(tmp_path / "missing")


def test_empty_split_is_an_error(tmp_path):
    ds = write_prepared(tmp_path / "ds", np.zeros((6, 2, 10)), np.zeros((6, 2)), _meta(6, ("train", "val")), **_manifest())
    with pytest.raises(DatasetError, match="split \\['test'\\] is empty"):
        ds.split_indices("test")


def test_force_never_replaces_something_that_is_not_a_dataset(tmp_path):
    folder = tmp_path / "important"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    with pytest.raises(DatasetError, match="not a prepared dataset; refusing to replace it"):
        write_prepared(folder, np.zeros((6, 2, 10)), np.zeros((6, 2)), _meta(6), overwrite=True, **_manifest())
    assert (folder / "notes.txt").read_text() == "keep me"
    (tmp_path / "afile").write_text("x")
    with pytest.raises(DatasetError, match="is a file"):
        write_prepared(tmp_path / "afile", np.zeros((6, 2, 10)), np.zeros((6, 2)), _meta(6), overwrite=True, **_manifest())


def test_non_finite_signals_are_refused_by_name(tmp_path):
    signals = np.zeros((6, 2, 10), dtype=np.float32)
    signals[4, 1, 3] = np.nan
    with pytest.raises(DatasetError, match=r"1 records hold NaN or infinite samples \(e.g. \['r4'\]\)"):
        write_prepared(tmp_path / "ds", signals, np.zeros((6, 2)), _meta(6), **_manifest())
    assert not (tmp_path / "ds").exists()


def test_a_corrupt_manifest_is_explained(tmp_path):
    write_prepared(tmp_path / "ds", np.zeros((6, 2, 10)), np.zeros((6, 2)), _meta(6), **_manifest())
    (tmp_path / "ds" / "manifest.json").write_text("{broken")
    with pytest.raises(DatasetError, match="not a readable manifest"):
        PreparedDataset(tmp_path / "ds")
    (tmp_path / "ds" / "manifest.json").write_text('{"name": "x"}')
    with pytest.raises(DatasetError, match="the manifest lacks"):
        PreparedDataset(tmp_path / "ds")
