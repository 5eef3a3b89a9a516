"""The REST API and web page: ``create_app([bundle, ...])`` returns a FastAPI application.

    GET  /          the web page (upload a record, see it on grid paper with the predictions)
    GET  /health    liveness, answered while predictions run (they run in a worker pool)
    GET  /models    the served bundles: classes, rate, leads, input form
    POST /predict   a record as multipart files (e.g. .hea + .dat) or as JSON → probabilities
    POST /explain   the same input → Integrated-Gradients attribution per lead and time
    POST /measure   the same input → P/QRS/T waves and HR, PR, QRS, QT/QTc, axes (``ecglab measure --json``)
    GET  /docs      OpenAPI documentation (Swagger UI), served from local files
"""

from __future__ import annotations

import asyncio
import html
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile

from ecglab.version import __version__
from ecglab.errors import ConfigError, EcglabError, InputTooLargeError
from ecglab.inference.bundle import resolve_bundle
from ecglab.inference.explain import MAX_STEPS, explain
from ecglab.inference.predictor import Predictor
from ecglab.measure.api import measure
from ecglab.inference.delineate import DEFAULT_BUNDLE, load_delineator
from ecglab.records import InputLimits
from ecglab.records.formats import accepted_formats
from ecglab.serve.guards import JSON_BYTES_PER_VALUE, BodyLimit, HostAllowList, PendingBudget, default_allowed_hosts
from ecglab.serve.uploads import (MAX_FILES, SignalRequest, display_payload, form_fields, record_from_files,
                                  record_from_json)

STATIC = Path(__file__).parent / "static"
EXAMPLES = STATIC / "examples"
# Sized so that one request stays near 100 MB while being read and predicted (docs/SERVING.md has the
# measurements): 2 M values are 12 leads × 5.5 min at 500 Hz, or a 30-min 2-lead Holter strip at 360 Hz.
SERVER_LIMITS = InputLimits(max_values=2_000_000, max_leads=64,
                            how_to_raise="the server's --max-values sets the values limit")
ERRORS = {400: {"description": "a malformed request, or a Host header the server does not serve"},
          408: {"description": "the request body did not arrive within --read-timeout"},
          413: {"description": "the upload is larger than --max-upload-mb, or its record than --max-values"},
          503: {"description": "too many uploads in flight (--max-pending-mb); retry after the Retry-After seconds"},
          415: {"description": "neither multipart/form-data nor application/json"},
          404: {"description": "no served model of that name"},
          422: {"description": "the input cannot be read as an ECG, or does not suit the model"}}
MEASURE_ERRORS = {**{code: e for code, e in ERRORS.items() if code != 404},  # /measure names no model
                  501: {"description": "the server was started with --delineator none"}}


class ModelCard(BaseModel):
    name: str
    architecture: str
    kind: str
    input: str
    classes: list[str]
    thresholds: list[float]
    fs: float
    leads: list[str]
    fallback: str | None  # the bundle for records without one of the leads
    input_length: int
    input_seconds: float
    meta_features: list[str]
    dataset: str | None
    metrics: dict


class PredictResponse(BaseModel):
    model: str
    prediction: dict
    display: dict | None = None


class ExplainResponse(BaseModel):
    model: str
    attribution: dict
    display: dict | None = None


class WaveSpan(BaseModel):
    lead: str
    wave: str = Field(description="P, QRS or T")
    onset: int = Field(description="sample of the record's own rate (fs)")
    peak: int
    offset: int


class MeasureResponse(BaseModel):
    """What ``ecglab measure --json`` prints for a file, plus the delineator's name and the display."""

    delineator: str
    file: str | None
    record_id: str
    fs: float
    leads_delineated: list[str]
    waves: list[WaveSpan]
    measurements: dict[str, float | None] = Field(description="heart_rate_bpm, rr_ms, pr_ms, p_ms, qrs_ms, qt_ms, "
                                                              "qtc_bazett_ms, qtc_fridericia_ms, p/qrs/t_axis_deg")
    reasons: dict[str, str] = Field(description="why a measurement is null")
    beat_counts: dict[str, int] = Field(description="the beats each measurement rests on")
    per_beat: list[dict]
    display: dict | None = None


def _request_body(description: str) -> dict:
    schema = SignalRequest.model_json_schema()
    return {"requestBody": {"required": True, "description": description, "content": {
        "multipart/form-data": {"schema": {"type": "object", "required": ["files"], "properties": {
            "files": {"type": "array", "minItems": 1, "maxItems": MAX_FILES, "items": {"type": "string", "format": "binary"},
                      "description": f"the files of one record ({accepted_formats()})"},
            "fs": {"type": "number", "description": "sampling rate for files that do not store one"},
            "leads": {"type": "string", "description": "comma-separated lead names for files that do not store them"}}}},
        "application/json": {"schema": schema}}}}


