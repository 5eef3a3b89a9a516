"""Scale: memory and time of preparing and training on synthetic datasets of growing size, and the
projection to MIMIC-IV-ECG's 800,000 records.

1. ``ecglab prepare synthetic --n N`` (12-lead, 10 s, 100 Hz) for each size, with 1 worker process,
   and with each other ``--workers`` count at the largest size: wall time, records/s, and the peak
   resident memory of the whole process tree (sampled every 0.1 s; shared pages are counted once
   per process, so it is an upper bound).
2. One training epoch of ``--model`` on each prepared dataset through ``ecglab train`` (the demo's
   2.5 s crops, validation, test evaluation and export included): wall time, training samples/s,
   peak resident memory.
3. ``ecglab prepare mimic-iv-ecg`` on a tree in MIMIC-IV-ECG's release layout (WFDB, 500 Hz,
   resampled to 100 Hz), written here with ``wfdb.wrsamp``, with each ``--workers`` count: studies/s,
   projected to 800,000 studies; the training epoch is projected from step 2's samples/s.

    python benchmarks/scale.py                                         # 10,000 and 100,000 records
    python benchmarks/scale.py --sizes 2000,10000 --mimic 500          # a quick look
    python benchmarks/scale.py --sizes 21799 --workers 8 --mimic 0 --set trainer.accelerator=gpu \
        --set trainer.precision=bf16-mixed --set data.num_workers=4      # a PTB-XL-sized epoch on a GPU

Needs disk for the largest dataset (100,000 records: 4.8 GB); everything is written under --dir
(default: a temporary folder, removed at the end).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import yaml

MIMIC_RECORDS = 800_000
ECGLAB = [sys.executable, "-m", "ecglab.cli"]


def run_measured(command: list[str]) -> dict:
    """Run ``command``; its wall time and the peak resident memory of its process tree (sum) and of its
    main process."""
    process = psutil.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           env={**os.environ, "PYTHONUNBUFFERED": "1"})
    peaks = {"tree": 0, "main": 0}
    gpu_busy: list[float] = []

    def sample():
        while process.poll() is None:
            if shutil.which("nvidia-smi") and len(gpu_busy) < time.perf_counter() - start:  # about once a second
                gpu_busy.append(gpu_utilisation())
            try:
                family = [process, *process.children(recursive=True)]
                rss = [p.memory_info().rss for p in family]
            except psutil.Error:  # a worker ended between listing and reading
                continue
            peaks["tree"], peaks["main"] = max(peaks["tree"], sum(rss)), max(peaks["main"], rss[0])
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    start = time.perf_counter()
    sampler.start()
    output = process.communicate()[0]
    wall = time.perf_counter() - start
    sampler.join()
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{output[-3000:]}")
    return {"seconds": wall, "tree_mb": peaks["tree"] / 2**20, "main_mb": peaks["main"] / 2**20, "output": output,
            "gpu_busy": sum(gpu_busy) / len(gpu_busy) if gpu_busy else None}


def gpu_utilisation() -> float:
    """The first GPU's utilisation (%) as nvidia-smi reports it now."""
    query = ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"]
    return float(subprocess.run(query, capture_output=True, text=True).stdout.split()[0])


def prepare_synthetic(folder: Path, n: int, workers: int) -> dict:
    out = folder / f"synthetic-{n}-w{workers}"
    result = run_measured([*ECGLAB, "prepare", "synthetic", "--out", str(out), "--n", str(n), "--fs", "100",
                           "--workers", str(workers), "--force"])
    return {**result, "records_per_s": n / result["seconds"], "path": out}


def train_one_epoch(folder: Path, data: Path, model: str, overrides: list[str]) -> dict:
    """``ecglab train`` for one epoch; training samples/s from the epoch's own timing (see the child below)."""
    from ecglab.training.config import load_config
    from ecglab.training.demo import demo_config

    raw = demo_config(folder)
    raw.update(name=f"epoch-{data.name}")
    raw["data"].pop("prepare")
    raw["data"]["path"] = str(data)
    raw["model"]["name"] = model
    raw["trainer"].update(max_epochs=1)
    raw["report"].update(baseline=False, n_boot=0)
    config = folder / f"epoch-{data.name}.yaml"
    config.write_text(yaml.safe_dump(load_config(base=raw, overrides=overrides).model_dump(mode="json")))
    result = run_measured([sys.executable, __file__, "--child-train", str(config)])
    timing = json.loads(result["output"].strip().splitlines()[-1])
    return {**result, **timing}


