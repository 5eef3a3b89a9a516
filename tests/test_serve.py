"""The REST API and web page: every endpoint, bad inputs, limits, schema fuzzing and a loopback load test."""

from __future__ import annotations

import io
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from fastapi.testclient import TestClient
from use_fixtures import beat_bundle, record_bundle, running_server, twelve_lead

from ecglab.errors import RecordFormatError
from ecglab.inference.predictor import Predictor
from ecglab.records import STANDARD_12_LEADS, read_record
from ecglab.serve.app import EXAMPLES, create_app
from ecglab.serve.uploads import safe_file_name


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    root = tmp_path_factory.mktemp("served")
    return record_bundle(root / "records"), beat_bundle(root / "beats")


@pytest.fixture(scope="module")
def client(bundles):
    with TestClient(create_app(bundles, max_upload_mb=1), base_url="http://localhost") as c:
        yield c


def _ptbxl_files(shared_data):
    header = sorted((shared_data / "ptbxl" / "records100").rglob("*_lr.hea"))[0]
    return header, [("files", (p.name, p.read_bytes())) for p in (header, header.with_suffix(".dat"))]


def _json_record(record):
    return {"signal": record.signal.tolist(), "fs": record.fs, "leads": record.leads, "record_id": "posted"}


def test_health_models_and_examples(client):
    assert client.get("/health").json()["models"] == ["records", "beats"]
    cards = {c["name"]: c for c in client.get("/models").json()}
    assert cards["records"]["leads"] == STANDARD_12_LEADS and cards["records"]["input_seconds"] == 2.5
    assert cards["records"]["fallback"] is None
    assert cards["beats"]["input"] == "beat" and cards["beats"]["classes"] == ["N", "S", "V", "F", "Q"]
    assert cards["beats"]["meta_features"] == ["rr_prev", "rr_next", "rr_local", "rr_mean"]
    names = {e["name"]: e["files"] for e in client.get("/examples").json()}
    assert names["synthetic_12lead"] == ["synthetic_12lead.dat", "synthetic_12lead.hea"]


def test_predict_wfdb_upload_matches_the_predictor(client, bundles, shared_data):
    header, files = _ptbxl_files(shared_data)
    response = client.post("/predict?display=true", files=files)
    assert response.status_code == 200
    body = response.json()
    expected = Predictor.load(bundles[0]).predict(read_record(header))
    np.testing.assert_allclose(list(body["prediction"]["probabilities"].values()), expected.probabilities, atol=1e-5)
    assert body["model"] == "records" and body["prediction"]["record_id"] == header.stem
    assert body["prediction"]["file"] == header.name  # the uploaded name, not the server's temporary path
    assert len(body["display"]["signal"]) == 12 and len(body["display"]["signal"][0]) == 1000 and body["display"]["fs"] == 100


def test_predict_json_signal_and_model_choice(client, bundles):
    record = twelve_lead(fs=100, seconds=10)
    body = client.post("/predict", json=_json_record(record)).json()
    expected = Predictor.load(bundles[0]).predict(record).probabilities
    np.testing.assert_allclose(list(body["prediction"]["probabilities"].values()), expected, atol=1e-5)
    assert body["display"] is None
    example = [("files", (p.name, p.read_bytes())) for p in sorted(EXAMPLES.glob("synthetic_beats.*"))]
    beats = client.post("/predict?model=beats", files=example).json()["prediction"]
    assert sum(beats["beat_counts"].values()) == len(beats["beats"]) >= 20  # 20 s at ~75 bpm
    missing = client.post("/predict?model=nope", json=_json_record(record))
    assert missing.status_code == 404 and "served models" in missing.json()["detail"]


def test_upload_limit_is_413_with_or_without_content_length(client):
    big = b"0" * 1_100_000
    assert client.post("/predict", content=big, headers={"content-type": "application/json"}).status_code == 413
    chunks = (big[i:i + 65536] for i in range(0, len(big), 65536))
    response = client.post("/predict", content=chunks, headers={"content-type": "application/json"})
    assert response.status_code == 413 and "--max-upload-mb" in response.json()["detail"]


@pytest.mark.parametrize("content, content_type, status, message", [
    (b"hello", "text/plain", 415, "unsupported content type"),
    (b"{not json", "application/json", 422, "not a valid signal request"),
    (json.dumps({"signal": [[1, 2], [3]], "fs": 100, "leads": ["I", "II"]}).encode(), "application/json", 422, "same number of samples"),
    (json.dumps({"signal": [[0.1] * 300], "fs": 1e6, "leads": ["I"]}).encode(), "application/json", 422, "fs"),
    (b'{"signal": [' + b",".join([b"[NaN" + b", 0.1" * 299 + b"]"] * 12) + b'], "fs": 100, "leads": '
     + json.dumps(STANDARD_12_LEADS).encode() + b"}", "application/json", 422, "NaN or infinite"),
    (json.dumps({"signal": [[0.1] * 300] * 2, "fs": 100, "leads": ["I", "II"]}).encode(), "application/json", 422, "missing"),
])
def test_bad_json_and_content_types(client, content, content_type, status, message):
    response = client.post("/predict", content=content, headers={"content-type": content_type})
    assert response.status_code == status and message in str(response.json()["detail"])


