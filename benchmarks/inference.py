"""Serving speed: the Predictor end to end, PyTorch eager against ONNX Runtime, in one run.

For each model (random weights; speed does not depend on them) a bundle is saved and loaded twice,
once per backend, and timed on

* single-record latency: ``Predictor.predict`` on one synthetic 12-lead, 10 s record at 100 Hz
  (preprocessing, windowing and the forward pass; for the beat model kachuee a 10 s MLII strip at
  360 Hz with its beat annotations: cutting ~12 beats and classifying them);
* batch throughput: ``Predictor.predict_proba`` on 64 model inputs at once (records or beats per s);

and the largest difference between the two backends' probabilities is reported. Prints a Markdown
table (docs/SERVING.md holds the last one).

With ``--folder N``: batch prediction of a folder of N WFDB files (12-lead, 10 s at 500 Hz, as PTB-XL's
records500) end to end, as ``ecglab predict BUNDLE FOLDER`` runs it: find the files, read, resample to
the model's 100 Hz, filter, predict; records/s per backend, and where the time of one record goes
(docs/PERFORMANCE.md holds the last table).

    python benchmarks/inference.py                              # resnet1d, kachuee and every other zoo model
    python benchmarks/inference.py --models resnet1d,kachuee --threads 2 --repeats 31
    python benchmarks/inference.py --load resnet1d       # 200 requests, 8 clients, against `ecglab serve` on 127.0.0.1
    python benchmarks/inference.py --folder 500 --models resnet1d,inception1d --threads 2
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from ecglab.datasets.synthetic import generate_beat_recordings, generate_records
from ecglab.inference.bundle import BundleSpec, build_model, load_bundle, load_spec, save_bundle
from ecglab.inference.onnx import export_onnx
from ecglab.inference.predictor import ONNX_FILE, Predictor
from ecglab.models import list_models, model_info
from ecglab.models.summary import BEAT, N_CLASSES, RECORD
from ecglab.records import STANDARD_12_LEADS, Annotations, Record
from ecglab.inputs.beats import BeatSpec
from timing import median_seconds

BATCH = 64
BEAT_MODELS = {"kachuee"}


def make_bundle(name: str, folder: Path) -> tuple[Path, Record]:
    """A bundle of ``name`` and a record of the kind it takes."""
    torch.manual_seed(0)
    if name in BEAT_MODELS:
        spec = BundleSpec(architecture=name, kind="multiclass", input="beat", classes=list("NSVFQ"), fs=125.0,
                          leads=["MLII"], input_length=BEAT[1], beats=BeatSpec())
        strip = generate_beat_recordings(1, fs=360.0, seed=0, duration=20.0)[0]
        keep = strip.annotations.samples < 10 * 360
        annotations = Annotations(strip.annotations.samples[keep], list(np.array(strip.annotations.symbols)[keep]))
        record = Record(strip.signal[:, : 10 * 360], 360.0, ["MLII"], strip.meta, annotations)
    else:
        spec = BundleSpec(architecture=name, kind="multilabel", classes=[f"c{i}" for i in range(N_CLASSES)], fs=100.0,
                          leads=STANDARD_12_LEADS, input_length=RECORD[1])
        signals, _, _ = generate_records(1, fs=100.0, seed=0)
        record = Record(signals[0], 100.0, STANDARD_12_LEADS, {"record_id": "synthetic"})
    return save_bundle(folder / name, build_model(spec).eval(), spec), record


def benchmark(name: str, threads: int, repeats: int, folder: Path) -> dict:
    bundle, record = make_bundle(name, folder)
    torch.set_num_threads(threads)
    backends = {"torch": Predictor.load(bundle, "torch")}
    if model_info(name).onnx:
        spec = backends["torch"].spec
        export_onnx(backends["torch"].torch_model, bundle / ONNX_FILE, len(spec.leads), spec.input_length)
        backends["onnx"] = Predictor.load(bundle, "onnx", threads=threads)
    batch = np.random.default_rng(0).standard_normal((BATCH, *(BEAT if name in BEAT_MODELS else RECORD))).astype(np.float32)
    row = {"model": name, "input": "beat" if name in BEAT_MODELS else "record"}
    probabilities = {}
    for backend, predictor in backends.items():
        row[f"{backend}_ms"] = 1000 * median_seconds(lambda p=predictor: p.predict(record), repeats)
        row[f"{backend}_per_s"] = BATCH / median_seconds(lambda p=predictor: p.predict_proba(batch), max(3, repeats // 3))
        probabilities[backend] = predictor.predict_proba(batch)
    if "onnx" in probabilities:
        row["max_diff"] = float(np.abs(probabilities["onnx"] - probabilities["torch"]).max())
    return row


def load_test(name: str, folder: Path, n_requests: int = 200, clients: int = 8, workers: int = 2) -> str:
    """``n_requests`` POST /predict (JSON, one 12-lead 10 s record) from ``clients`` concurrent clients
    against ``ecglab serve`` (uvicorn) on 127.0.0.1; returns the latency percentiles as one line."""
    import socket
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import httpx
    import uvicorn

    from ecglab.serve.app import create_app

    bundle, record = make_bundle(name, folder)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app([bundle], workers=workers), host="127.0.0.1", port=port,
                                           log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    body = {"signal": record.signal.tolist(), "fs": record.fs, "leads": record.leads}

    def run_client(n: int) -> list[tuple[float, int]]:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as http:
            out = []
            for _ in range(n):
                start = time.perf_counter()
                status = http.post("/predict", json=body).status_code
                out.append((time.perf_counter() - start, status))
            return out

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = [r for batch in pool.map(run_client, [n_requests // clients] * clients) for r in batch]
    wall = time.perf_counter() - start
    server.should_exit = True
    ms = np.array([t for t, _ in results]) * 1000
    errors = sum(status != 200 for _, status in results)
    return (f"{name}: {len(results)} requests from {clients} clients, {workers} inference threads: {errors} errors; "
            f"latency p50 {np.percentile(ms, 50):.0f} ms, p90 {np.percentile(ms, 90):.0f} ms, "
            f"p99 {np.percentile(ms, 99):.0f} ms; {len(results) / wall:.1f} requests/s")


def write_folder(folder: Path, n: int) -> Path:
    """``n`` synthetic 12-lead, 10 s records at 500 Hz as WFDB files (16-bit, as PTB-XL ships them)."""
    import wfdb

    folder.mkdir(parents=True, exist_ok=True)
    signals, _, _ = generate_records(n, fs=500.0, seed=1)
    for i, signal in enumerate(signals):
        wfdb.wrsamp(f"ecg{i:05d}", fs=500, units=["mV"] * 12, sig_name=STANDARD_12_LEADS, p_signal=signal.T.astype(np.float64),
                    fmt=["16"] * 12, write_dir=str(folder))
    return folder


def folder_benchmark(name: str, files: Path, threads: int, workdir: Path) -> dict:
    """Records/s of the ``ecglab predict`` loop over ``files`` per backend, and the time per record of each stage."""
    from ecglab.records import read_record
    from ecglab.records.detect import record_files

    bundle, _ = make_bundle(name, workdir)
    torch.set_num_threads(threads)
    spec = load_spec(bundle)
    export_onnx(load_bundle(bundle)[0], bundle / ONNX_FILE, len(spec.leads), spec.input_length)
    paths = record_files([files])
    row = {"model": name, "files": len(paths)}
    for backend in ("torch", "onnx"):
        predictor = Predictor.load(bundle, backend, threads=threads)
        predictor.predict_file(paths[0])  # warm-up
        start = time.perf_counter()
        for path in paths:
            predictor.predict_file(path)
        row[f"{backend}_per_s"] = len(paths) / (time.perf_counter() - start)
    stages = {}
    start = time.perf_counter()
    records = [read_record(path) for path in paths]
    stages["read"] = time.perf_counter() - start
    start = time.perf_counter()
    inputs = [predictor.model_input(record) for record in records]
    stages["preprocess"] = time.perf_counter() - start
    start = time.perf_counter()
    for item in inputs:
        predictor.predict_proba(item.x, item.meta)
    stages["onnx forward"] = time.perf_counter() - start
    row["stages_ms"] = {k: 1000 * v / len(paths) for k, v in stages.items()}
    return row


def folder_markdown(rows: list[dict]) -> str:
    lines = ["| model | files | torch (records/s) | onnxruntime (records/s) | onnx ÷ torch | per record: read, preprocess, onnx forward (ms) |",
             "|---|---:|---:|---:|---:|---|"]
    for r in rows:
        stages = ", ".join(f"{v:.1f}" for v in r["stages_ms"].values())
        lines.append(f"| {r['model']} | {r['files']} | {r['torch_per_s']:.0f} | {r['onnx_per_s']:.0f} | "
                     f"{r['onnx_per_s'] / r['torch_per_s']:.2f}× | {stages} |")
    return "\n".join(lines)


def markdown(rows: list[dict], threads: int) -> str:
    header = ["model", "input", "torch: 1 record (ms)", "onnxruntime: 1 record (ms)", "speed-up",
              f"torch: batch {BATCH} (inputs/s)", f"onnxruntime: batch {BATCH} (inputs/s)", "max abs diff of p"]
    lines = ["| " + " | ".join(header) + " |", "|---|---|" + "---:|" * (len(header) - 2)]
    for r in rows:
        onnx = "onnx_ms" in r
        cells = [r["model"], r["input"], f"{r['torch_ms']:.1f}", f"{r['onnx_ms']:.1f}" if onnx else "n/a",
                 f"{r['torch_ms'] / r['onnx_ms']:.2f}×" if onnx else "n/a", f"{r['torch_per_s']:.0f}",
                 f"{r['onnx_per_s']:.0f}" if onnx else "n/a", f"{r['max_diff']:.1e}" if onnx else "n/a"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", help="comma-separated names (default: resnet1d, kachuee, then every other zoo model)")
    parser.add_argument("--threads", type=int, default=1, help="threads for PyTorch and ONNX Runtime alike")
    parser.add_argument("--repeats", type=int, default=15, help="timed single-record predictions (median reported)")
    parser.add_argument("--load", metavar="MODEL", help="instead: load-test `ecglab serve` with this record model on loopback")
    parser.add_argument("--folder", type=int, metavar="N", help="instead: predict a folder of N WFDB files end to end")
    args = parser.parse_args()
    if args.folder:
        with tempfile.TemporaryDirectory() as folder:
            files = write_folder(Path(folder) / "files", args.folder)
            rows = [folder_benchmark(name, files, args.threads, Path(folder)) for name in (args.models or "resnet1d").split(",")]
        print(f"\nPyTorch {torch.__version__}, {args.threads} thread(s), {os.cpu_count()} CPUs; WFDB 12 × 10 s at 500 Hz\n")
        print(folder_markdown(rows))
        return
    if args.load:
        torch.set_num_threads(args.threads)
        with tempfile.TemporaryDirectory() as folder:
            print(load_test(args.load, Path(folder)))
        return
    names = args.models.split(",") if args.models else ["resnet1d", "kachuee"] + [
        n for n in list_models() if n not in ("resnet1d", "kachuee")]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name in names:
            rows.append(benchmark(name, args.threads, args.repeats, Path(folder)))
            print(f"{name}: torch {rows[-1]['torch_ms']:.1f} ms, onnx {rows[-1].get('onnx_ms', float('nan')):.1f} ms", flush=True)
    print(f"\nPyTorch {torch.__version__}, {args.threads} thread(s), {os.cpu_count()} CPUs; record: 12 × 10 s at 100 Hz; "
          f"beat: 10 s MLII at 360 Hz\n")
    print(markdown(rows, args.threads))


if __name__ == "__main__":
    main()