def child_train(config_file: str) -> None:
    """In a child process: train, then print the training epoch's samples/s as the last line (JSON)."""
    import lightning as L

    from ecglab.training.config import load_config
    from ecglab.training.fit import train

    class EpochClock(L.Callback):
        def on_train_epoch_start(self, trainer, module):
            self.start, self.samples = time.perf_counter(), 0

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            self.samples, self.end = self.samples + len(batch[0]), time.perf_counter()

    clock = EpochClock()
    config = load_config(config_file, ["trainer.progress=false"])
    train(config, callbacks=[clock])
    print(json.dumps({"train_samples_per_s": clock.samples / (clock.end - clock.start),
                      "epoch_train_seconds": clock.end - clock.start, "samples": clock.samples}))


def prepare_mimic_like(folder: Path, studies: int, workers: list[int]) -> dict[int, float]:
    """Studies/s of ``ecglab prepare mimic-iv-ecg`` (machine statements, 100 Hz) per worker count."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from test_mimic import make_tree  # the release layout the MIMIC loader's tests use

    tree = make_tree(folder / "mimic", studies)
    rates = {}
    for w in workers:
        result = run_measured([*ECGLAB, "prepare", "mimic-iv-ecg", "--source", str(tree), "--out",
                               str(folder / f"mimic-w{w}"), "--task", "machine", "--fs", "100", "--workers", str(w)])
        rates[w] = studies / result["seconds"]
    return rates


def hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated synthetic record counts")
    parser.add_argument("--workers", default="1,2", help="worker counts to compare (all at the largest size)")
    parser.add_argument("--model", default="resnet1d", help="zoo model for the training epoch")
    parser.add_argument("--mimic", type=int, default=2000, help="studies in the MIMIC-like tree (0: skip)")
    parser.add_argument("--dir", help="working folder (default: a temporary one, removed at the end)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="training config override, e.g. trainer.accelerator=gpu (repeatable)")
    parser.add_argument("--child-train", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_train:
        return child_train(args.child_train)
    sizes, workers = [int(s) for s in args.sizes.split(",")], [int(w) for w in args.workers.split(",")]
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp)
        rows = []
        for n in sizes:
            for w in workers if n == sizes[-1] else workers[:1]:
                prep = prepare_synthetic(folder, n, w)
                print(f"prepare n={n:,} workers={w}: {prep['seconds']:.0f} s, {prep['records_per_s']:.0f} records/s, "
                      f"peak RSS tree {prep['tree_mb']:.0f} MB, main {prep['main_mb']:.0f} MB", flush=True)
                rows.append(("prepare", n, w, prep))
            epoch = train_one_epoch(folder, prep["path"], args.model, args.set)
            busy = "" if epoch["gpu_busy"] is None else f", GPU busy {epoch['gpu_busy']:.0f} % on average"
            print(f"train n={n:,}: {epoch['seconds']:.0f} s in all, {epoch['train_samples_per_s']:.0f} samples/s, "
                  f"peak RSS {epoch['tree_mb']:.0f} MB{busy}", flush=True)
            rows.append(("train", n, 0, epoch))
            for path in folder.glob(f"synthetic-{n}-w*/"):  # 4.8 GB at 100,000 records: keep one size on disk at a time
                shutil.rmtree(path)
        mimic = prepare_mimic_like(folder, args.mimic, workers) if args.mimic else {}
    print(f"\n{os.cpu_count()} CPUs, {psutil.virtual_memory().total / 2**30:.0f} GiB memory\n")
    print("| step | records | workers | wall time | records/s | peak RSS, process tree (MB) | peak RSS, main process (MB) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for step, n, w, r in rows:
        rate = r["records_per_s"] if step == "prepare" else r["train_samples_per_s"]
        print(f"| {step} | {n:,} | {w if step == 'prepare' else '–'} | {r['seconds']:.0f} s | {rate:,.0f} | "
              f"{r['tree_mb']:,.0f} | {r['main_mb']:,.0f} |")
    if mimic:
        epoch_rate = rows[-1][3]["train_samples_per_s"]
        print(f"\nMIMIC-like tree ({args.mimic:,} studies, WFDB 500 Hz → 100 Hz): " +
              ", ".join(f"{w} worker(s) {r:.0f} studies/s → {hours(MIMIC_RECORDS / r)} for 800,000" for w, r in mimic.items()))
        print(f"one {args.model} training epoch over 800,000 records at {epoch_rate:.0f} samples/s: "
              f"{hours(MIMIC_RECORDS / epoch_rate)}")


if __name__ == "__main__":
    main()
