"""``ecglab predict | export | plot | serve``: using a trained model."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from ecglab.cli.common import examples
from ecglab.records.formats import accepted_formats


def register(app: typer.Typer) -> None:
    @app.command(
        epilog=examples(
            "ecglab predict runs/ptbxl/bundle records100/00000/00004_lr.hea",
            "ecglab predict mitbih-kachuee-ds1 mitbih/208.hea --json > 208.json   (a shipped model, by name)",
            "ecglab predict runs/mitbih/bundle ptbxl/00004_hr.hea   (lead II stands in for MLII)",
            "ecglab predict runs/ptbxl/bundle exports/   (every record file in the folder)",
            "ecglab predict runs/ptbxl/bundle ecg.npy --fs 500 --leads I,II,III,aVR,aVL,aVF,V1,V2,V3,V4,V5,V6",
        ),
    )
    def predict(
        bundle: Path = typer.Argument(..., help="model bundle directory (bundle.json + model.safetensors), a run directory, or a shipped model's name (e.g. mitbih-kachuee-ds1)"),
        files: List[Path] = typer.Argument(..., help=f"ECG files ({accepted_formats()}), or directories: "
                                                       "every record file directly in them"),
        json_output: bool = typer.Option(False, "--json", help="print machine-readable JSON instead of tables"),
        backend: str = typer.Option("torch", help="torch (PyTorch eager) or onnx (ONNX Runtime)"),
        fs: Optional[float] = typer.Option(None, "--fs", help="sampling rate (Hz) for files that do not store one (.npy, CSV without time)"),
        leads: Optional[str] = typer.Option(None, "--leads", help="the files' lead names in order, comma-separated: needed for "
                                            ".npy files that are not 12-lead; for other files they replace the stored names"),
    ):
        """Classify ECG files with a trained model: per-class probabilities and the positive classes."""
        import json

        from ecglab.cli.common import parse_list
        from ecglab.errors import EcglabError
        from ecglab.inference.predictor import Predictor
        from ecglab.records.detect import record_files

        predictor = Predictor.load(bundle, backend=backend)
        results, failed = [], []
        for path in record_files(files):
            try:  # one unreadable file must not cost the predictions for the others
                prediction = predictor.predict_file(path, fs=fs, leads=parse_list(leads))
            except EcglabError as exc:
                failed.append(path)
                results.append({"file": str(path), "error": str(exc)})
                if not json_output:
                    print(f"error: {exc}", file=sys.stderr)
                continue
            results.append(prediction.to_dict())
            if not json_output:
                show_prediction(prediction)
        if json_output:
            print(json.dumps(results, indent=2))
        if failed:
            raise EcglabError(f"{len(failed)} of {len(results)} files could not be classified: {', '.join(map(str, failed))}.")

    @app.command(
        epilog=examples(
            "ecglab export runs/ptbxl/bundle --format onnx",
            "ecglab export runs/ptbxl/bundle --format onnx --out ptbxl_resnet.onnx",
        ),
    )
    def export(
        bundle: Path = typer.Argument(..., help="model bundle directory, run directory, or a shipped model's name"),
        format: str = typer.Option("onnx", "--format", help="export format: onnx"),
        out: Optional[Path] = typer.Option(None, "--out", help="output file (default BUNDLE/model.onnx, which --backend onnx then uses; ./NAME.onnx for a shipped model)"),
        opset: int = typer.Option(17, help="ONNX opset version"),
    ):
        """Export a bundle's model to a single ONNX file with a dynamic batch axis."""
        from ecglab.errors import EcglabError
        from ecglab.inference.bundle import load_bundle, resolve_bundle
        from ecglab.inference.onnx import export_onnx
        from ecglab.inference.predictor import ONNX_FILE

        if format != "onnx":
            raise EcglabError(f"unknown export format {format!r}; expected 'onnx'.")
        bundle_dir = resolve_bundle(bundle)
        model, spec = load_bundle(bundle_dir)
        shipped = bundle_dir != bundle and not Path(bundle).exists()  # by name: keep the installed package untouched
        default = Path(f"{bundle}.onnx") if shipped else bundle_dir / ONNX_FILE
        path = export_onnx(model, out or default, spec.channels, spec.input_length,
                           n_meta=len(spec.meta_features), opset=opset)
        print(f"wrote {path} ({spec.architecture}, input (batch, {spec.channels}, {spec.input_length})"
              + (f", meta (batch, {len(spec.meta_features)})" if spec.meta_features else "") + ")"
              + (f"; {', '.join(spec.measured.names)} are measured outside the graph (the Predictor's onnx backend "
                 "does it)" if spec.measured else ""))

    @app.command(
        epilog=examples(
            "ecglab plot records100/00000/00004_lr.hea --out ecg.png",
            "ecglab plot mitbih/208.hea --bundle runs/mitbih/bundle --out 208.pdf --seconds 10",
            "ecglab plot ludb/data/1.hea --waves --out 1.png   (P, QRS, T shaded; measurements in the title)",
        ),
    )
    def plot(
        file: Path = typer.Argument(..., help="ECG file (any supported format)"),
        bundle: Optional[Path] = typer.Option(None, "--bundle", help="model bundle: its predictions go in the title (and beat labels on the strip)"),
        out: Path = typer.Option(Path("ecg.png"), "--out", help="output picture: .png, .pdf or .svg"),
        fs: Optional[float] = typer.Option(None, "--fs", help="sampling rate for files that do not store one"),
        leads: Optional[str] = typer.Option(None, "--leads", help="the file's lead names in order (replacing stored names)"),
        start: float = typer.Option(0.0, "--start", help="where the page starts in the record (seconds)"),
        seconds: float = typer.Option(10.0, "--seconds", help="length of the rhythm strip (seconds)"),
        waves: bool = typer.Option(False, "--waves", help="shade the P, QRS and T waves the delineator finds, and print the measurements"),
    ):
        """Draw an ECG on grid paper (25 mm/s, 10 mm/mV): 12 leads in 3 × 4 plus a lead-II rhythm strip."""
        from ecglab.cli.common import parse_list
        from ecglab.records import read_record

        record = read_record(file, fs=fs, leads=parse_list(leads))
        from ecglab.viz.ecg_paper import page_seconds, plot_ecg  # matplotlib: not before a refused file

        page_seconds(record, start, seconds)  # a bad --start or --seconds fails before the model runs
        prediction = None
        if bundle is not None:
            from ecglab.inference.predictor import Predictor

            prediction = Predictor.load(bundle).predict(record)
        measured = None
        if waves:
            from ecglab.measure.api import measure

            measured = measure(record)
        path = plot_ecg(record, out, prediction=prediction, start_s=start, seconds=seconds, measured=measured)
        print(f"wrote {path}")

    @app.command(
        epilog=examples(
            "ecglab serve runs/ptbxl/bundle",
            "ecglab serve runs/ptbxl/bundle runs/mitbih/bundle --port 8080 --max-upload-mb 20",
            "ecglab serve runs/ptbxl/bundle --host 0.0.0.0 --allowed-hosts ecg.example.org --cors-origin https://app.example.org",
            note="Then open http://127.0.0.1:8000/ (web page) or http://127.0.0.1:8000/docs (REST API).",
        ),
    )
    def serve(
        bundles: List[Path] = typer.Argument(..., help="one or more model bundle directories (served as their directory's "
                                                        "name, or their run's for runs/NAME/bundle)"),
        host: str = typer.Option("127.0.0.1", help="address to listen on (0.0.0.0 exposes it to the network)"),
        port: int = typer.Option(8000, help="port"),
        max_upload_mb: float = typer.Option(50.0, "--max-upload-mb", help="largest accepted upload (MB); larger → 413"),
        max_values: Optional[int] = typer.Option(None, "--max-values", min=1,
                                                 help="most leads × samples of one request's record; more → 413 "
                                                      "(default 2,000,000: 12 leads × 5.5 min at 500 Hz)"),
        max_pending_mb: float = typer.Option(200.0, "--max-pending-mb", help="request bodies held at once (MB); "
                                             "more → 503 with Retry-After"),
        read_timeout: float = typer.Option(60.0, "--read-timeout", min=0.1, help="seconds a request body may take to "
                                           "arrive; slower → 408"),
        allowed_hosts: Optional[List[str]] = typer.Option(None, "--allowed-hosts", help="Host header names served besides "
                                                          "localhost, 127.0.0.1, ::1 and --host (repeat, or comma-separated; '*' for any)"),
        cors_origin: Optional[List[str]] = typer.Option(None, "--cors-origin", help="web origin allowed to call the API "
                                                        "from a browser, e.g. https://app.example.org (repeat; default none)"),
        max_connections: int = typer.Option(100, "--max-connections", min=1, help="open connections at once; more → 503"),
        workers: int = typer.Option(2, help="inference threads (also the most records decoded at once)"),
        delineator: str = typer.Option("ludb-delineator", "--delineator", help="delineation bundle (directory or shipped "
                                       "name) behind POST /measure and the page's measurements; 'none' turns them off"),
    ):
        """Serve models over HTTP: a web page at / and a REST API (OpenAPI docs at /docs)."""
        from dataclasses import replace

        import uvicorn

        from ecglab.cli.common import parse_list
        from ecglab.serve.app import SERVER_LIMITS, create_app
        from ecglab.serve.guards import default_allowed_hosts

        hosts = default_allowed_hosts(host) + [h for entry in allowed_hosts or [] for h in parse_list(entry)]
        app = create_app(bundles, max_upload_mb=max_upload_mb, workers=workers,
                         limits=SERVER_LIMITS if max_values is None else replace(SERVER_LIMITS, max_values=max_values),
                         allowed_hosts=hosts, cors_origins=cors_origin or [], read_timeout_s=read_timeout,
                         max_pending_mb=max_pending_mb, delineator=None if delineator.lower() == "none" else delineator)
        uvicorn.run(app, host=host, port=port, log_level="info", limit_concurrency=max_connections,
                    timeout_keep_alive=5)


