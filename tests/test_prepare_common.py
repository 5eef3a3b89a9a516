"""What every record-level builder shares: option parsing, preprocessing, global statistics from
the training split only, caching, --force, the streaming writer's resume and truncation."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecglab.datasets import folder
from ecglab.datasets.core import lock, options, prepared, streaming
from ecglab.datasets.core.prepared import PreparedWriter
from ecglab.datasets.core.registry import PrepareContext, prepare
from ecglab.errors import DatasetError, EcglabNote, Interrupted, RecordFormatError
from ecglab.signal.filters import bandpass
from ecglab.signal.resample import resample

FS = 100


def write_npy_folder(root, n=12, seconds=10, offset_val_test=5.0):
    """n records of 12 leads as .npy; val/test rows carry a large offset so that statistics taken
    over every row would differ visibly from those of the training rows."""
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        split = ["train", "train", "val", "test"][i % 4]
        signal = np.random.default_rng(i).normal(0.1 * np.arange(12)[:, None], 0.5, (12, int(seconds * FS)))
        signal += offset_val_test * (split != "train")
        np.save(root / f"r{i:02d}.npy", signal.astype(np.float32))
        rows.append({"record": f"r{i:02d}", "labels": "A" if i % 2 else "B;A", "patient_id": f"p{i}", "split": split, "fs": FS})
    pd.DataFrame(rows).to_csv(root / "labels.csv", index=False)
    return root


def raw(root, i):
    return np.load(root / f"r{i:02d}.npy")


def test_parse_options_and_their_errors():
    spec = options.preprocessing(250, "0.5,40", "global")
    assert (spec.fs, spec.bandpass, spec.standardize, spec.mean) == (250.0, (0.5, 40.0), "global", None)
    assert options.parse_bandpass("0.5,") == (0.5, None)
    assert options.parse_shard("2/4") == (2, 4) and options.parse_shard(None) is None
    assert options.parse_dtype(None) == "float32" and options.parse_dtype("float16") == "float16"
    assert options.parse_codes(" I48, I21 ,") == ["I48", "I21"]
    for bad in (lambda: options.preprocessing(0), lambda: options.preprocessing(100, standardize="lead"),
                lambda: options.parse_bandpass("40,0.5"), lambda: options.parse_shard("5/4"),
                lambda: options.parse_shard("a/b"), lambda: options.parse_dtype("int8")):
        with pytest.raises(DatasetError):
            bad()


def test_fit_length_cuts_the_start_and_pads_the_end():
    signal = np.arange(10, dtype=np.float32).reshape(1, 10)
    assert options.fit_length(signal, 4).tolist() == [[0, 1, 2, 3]]
    assert options.fit_length(signal[:, :3], 5).tolist() == [[0, 1, 2, 0, 0]]


def test_load_signal_applies_preprocessing_in_one_place(tmp_path):
    root = write_npy_folder(tmp_path / "src", n=1)
    spec = options.preprocessing(50, "0.5,20", "record")
    out = options.load_signal(root / "r00.npy", leads=["V1", "I"], spec=spec, length=400, fs=FS)
    expected = bandpass(resample(raw(root, 0)[[6, 0]], FS, 50), 50, 0.5, 20)
    expected = (expected - expected.mean(-1, keepdims=True)) / expected.std(-1, keepdims=True)
    assert out.shape == (2, 400)
    np.testing.assert_allclose(out, options.fit_length(expected, 400), atol=1e-4)
    with pytest.raises(RecordFormatError, match="no lead MLII"):
        options.load_signal(root / "r00.npy", leads=["MLII"], spec=spec, length=400, fs=FS)


def test_global_standardisation_uses_training_rows_only(tmp_path):
    root = write_npy_folder(tmp_path / "src")
    plain = prepare("folder", tmp_path / "plain", root, workers=1, progress=False, fs=FS)
    scaled = prepare("folder", tmp_path / "scaled", root, workers=1, progress=False, fs=FS, standardize="global")
    train = np.flatnonzero(plain.meta["split"] == "train")
    signals = np.asarray(plain.signals, dtype=np.float64)
    mean, std = signals[train].mean(axis=(0, 2)), signals[train].std(axis=(0, 2))
    stored = scaled.manifest["preprocessing"]
    np.testing.assert_allclose(stored["mean"], mean, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(stored["std"], std, rtol=1e-6)
    assert abs(signals.mean(axis=(0, 2)) - mean).min() > 1.0  # every row's mean would be 2.5 higher
    np.testing.assert_allclose(scaled.signals, (signals - mean[:, None]) / std[:, None], atol=1e-5)
    assert stored["standardize"] == "global" and stored["fs"] == FS


def test_same_arguments_are_a_cache_hit_and_force_rebuilds(tmp_path):
    root = write_npy_folder(tmp_path / "src", n=4)
    first = prepare("folder", tmp_path / "out", root, workers=1, progress=False, fs=FS)
    stamp = (tmp_path / "out" / "manifest.json").stat().st_mtime_ns
    again = prepare("folder", tmp_path / "out", root, workers=1, progress=False, fs=FS)
    assert (tmp_path / "out" / "manifest.json").stat().st_mtime_ns == stamp
    assert again.manifest == first.manifest
    with pytest.raises(DatasetError, match="--force"):
        prepare("folder", tmp_path / "out", root, workers=1, progress=False, fs=50)
    rebuilt = prepare("folder", tmp_path / "out", root, workers=1, progress=False, fs=50, force=True)
    assert rebuilt.signals.shape == (4, 12, 500)
    assert rebuilt.manifest["prepare"]["options"]["fs"] == 50


def test_a_second_preparation_of_the_same_folder_waits_for_the_first_and_reuses_its_dataset(tmp_path):
    """Two runs of one config started together once wrote one partial folder at the same time and
    both failed; now the second waits for the lock, then finds the first one's dataset."""
    root = write_npy_folder(tmp_path / "src", n=4)
    out = tmp_path / "out"
    waiting = {}
    second = threading.Thread(target=lambda: waiting.update(result=prepare("folder", out, root, workers=1,
                                                                           progress=False, fs=FS)))
    with pytest.warns(EcglabNote, match="another process is preparing"):
        with lock.preparation_lock(out):  # the first run, still preparing
            second.start()
            second.join(timeout=2)
            assert second.is_alive()  # waits rather than writing beside the first
            first = prepare("folder", tmp_path / "elsewhere", root, workers=1, progress=False, fs=FS)
            (tmp_path / "elsewhere").rename(out)  # what the first run publishes
        second.join(timeout=60)
    assert waiting["result"].reused
    assert waiting["result"].manifest == first.manifest