def _npy_bytes(array, allow_pickle=False):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


@pytest.mark.parametrize("files, message", [
    ([("files", ("ecg.bin", b"\x00\x01garbage" * 10))], "unrecognised content"),
    ([("files", ("00001_lr.hea", b"00001_lr 12 100 1000\n"))], "declares 12 signals but describes 0"),
    ([("files", ("../evil.npy", b"x"))], "unacceptable file name"),
    ([("files", ("a.npy", _npy_bytes(np.zeros((12, 500))))), ("files", ("b.npy", _npy_bytes(np.zeros((12, 500)))))], "2 records"),
    ([("files", ("obj.npy", _npy_bytes(np.array([{"a": 1}], dtype=object), allow_pickle=True)))], "holds object values; expected numbers"),
    ([("files", ("ecg.npy", _npy_bytes(np.zeros((12, 500)))))], "pass fs"),
])
def test_bad_uploads_are_422_with_a_message(client, files, message):
    response = client.post("/predict", files=files)
    assert response.status_code == 422 and message in response.json()["detail"]
    assert "ecglab-upload-" not in response.json()["detail"]  # the server's temporary folder is not shown


@pytest.mark.parametrize("name, safe", [
    ("Patient 12 (copy).edf", "Patient_12_copy.edf"), ("ECG 2024-01-05 10:30.xml", "ECG_2024-01-05_10_30.xml"),
    ("..hidden.hea", "hidden.hea"), ("-rf.csv", "rf.csv"), ("noext", "noext"), ("(((.npy", "upload.npy"),
])
def test_upload_names_are_made_safe(name, safe):
    assert safe_file_name(name) == safe


@pytest.mark.parametrize("name", ["../evil.npy", "a/b.npy", "C:\\fakepath\\ecg.npy", "..", ""])
def test_upload_names_holding_a_path_are_refused(name):
    with pytest.raises(RecordFormatError, match="unacceptable file name"):
        safe_file_name(name)


def test_common_file_names_are_accepted(client, bundles, tmp_path):
    import wfdb

    record = twelve_lead(fs=100, seconds=5)
    files = [("files", ("Patient 12 (copy).npy", _npy_bytes(record.signal)))]
    response = client.post("/predict", files=files, data={"fs": "100"})
    assert response.status_code == 200 and response.json()["prediction"]["file"] == "Patient 12 (copy).npy"
    np.testing.assert_allclose(list(response.json()["prediction"]["probabilities"].values()),
                               Predictor.load(bundles[0]).predict(record).probabilities, atol=1e-5)
    # a WFDB pair: both names are made safe the same way, so the header still finds its signal file
    wfdb.wrsamp("my_rec", fs=100, units=["mV"] * 12, sig_name=STANDARD_12_LEADS, p_signal=record.signal.T.astype(np.float64),
                fmt=["16"] * 12, adc_gain=[1000.0] * 12, baseline=[0] * 12, write_dir=str(tmp_path))
    pair = [("files", (f"my rec{suffix}", (tmp_path / f"my_rec{suffix}").read_bytes())) for suffix in (".hea", ".dat")]
    response = client.post("/predict", files=pair)
    assert response.status_code == 200 and response.json()["prediction"]["file"] == "my rec.hea"
    clash = [("files", ("a b.npy", _npy_bytes(record.signal))), ("files", ("a_b.npy", _npy_bytes(record.signal)))]
    response = client.post("/predict", files=clash, data={"fs": "100"})
    assert response.status_code == 422 and "same name once made safe ('a_b.npy')" in response.json()["detail"]


def test_a_beat_model_takes_lead_ii_of_an_uploaded_12_lead_record(client, shared_data):
    _, files = _ptbxl_files(shared_data)
    prediction = client.post("/predict?model=beats", files=files).json()["prediction"]
    assert prediction["beats"] and "its lead II stands in" in prediction["notes"][0]