def show_prediction(prediction) -> None:
    """One table per record: probability, threshold and decision per class (beat counts for beat models)."""
    from rich.table import Table

    from ecglab.cli.common import console

    counts = prediction.beat_counts
    by_threshold = prediction.decision_rule == "threshold"
    digits = agreeing_decimals(prediction.probabilities, prediction.thresholds, prediction.decisions) if by_threshold else 3
    title = f"{prediction.record_id}: {', '.join(prediction.positive) or 'no positive class'}"
    table = Table(title=title, title_justify="left")
    table.add_column("class")
    table.add_column("probability", justify="right")
    table.add_column("threshold" if by_threshold else "rule", justify="right")
    table.add_column("positive", justify="center")
    if counts is not None:
        table.add_column("beats", justify="right")
    for i, name in enumerate(prediction.classes):
        threshold = f"{prediction.thresholds[i]:.{digits}f}" if by_threshold else prediction.decision_rule
        row = [name, f"{prediction.probabilities[i]:.{digits}f}", threshold,
               "[green]yes[/]" if prediction.decisions[i] else "no"]
        if counts is not None:
            row.append(str(counts[name]))
        table.add_row(*row)
    out = console()
    out.print(table)
    for note in prediction.notes:
        out.print(f"[dim]{note}[/]")


def agreeing_decimals(probabilities, thresholds, decisions, least: int = 3, most: int = 9) -> int:
    """The fewest decimals (from ``least``) at which every printed probability compares with its printed
    threshold as the model's decision did: 0.497 called positive against 0.4965 must not read "0.497 | 0.50".
    The comparison is in float32, as the Predictor decides; ``most`` decimals tell any two float32 near 0.5 apart."""
    import numpy as np

    probabilities = np.asarray(probabilities, dtype=np.float32).astype(float)
    thresholds = np.asarray(thresholds, dtype=np.float32).astype(float)
    decisions = np.asarray(decisions, dtype=bool)
    for digits in range(least, most):
        shown = [(float(f"{p:.{digits}f}"), float(f"{t:.{digits}f}")) for p, t in zip(probabilities, thresholds)]
        if all((p >= t) == decided for (p, t), decided in zip(shown, decisions)):
            return digits
    return most