def test_the_same_source_by_another_path_or_as_a_copy_is_a_cache_hit_and_another_source_is_named(tmp_path, monkeypatch):
    root = write_npy_folder(tmp_path / "src", n=4)
    prepare("folder", tmp_path / "out", root, workers=1, progress=False, fs=FS)
    monkeypatch.chdir(tmp_path / "out")
    assert prepare("folder", tmp_path / "out", Path("../src"), workers=1, progress=False, fs=FS).reused
    import shutil

    shutil.copytree(root, tmp_path / "copy", copy_function=shutil.copy2)  # same names, sizes and times
    assert prepare("folder", tmp_path / "out", tmp_path / "copy", workers=1, progress=False, fs=FS).reused
    other = write_npy_folder(tmp_path / "other", n=5)
    with pytest.raises(DatasetError, match=f"was prepared from {root} \\(now {other}\\)"):
        prepare("folder", tmp_path / "out", other, workers=1, progress=False, fs=FS)


def test_a_force_rebuild_that_fails_mid_way_leaves_the_old_dataset_loadable(tmp_path, monkeypatch):
    root = write_npy_folder(tmp_path / "src", n=4)
    prepare("folder", tmp_path / "out", root, workers=1, progress=False, fs=FS)

    def interrupted(writer, n_rows):
        writer.signals[:] = np.nan  # half-written new rows
        raise KeyboardInterrupt

    monkeypatch.setattr(PreparedWriter, "truncate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        prepare("folder", tmp_path / "out", root, workers=1, progress=False, fs=50, force=True)
    old = prepare("folder", tmp_path / "out", root, workers=1, progress=False, fs=FS)
    assert old.reused and old.signals.shape == (4, 12, 1000) and np.isfinite(old.signals).all()


def test_ctrl_c_keeps_the_partial_directory_says_where_and_the_same_command_continues(tmp_path, monkeypatch):
    root = write_npy_folder(tmp_path / "src", n=4)
    monkeypatch.setattr(streaming, "CHUNK_BYTES", 1)  # progress saved after every record
    read = []

    def read_until_interrupted(item, **options):
        if len(read) == 2 and "ctrl-c" not in read:
            read.append("ctrl-c")
            raise KeyboardInterrupt
        read.append(item[0])
        return np.load(item[0])[:, :1000]

    monkeypatch.setattr(folder, "read_file", read_until_interrupted)
    with pytest.raises(Interrupted, match=r"The 2 records saved so far stay in \S*\.out\.partial .*the same command "
                                          r"continues from there, and --force or deleting that directory starts afresh"):
        prepare("folder", tmp_path / "out", root, workers=1, progress=False, fs=FS)
    assert (tmp_path / ".out.partial").is_dir()
    resumed = prepare("folder", tmp_path / "out", root, workers=1, progress=False, fs=FS)
    assert [Path(item).name for item in read[3:]] == ["r02.npy", "r03.npy"]  # not r00, r01 again
    np.testing.assert_array_equal(resumed.signals[0], raw(root, 0))
    assert not (tmp_path / ".out.partial").exists()


def test_a_refusal_after_reading_removes_the_partial_directory(tmp_path, monkeypatch):
    root = write_npy_folder(tmp_path / "src", n=4)

    def refuse(signals, meta):
        raise DatasetError("1 records hold NaN or infinite samples")

    monkeypatch.setattr(prepared, "_check_finite", refuse)
    with pytest.raises(DatasetError, match="NaN"):
        prepare("folder", tmp_path / "out", root, workers=1, progress=False, fs=FS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_float16_storage(tmp_path):
    root = write_npy_folder(tmp_path / "src", n=4)
    half = prepare("folder", tmp_path / "out", root, workers=1, progress=False, fs=FS, dtype="float16")
    assert half.signals.dtype == np.float16 and half.manifest["dtype"] == "float16"
    np.testing.assert_allclose(half.signals[1], raw(root, 1), atol=2e-3)


def test_imap_streams_in_order_and_skips_by_name(tmp_path):
    ctx = PrepareContext(tmp_path / "out", None, workers=2, progress=False)
    items = list(range(40))
    results = list(ctx.imap(_square_or_fail, items, names=[f"item-{i}" for i in items], start=3))
    assert [p for p, _ in results] == list(range(3, 40))
    assert [v for p, v in results if p != 7] == [p * p for p in range(3, 40) if p != 7]
    assert dict(results)[7] is None
    assert [(s.item, s.reason) for s in ctx.skipped] == [("item-7", "seven is unreadable")]
    strict = PrepareContext(tmp_path / "out", None, workers=1, strict=True, progress=False)
    with pytest.raises(DatasetError, match="item-7"):
        strict.map(_square_or_fail, items, names=[f"item-{i}" for i in items])


def test_large_batches_and_large_results_do_not_deadlock(tmp_path):
    # each item and each result is far larger than a pipe's buffer: a caller blocked sending the next
    # item while a worker is blocked sending its result would wait forever
    import threading

    ctx = PrepareContext(tmp_path / "out", None, workers=2, progress=False)
    items = [np.full(300_000, i, dtype=np.float64) for i in range(24)]
    done = {}
    thread = threading.Thread(target=lambda: done.update(results=ctx.map(np.negative, items)), daemon=True)
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive(), "the reading processes deadlocked"
    assert [float(r[0]) for r in done["results"]] == [-float(i) for i in range(24)]


def _square_or_fail(x):
    if x == 7:
        raise RecordFormatError("seven is unreadable")
    return x * x


def test_writer_resumes_with_the_same_key_and_truncates(tmp_path):
    writer = PreparedWriter(tmp_path / "out", 10, 2, 5, 3, resume_key="k1")
    writer.signals[:4] = 1.5
    writer.signals.flush()
    del writer
    again = PreparedWriter(tmp_path / "out", 10, 2, 5, 3, overwrite=True, resume_key="k1")
    assert again.resumed and float(again.signals[3, 0, 0]) == 1.5 and float(again.signals[4, 0, 0]) == 0
    other = PreparedWriter(tmp_path / "out", 10, 2, 5, 3, overwrite=True, resume_key="k2")
    assert not other.resumed and float(other.signals[3, 0, 0]) == 0
    other.signals[:] = np.arange(100, dtype=np.float32).reshape(10, 2, 5)
    other.labels[:] = np.eye(3, dtype=np.uint8)[np.arange(10) % 3]
    other.truncate(4)
    meta = pd.DataFrame({"record_id": list("abcd"), "patient_id": list("abcd"), "split": ["train"] * 4})
    done = other.finish(meta, name="t", kind="multilabel", classes=["x", "y", "z"], fs=1, leads=["I", "II"])
    assert done.signals.shape == (4, 2, 5) and done.labels.shape == (4, 3)
    np.testing.assert_array_equal(done.signals, np.arange(40).reshape(4, 2, 5))
    assert sorted(p.name for p in done.path.iterdir()) == ["labels.npy", "manifest.json", "meta.parquet", "signals.npy"]


def test_patient_split_keeps_patients_whole_and_is_seeded():
    patients = np.repeat([f"p{i}" for i in range(30)], 3)
    labels = np.eye(3, dtype=np.uint8)[np.arange(90) % 3]
    split = options.patient_split(patients, labels, seed=1)
    assert pd.DataFrame({"p": patients, "s": split}).groupby("p")["s"].nunique().max() == 1
    assert sorted(pd.Series(split).value_counts().to_dict().items()) == [("test", 9), ("train", 72), ("val", 9)]
    assert (options.patient_split(patients, labels, seed=1) == split).all()


def test_merge_refuses_incomplete_or_foreign_shards(tmp_path):
    root = write_npy_folder(tmp_path / "src", n=8)
    one = prepare("folder", tmp_path / "s1", root, workers=1, progress=False, fs=FS, shard="1/2")
    assert one.manifest["shard"] == {"index": 1, "count": 2, "rows": [0, 4]} and len(one) == 4
    with pytest.raises(DatasetError, match="shards 1…2"):
        streaming.merge_shards(tmp_path / "m", [tmp_path / "s1"], progress=False)
    prepare("folder", tmp_path / "s2", root, workers=1, progress=False, fs=50, shard="2/2")
    with pytest.raises(DatasetError, match="other arguments"):
        streaming.merge_shards(tmp_path / "m", [tmp_path / "s1", tmp_path / "s2"], progress=False)
    whole = prepare("folder", tmp_path / "whole", root, workers=1, progress=False, fs=FS)
    with pytest.raises(DatasetError, match="not a shard"):
        streaming.merge_shards(tmp_path / "m", [whole.path], progress=False)


def test_an_interrupted_merge_leaves_no_partial_directory(tmp_path, monkeypatch):
    root = write_npy_folder(tmp_path / "src", n=8)
    shards = [prepare("folder", tmp_path / f"s{i}", root, workers=1, progress=False, fs=FS, shard=f"{i}/2").path
              for i in (1, 2)]

    def interrupted(signals, meta):
        raise KeyboardInterrupt

    monkeypatch.setattr(prepared, "_check_finite", interrupted)
    with pytest.raises(KeyboardInterrupt):
        streaming.merge_shards(tmp_path / "m", shards, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s1", "s2", "src"]


def test_cli_prepare_and_merge(tmp_path, capsys):
    from ecglab.cli import main

    root = write_npy_folder(tmp_path / "src", n=8)
    for i in (1, 2):
        assert main(["prepare", "folder", "--source", str(root), "--out", str(tmp_path / f"s{i}"),
                     "--fs", str(FS), "--standardize", "global", "--shard", f"{i}/2", "--workers", "1"]) == 0
    assert main(["prepare-merge", str(tmp_path / "s2"), str(tmp_path / "s1"), "--out", str(tmp_path / "m")]) == 0
    merged = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert merged["n_records"] == 8 and "shard" not in merged and merged["preprocessing"]["mean"] is not None
    assert "folder-src: 8 records" in capsys.readouterr().out.replace("\n", " ")
    assert main(["prepare", "folder", "--source", str(root), "--out", str(tmp_path / "x"), "--standardize", "lead"]) == 2


def test_stamp_records_the_builders_defaults(tmp_path):
    from ecglab.datasets.core.registry import prepare

    ds = prepare("synthetic", tmp_path / "s", n=30, progress=False)
    assert ds.manifest["prepare"]["options"]["task"] == "record" and ds.manifest["prepare"]["options"]["n"] == 30


def _console_output(capsys, monkeypatch, argv, columns=80):
    """What the CLI prints, as in a pipe or a log: rich renders at 80 columns (or COLUMNS) then."""
    from ecglab.cli import main

    monkeypatch.setenv("COLUMNS", str(columns))
    code = main(argv)
    return code, capsys.readouterr().out


def test_summary_puts_classes_in_rows_and_says_when_the_dataset_was_reused(tmp_path, capsys, monkeypatch):
    root = write_npy_folder(tmp_path / "src", n=12)
    labels = pd.read_csv(root / "labels.csv")
    labels["labels"] = [";".join(f"class{j:02d}" for j in range(40) if (i + j) % 3 == 0) for i in range(12)]
    labels.to_csv(root / "labels.csv", index=False)
    argv = ["prepare", "folder", "--source", str(root), "--out", str(tmp_path / "out"), "--fs", str(FS), "--workers", "1"]
    code, out = _console_output(capsys, monkeypatch, argv)
    table = [line for line in out.splitlines() if not line.startswith("written to")]
    assert code == 0 and "…" not in out and max(len(line) for line in table) <= 80
    counts = json.loads((tmp_path / "out" / "manifest.json").read_text())["split_counts"]
    rows = {line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[2:-1]]
            for line in out.splitlines() if line.startswith("│")}
    header = next(line for line in out.splitlines() if line.startswith("┃"))
    assert [cell.strip() for cell in header.split("┃")[2:-1]] == ["train", "val", "test"]
    assert rows["records"] == [str(counts[s]["records"]) for s in ("train", "val", "test")] == ["6", "3", "3"]
    for j in range(40):
        assert rows[f"class{j:02d}"] == [str(counts[s]["classes"][f"class{j:02d}"]) for s in ("train", "val", "test")]
    assert out.rstrip().endswith(f"written to {tmp_path / 'out'}")
    code, again = _console_output(capsys, monkeypatch, argv)
    assert code == 0 and "reused the existing dataset" in again and "written to" not in again


def test_summary_orders_splits_train_val_test_then_others(tmp_path, capsys):
    from ecglab.cli.prepare import show_summary
    from ecglab.datasets.core.prepared import write_prepared

    splits = ["test", "holdout", "val", "train", "train"]
    meta = pd.DataFrame({"record_id": list("abcde"), "patient_id": list("abcde"), "split": splits})
    dataset = write_prepared(tmp_path / "d", np.zeros((5, 1, 4)), np.eye(2, dtype=np.uint8)[[0, 1, 0, 1, 1]], meta,
                             name="t", kind="multilabel", classes=["x", "y"], fs=1, leads=["I"])
    show_summary(dataset)
    header = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("┃"))
    assert [cell.strip() for cell in header.split("┃")[2:-1]] == ["train", "val", "test", "holdout"]


def test_empty_splits_are_warned_about_and_recorded(tmp_path, capsys, monkeypatch):
    from ecglab.datasets.core.prepared import empty_split_warning

    two = pd.DataFrame({"patient_id": ["p1", "p1", "p2"], "split": ["train", "train", "test"]})
    assert empty_split_warning(two).startswith("split val is empty: there are only 2 patients")
    many = pd.DataFrame({"patient_id": ["p1", "p2", "p3", "p4"], "split": ["train"] * 4})
    assert empty_split_warning(many, "split column").startswith(
        "splits val and test are empty: the split rule (split column) assigned none")
    assert empty_split_warning(pd.DataFrame({"patient_id": [1, 2, 3], "split": ["train", "val", "test"]})) is None
    root = write_npy_folder(tmp_path / "src", n=8)
    labels = pd.read_csv(root / "labels.csv")
    labels["split"] = ["train", "train", "train", "test"] * 2  # five patients' worth of rows and no val
    labels.to_csv(root / "labels.csv", index=False)
    argv = ["prepare", "folder", "--source", str(root), "--out", str(tmp_path / "out"), "--fs", str(FS), "--workers", "1"]
    code, out = _console_output(capsys, monkeypatch, argv, columns=200)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert code == 0 and manifest["warnings"] == [
        "split val is empty: the split rule (split column) assigned none of the selected records to it (rows per split: "
        "train 6, test 2). Training needs train and val, evaluation needs test; prepare more records or patients (or, "
        "where the dataset offers one, another --split)."]
    assert "warning: split val is empty" in out


def test_the_pool_is_not_forked_from_the_caller_and_a_dying_worker_is_explained(tmp_path):
    import os

    ctx = PrepareContext(tmp_path / "out", None, workers=2, progress=False)
    parents = ctx.map(_parent_process, list(range(8)))
    assert len(set(parents)) == 1 and parents[0] != os.getpid()  # the forkserver, not this process
    with pytest.raises(DatasetError, match="stopped abruptly.*__main__"):
        ctx.map(_exit_abruptly, list(range(8)))
    with pytest.raises(RuntimeError, match="a bug"):  # not an unreadable record: raised, not skipped
        ctx.map(_fail_with_a_bug, list(range(8)))


def test_a_caller_that_stops_early_leaves_no_reading_process_behind(tmp_path):
    import multiprocessing

    before = set(multiprocessing.active_children())
    ctx = PrepareContext(tmp_path / "out", None, workers=2, progress=False)
    results = ctx.imap(_square_or_fail, list(range(400)))
    assert [next(results) for _ in range(3)] == [(0, 0), (1, 1), (2, 4)]
    assert len(set(multiprocessing.active_children()) - before) == 2
    results.close()  # as an interruption (Ctrl-C) or a --strict failure does
    assert set(multiprocessing.active_children()) - before == set()


def _parent_process(_):
    import os

    return os.getppid()


def _exit_abruptly(_):
    import os

    os._exit(3)


def _fail_with_a_bug(_):
    raise RuntimeError("a bug")


def _tree(root, levels, fan_out=5, files=4):
    """A tree ``levels`` deep: each directory holds ``files`` files and ``fan_out`` subdirectories."""
    root.mkdir(parents=True)
    for i in range(files):
        (root / f"f{i}.dat").write_bytes(b"x" * i)
    if levels:
        for i in range(fan_out):
            _tree(root / f"d{i}", levels - 1, fan_out, files)
    return root


def test_fingerprint_walks_in_a_fixed_order_and_sees_every_change(tmp_path):
    import hashlib
    import os

    from ecglab.datasets.core.fingerprint import source_fingerprint

    root = tmp_path / "src"
    for name in ("b.txt", "a.txt", "a/z.txt", "a/c/y.txt", "a.d/x.txt"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name)
        os.utime(root / name, (1_000_000_000, 1_000_000_000))
    # a directory's files in name order, then its subdirectories in name order, depth first
    order = ["a.txt", "b.txt", "a/z.txt", "a/c/y.txt", "a.d/x.txt"]
    expected = hashlib.sha256("".join(f"{name}|{len(name)}|1000000000\n" for name in order).encode()).hexdigest()[:16]
    assert source_fingerprint(root) == expected
    (root / "out").mkdir()
    (root / "out" / "signals.npy").write_bytes(b"0")
    assert source_fingerprint(root, exclude=[root / "out"]) == expected  # an output inside the source is not source
    (root / "a/c/y.txt").write_text("changed")
    assert source_fingerprint(root) not in (expected, source_fingerprint(root, exclude=[root / "out"]))
    assert source_fingerprint(root, index_files=["b.txt"]) != source_fingerprint(root, index_files=["a.txt"])


def test_fingerprint_memory_does_not_grow_with_the_number_of_files(tmp_path):
    import tracemalloc

    from ecglab.datasets.core.fingerprint import source_fingerprint

    small, large = _tree(tmp_path / "small", 2), _tree(tmp_path / "large", 4)  # 124 and 3,124 files

    def peak(root):
        tracemalloc.start()
        source_fingerprint(root)
        value = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return value

    peak(small)
    growth = peak(large) - peak(small)
    assert growth < 16_000, growth  # measured ~1 kB; the former sorted list of every path: ~1.5 MB


def test_changed_options_are_named_and_config_owned_data_is_rebuilt(tmp_path):
    from ecglab.datasets.core.registry import prepare
    from ecglab.errors import DatasetError

    prepare("synthetic", tmp_path / "s", n=30, progress=False)
    with pytest.raises(DatasetError, match=r"was prepared with n=30 \(now 40\)"):
        prepare("synthetic", tmp_path / "s", n=40, progress=False)
    assert len(prepare("synthetic", tmp_path / "s", n=40, progress=False, rebuild_if_changed=True)) == 40


def test_a_cache_from_an_older_builder_version_is_named_and_rebuilt(tmp_path, monkeypatch):
    import dataclasses
    import json

    from ecglab.datasets.core import registry
    from ecglab.errors import DatasetError

    prepare = registry.prepare
    prepare("synthetic", tmp_path / "s", n=30, progress=False)
    manifest = tmp_path / "s" / "manifest.json"
    old = json.loads(manifest.read_text())
    del old["prepare"]["version"]  # what an ecglab from before builder versions wrote: version 1
    manifest.write_text(json.dumps(old))
    assert prepare("synthetic", tmp_path / "s", n=30, progress=False).reused
    builder = registry.get_builder("synthetic")
    monkeypatch.setitem(registry._BUILDERS, "synthetic", dataclasses.replace(builder, version=2))
    with pytest.raises(DatasetError, match=r"another ecglab \(version 1 of the synthetic builder, now 2\).*--force"):
        prepare("synthetic", tmp_path / "s", n=30, progress=False)
    rebuilt = prepare("synthetic", tmp_path / "s", n=30, progress=False, rebuild_if_changed=True)
    assert not getattr(rebuilt, "reused", False) and rebuilt.manifest["prepare"]["version"] == 2