def test_upload_form_fields_and_temporary_folder_cleanup(client, bundles, tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    record = twelve_lead(fs=100, seconds=5)
    files = [("files", ("ecg.npy", _npy_bytes(record.signal)))]
    response = client.post("/predict", files=files, data={"fs": "100", "leads": ",".join(STANDARD_12_LEADS)})
    assert response.status_code == 200
    np.testing.assert_allclose(list(response.json()["prediction"]["probabilities"].values()),
                               Predictor.load(bundles[0]).predict(record).probabilities, atol=1e-5)
    assert client.post("/predict", files=files, data={"fs": "fast"}).status_code == 422
    assert client.post("/predict", files=[("files", ("x.csv", b"a,b\n1,2\n"))]).status_code == 422
    assert list(tmp_path.iterdir()) == []


def test_explain_returns_a_bounded_per_lead_attribution(client):
    record = twelve_lead(fs=100, seconds=10)
    response = client.post("/explain?steps=4&target=MI", json=_json_record(record))
    assert response.status_code == 200
    attribution = response.json()["attribution"]
    values = np.asarray(attribution["values"])
    assert attribution["target"] == "MI" and attribution["leads"] == STANDARD_12_LEADS and attribution["fs"] == 100
    assert values.shape == (12, 1000) and np.abs(values).max() == pytest.approx(1.0, abs=1e-4)
    assert client.post("/explain?target=XYZ", json=_json_record(record)).status_code == 422
    assert client.post("/explain?steps=1000", json=_json_record(record)).status_code == 422


def test_page_and_offline_plotly(client):
    page = client.get("/").text
    assert '<script src="/static/plotly.min.js">' in page and "/static/app.js" in page
    script = client.get("/static/plotly.min.js")
    assert script.status_code == 200 and b"plotly" in script.content[:2000].lower() and len(script.content) > 1_000_000
    assert "grid" in client.get("/static/app.js").text and client.get("/static/../app.py").status_code == 404


def test_api_documentation_works_offline(client):
    page = client.get("/docs")
    assert page.status_code == 200 and "SwaggerUIBundle" in page.text
    assert re.findall(r"https?://", page.text) == []  # nothing from a CDN
    assert '"validatorUrl": null' in page.text  # no badge image from validator.swagger.io
    assets = re.findall(r'(?:src|href)="(/[^"]+)"', page.text)
    assert {a.rsplit("/", 1)[-1] for a in assets} >= {"swagger-ui-bundle.js", "swagger-ui.css"}
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200 and len(response.content) > 1000
    assert client.get("/openapi.json").json()["paths"].keys() >= {"/predict", "/explain", "/models"}
    assert client.get("/redoc").status_code == 404  # ReDoc's page fetches its logo from a CDN, so it is off


def test_serve_command_help_and_a_missing_bundle(tmp_path, capsys):
    from ecglab.cli import main

    assert main(["serve", "--help"]) == 0
    assert "ecglab serve runs/ptbxl/bundle" in capsys.readouterr().out
    assert main(["serve", str(tmp_path / "nothing")]) == 2
    assert "not a model bundle" in capsys.readouterr().err


def test_openapi_schema_fuzzing(client, bundles):
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, given, settings
    from schemathesis import checks

    app = create_app(bundles, max_upload_mb=1, allowed_hosts=["testserver", "localhost"])  # schemathesis sends either
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {(o.method, o.path) for o in operations} >= {("post", "/predict"), ("post", "/explain"), ("get", "/models")}
    for operation in operations:
        @settings(max_examples=6, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case):
            # Schema-valid bytes are rarely an ECG, so rejecting them (422) is correct here.
            case.call_and_validate(excluded_checks=[checks.positive_data_acceptance])

        check()


# -- a real server on loopback ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(bundles):
    original = Predictor.predict

    def slow_predict(self, record):  # a record id of "slow" takes a second, to test concurrency
        if record.meta.get("record_id") == "slow":
            time.sleep(1.0)
        return original(self, record)

    with pytest.MonkeyPatch.context() as patch, running_server(create_app(bundles, workers=2)) as url:
        patch.setattr(Predictor, "predict", slow_predict)
        yield url


def test_health_answers_while_a_prediction_runs(server):
    import httpx2

    body = dict(_json_record(twelve_lead()), record_id="slow")
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(httpx2.post, f"{server}/predict", json=body, timeout=30)
        time.sleep(0.3)
        start = time.perf_counter()
        assert httpx2.get(f"{server}/health", timeout=5).status_code == 200
        assert time.perf_counter() - start < 0.5
        assert not pending.done()
        assert pending.result().status_code == 200


def test_load_200_requests_from_8_clients(server, capsys):
    import httpx2

    body = _json_record(twelve_lead())

    def client_run(n):
        latencies = []
        with httpx2.Client(base_url=server, timeout=60) as http:
            for _ in range(n):
                start = time.perf_counter()
                response = http.post("/predict", json=body)
                latencies.append((time.perf_counter() - start, response.status_code))
        return latencies

    start = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        results = [r for batch in pool.map(client_run, [25] * 8) for r in batch]
    wall = time.perf_counter() - start
    assert len(results) == 200 and {status for _, status in results} == {200}
    ms = np.array([latency for latency, _ in results]) * 1000
    summary = (f"200 requests, 8 clients: p50 {np.percentile(ms, 50):.0f} ms, p90 {np.percentile(ms, 90):.0f} ms, "
               f"p99 {np.percentile(ms, 99):.0f} ms, {200 / wall:.1f} requests/s")
    with capsys.disabled():
        print("\n" + summary)