def create_app(bundles: list[str | Path], max_upload_mb: float = 50.0, workers: int = 2, *,
               limits: InputLimits = SERVER_LIMITS, allowed_hosts: list[str] | None = None,
               cors_origins: list[str] = (), read_timeout_s: float = 60.0, max_pending_mb: float = 200.0,
               delineator: str | Path | None = DEFAULT_BUNDLE) -> FastAPI:
    """The app serving ``bundles``. ``limits`` bound the record of one request; ``allowed_hosts`` the
    Host headers answered (default: loopback names); ``cors_origins`` the web origins that may call the
    API from a browser (default none); a body must arrive within ``read_timeout_s`` and the bodies in
    flight together stay under ``max_pending_mb`` (more → 503). ``delineator`` is the delineation
    bundle behind /measure (None: /measure answers 501)."""
    if max_pending_mb < max_upload_mb:
        raise ConfigError(f"--max-pending-mb ({max_pending_mb:g}) must be at least --max-upload-mb ({max_upload_mb:g}), "
                          "or the largest upload could never be accepted.")
    predictors = _load(bundles)
    delineator_name = _load_delineator(delineator)
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="ecglab-infer")

    @asynccontextmanager
    async def lifespan(_app):
        yield
        pool.shutdown(wait=False, cancel_futures=True)

    # FastAPIOffline: FastAPI whose /docs loads Swagger UI from files shipped in the fastapi-offline
    # package instead of a CDN, so it works without a network (swagger-ui-bundle's Swagger UI 4
    # cannot render FastAPI's OpenAPI 3.1). For the same reason the validator badge (an image from
    # validator.swagger.io) is off, and so is ReDoc, whose page still fetches its logo from cdn.redoc.ly.
    app = FastAPIOffline(title="ecglab", version=__version__, lifespan=lifespan, redoc_url=None,
                         swagger_ui_parameters={"validatorUrl": None},
                         description="Automated ECG classification. Upload a record, get per-class probabilities, "
                                     "decisions at the model's thresholds, for beat models every beat's class, "
                                     "and the P/QRS/T waves with heart rate, PR, QRS, QT/QTc and axes.")

    async def in_pool(fn, *args, **kwargs):
        return await asyncio.get_running_loop().run_in_executor(pool, partial(fn, *args, **kwargs))

    @app.exception_handler(EcglabError)
    async def user_error(_request, exc: EcglabError):
        return JSONResponse(status_code=422, content={"detail": str(exc)})

    @app.exception_handler(InputTooLargeError)
    async def too_large(_request, exc: InputTooLargeError):
        return JSONResponse(status_code=413, content={"detail": str(exc)})

    async def on_record(request: Request, work):
        """``work(record)`` on the request's record, read and worked on in one pool task: at most
        ``workers`` decoded records exist at once, however many requests wait."""
        return await _on_record(request, limits, lambda read: in_pool(lambda: work(read())))

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "version": __version__, "models": list(predictors), "delineator": delineator_name}

    @app.get("/models", response_model=list[ModelCard])
    async def models():
        return [_card(name, p) for name, p in predictors.items()]

    @app.post("/predict", response_model=PredictResponse, responses=ERRORS,
              openapi_extra=_request_body("a record: its files as multipart, or a JSON signal"))
    async def predict(request: Request,
                      model: str | None = Query(None, description="served model name (default: the first)"),
                      display: bool = Query(False, description="also return the first 10 s of the signal for drawing")):
        name, predictor = _pick(predictors, model)
        return await on_record(request, lambda record: {
            "model": name, "prediction": predictor.predict(record).to_dict(),
            "display": display_payload(record) if display else None})

    @app.post("/explain", response_model=ExplainResponse, responses=ERRORS,
              openapi_extra=_request_body("a record, as for /predict"))
    async def explain_record(request: Request,
                             model: str | None = Query(None, description="served model name (default: the first)"),
                             target: str | None = Query(None, description="class to explain (default: the most probable)"),
                             steps: int = Query(16, ge=1, le=MAX_STEPS, description="integration steps"),
                             display: bool = Query(False, description="also return the first 10 s of the signal")):
        name, predictor = _pick(predictors, model)
        return await on_record(request, lambda record: {
            "model": name, "attribution": explain(predictor, record, target=target, steps=steps).to_dict(),
            "display": display_payload(record) if display else None})

    @app.post("/measure", response_model=MeasureResponse, responses=MEASURE_ERRORS,
              openapi_extra=_request_body("a record, as for /predict"))
    async def measure_record(request: Request,
                             display: bool = Query(False, description="also return the first 10 s of the signal")):
        if delineator_name is None:
            raise HTTPException(501, "this server does not measure: it was started with --delineator none; start it "
                                     f"with --delineator {DEFAULT_BUNDLE} (the default) or another delineation bundle.")
        return await on_record(request, lambda record: {
            "delineator": delineator_name, **measure(record, delineator).to_dict(),
            "display": display_payload(record) if display else None})

    @app.get("/examples")
    async def examples() -> list[dict]:
        """Example records shipped with ecglab (synthetic), as file groups the page can upload."""
        groups: dict[str, list[str]] = {}
        for path in sorted(EXAMPLES.glob("*")):
            groups.setdefault(path.stem, []).append(path.name)
        return [{"name": stem, "files": files} for stem, files in groups.items()]

    page_html = _page()

    @app.get("/", include_in_schema=False)
    async def page():
        return HTMLResponse(page_html)

    @app.get("/static/plotly.min.js", include_in_schema=False)
    async def plotly_js():
        import plotly

        return FileResponse(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", media_type="text/javascript")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    # added innermost first: the Host check runs before CORS, and both before a body is read
    app.add_middleware(BodyLimit, max_bytes=int(max_upload_mb * 1e6), read_timeout_s=read_timeout_s,
                       max_json_bytes=limits.max_values * JSON_BYTES_PER_VALUE,
                       budget=PendingBudget(int(max_pending_mb * 1e6)))
    if cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["content-type"])
    app.add_middleware(HostAllowList, allowed=default_allowed_hosts("127.0.0.1") if allowed_hosts is None
                       else allowed_hosts)
    return app


