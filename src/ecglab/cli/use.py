"""``ecglab predict | export | plot | serve``: using a trained model."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command(
        epilog="Examples:\n\n"
               "    ecglab predict runs/ptbxl/bundle records100/00000/00009_lr.hea\n\n"
               "    ecglab predict mitbih-kachuee-ds1 mitbih/208.hea --json > 208.json   (a shipped model, by name)\n\n"
               "    ecglab predict runs/mitbih/bundle ptbxl/00004_hr.hea   (lead II stands in for MLII)\n\n"
               "    ecglab predict runs/ptbxl/bundle exports/   (every record file in the folder)\n\n"
               "    ecglab predict runs/ptbxl/bundle ecg.npy --fs 500 --leads I,II,III,aVR,aVL,aVF,V1,V2,V3,V4,V5,V6",
    )
    def predict(
        bundle: Path = typer.Argument(..., help="model bundle directory (bundle.json + model.safetensors), a run directory, or a shipped model's name (e.g. mitbih-kachuee-ds1)"),
        files: List[Path] = typer.Argument(..., help="ECG files (WFDB .hea (+ .dat/.mat), EDF, CSV/TSV, .npy, DICOM, "
                                                      "HL7 aECG XML), or directories: every record file directly in them"),
        json_output: bool = typer.Option(False, "--json", help="print machine-readable JSON instead of tables"),
        backend: str = typer.Option("torch", help="torch (PyTorch eager) or onnx (ONNX Runtime)"),
        fs: Optional[float] = typer.Option(None, "--fs", help="sampling rate (Hz) for files that do not store one (.npy, CSV without time)"),
        leads: Optional[str] = typer.Option(None, "--leads", help="the files' lead names in order, comma-separated: needed for "
                                            ".npy files that are not 12-lead; for other files they replace the stored names"),
    ):
        """Classify ECG files with a trained model: per-class probabilities and the positive classes."""
        import json

        from ecglab.cli.common import parse_list
        from ecglab.inference.predictor import Predictor
        from ecglab.errors import EcglabError
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
        epilog="Examples:\n\n"
               "    ecglab export runs/ptbxl/bundle --format onnx\n\n"
               "    ecglab export runs/ptbxl/bundle --format onnx --out ptbxl_resnet.onnx",
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
        path = export_onnx(model, out or default, len(spec.leads), spec.input_length,
                           n_meta=len(spec.meta_features), opset=opset)
        print(f"wrote {path} ({spec.architecture}, input (batch, {len(spec.leads)}, {spec.input_length})"
              + (f", meta (batch, {len(spec.meta_features)})" if spec.meta_features else "") + ")")

    @app.command(
        epilog="Examples:\n\n"
               "    ecglab plot records100/00000/00009_lr.hea --out ecg.png\n\n"
               "    ecglab plot mitbih/208.hea --bundle runs/mitbih/bundle --out 208.pdf --seconds 10\n\n"
               "    ecglab plot ludb/data/1.hea --waves --out 1.png   (P, QRS, T shaded; measurements in the title)",
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
        from ecglab.viz.ecg_paper import page_seconds, plot_ecg

        record = read_record(file, fs=fs, leads=parse_list(leads))
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
        epilog="Examples:\n\n"
               "    ecglab serve runs/ptbxl/bundle\n\n"
               "    ecglab serve runs/ptbxl/bundle runs/mitbih/bundle --port 8080 --max-upload-mb 20\n\n"
               "Then open http://127.0.0.1:8000/ (web page) or http://127.0.0.1:8000/docs (REST API).",
    )
    def serve(
        bundles: List[Path] = typer.Argument(..., help="one or more model bundle directories"),
        host: str = typer.Option("127.0.0.1", help="address to listen on (0.0.0.0 exposes it to the network)"),
        port: int = typer.Option(8000, help="port"),
        max_upload_mb: float = typer.Option(50.0, "--max-upload-mb", help="largest accepted upload (MB); larger → 413"),
        workers: int = typer.Option(2, help="inference threads"),
    ):
        """Serve models over HTTP: a web page at / and a REST API (OpenAPI docs at /docs)."""
        import uvicorn

        from ecglab.serve.app import create_app

        app = create_app(bundles, max_upload_mb=max_upload_mb, workers=workers)
        uvicorn.run(app, host=host, port=port, log_level="info")


def show_prediction(prediction) -> None:
    """One table per record: probability, threshold and decision per class (beat counts for beat models)."""
    from rich.table import Table

    from ecglab.cli.common import console

    counts = prediction.beat_counts
    title = f"{prediction.record_id}: {', '.join(prediction.positive) or 'no positive class'}"
    table = Table(title=title, title_justify="left")
    table.add_column("class")
    table.add_column("probability", justify="right")
    table.add_column("threshold" if prediction.decision_rule == "threshold" else "rule", justify="right")
    table.add_column("positive", justify="center")
    if counts is not None:
        table.add_column("beats", justify="right")
    for i, name in enumerate(prediction.classes):
        threshold = f"{prediction.thresholds[i]:.2f}" if prediction.decision_rule == "threshold" else prediction.decision_rule
        row = [name, f"{prediction.probabilities[i]:.3f}", threshold,
               "[green]yes[/]" if prediction.decisions[i] else ""]
        if counts is not None:
            row.append(str(counts[name]))
        table.add_row(*row)
    out = console()
    out.print(table)
    for note in prediction.notes:
        out.print(f"[dim]{note}[/]")