def _page() -> str:
    """The web page, its list of formats filled from the format table. No ``accept`` filter on the file
    input: a DICOM without .dcm or a WFDB record's extension-less files are valid uploads."""
    return (STATIC / "index.html").read_text().replace("{{formats}}", html.escape(accepted_formats()))


def _load(bundles) -> dict[str, Predictor]:
    if not bundles:
        raise EcglabError("no model bundle given; serve needs at least one bundle directory.")
    loaded = [Predictor.load(bundle, backend="torch") for bundle in bundles]
    return dict(zip(model_names(bundles), loaded))


def _load_delineator(bundle) -> str | None:
    """The served name of the delineation bundle, loaded now so that a wrong one fails at start."""
    if bundle is None:
        return None
    load_delineator(bundle)
    return model_names([bundle])[0]


def model_names(bundles: list[str | Path]) -> list[str]:
    """A name per bundle that tells them apart: its directory's name or, for a directory called
    'bundle' (``runs/ptbxl/bundle``, as training writes it), its parent's; where two names clash,
    as many parent directories as needed are put in front ('a-ptbxl', 'b-ptbxl'). The same
    directory given twice is told apart by a number ('ptbxl-2')."""
    trails = []
    for bundle in bundles:
        parts = resolve_bundle(bundle).resolve().parts[:0:-1]  # innermost first, without the root
        trails.append(parts[1:] if len(parts) > 1 and parts[0] == "bundle" else parts)
    names = ["-".join(reversed(trail[:1])) for trail in trails]
    for depth in range(2, max(map(len, trails)) + 1):
        if len(set(names)) == len(set(trails)):
            break
        names = ["-".join(reversed(trail[:depth])) for trail in trails]
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        seen[name] = seen.get(name, 0) + 1
        names[i] = name if seen[name] == 1 else f"{name}-{seen[name]}"
    return names


def _pick(predictors: dict[str, Predictor], name: str | None):
    if name is None:
        name = next(iter(predictors))
    if name not in predictors:
        raise HTTPException(404, f"no model named {name!r}; served models: {sorted(predictors)}.")
    return name, predictors[name]


async def _on_record(request: Request, limits: InputLimits, run):
    """``run(read)``, where ``read()`` makes the request's record from multipart files or a JSON
    signal; any other content type is 415. The uploaded files stay open (spooled by starlette) until
    ``run`` is done, so they are copied to disk without a second copy in memory."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        body = await request.body()
        return await run(lambda: record_from_json(body, limits))
    if content_type == "multipart/form-data":
        async with request.form(max_files=MAX_FILES, max_fields=16) as form:
            files = [(u.filename, u.file) for u in form.getlist("files") if isinstance(u, UploadFile)]
            fs, leads = form_fields(form.get("fs"), form.get("leads"), limits)
            return await run(lambda: record_from_files(files, fs, leads, limits))
    raise HTTPException(415, f"unsupported content type {content_type or 'none'!r}; send multipart/form-data "
                             "(the record's files in field 'files') or application/json (signal, fs, leads).")


def _card(name: str, predictor: Predictor) -> dict:
    spec = predictor.spec
    return {"name": name, "architecture": spec.architecture, "kind": spec.kind, "input": spec.input,
            "classes": spec.classes, "thresholds": spec.decision_thresholds(), "fs": spec.fs, "leads": spec.leads,
            "fallback": spec.fallback, "input_length": spec.input_length, "input_seconds": spec.input_length / spec.fs,
            "meta_features": [f.name for f in spec.meta_features], "dataset": spec.dataset, "metrics": spec.metrics}
