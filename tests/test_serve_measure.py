"""POST /measure: a real LUDB record measured as ``ecglab.measure`` measures it, nulls with reasons for
what cannot be measured, the upload errors of /predict, the worker pool, and ``--delineator none``."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from fastapi.testclient import TestClient
from use_fixtures import record_bundle, twelve_lead

from ecglab.measure.api import measure
from ecglab.records import read_record
from ecglab.serve.app import create_app


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return record_bundle(tmp_path_factory.mktemp("measured") / "records")


@pytest.fixture(scope="module")
def client(bundle):
    with TestClient(create_app([bundle], max_upload_mb=1), base_url="http://localhost") as c:
        yield c


def _ludb_files(shared_data):
    header = shared_data / "ludb" / "data" / "1.hea"
    return header, [("files", (p.name, p.read_bytes())) for p in (header, header.with_suffix(".dat"))]


def _flat(seconds: float, fs: float = 250.0) -> dict:
    return {"signal": np.zeros((2, int(seconds * fs))).tolist(), "fs": fs, "leads": ["I", "II"], "record_id": "flat"}


def test_a_ludb_upload_is_measured_as_ecglab_measure_does(client, shared_data):
    header, files = _ludb_files(shared_data)
    response = client.post("/measure?display=true", files=files)
    assert response.status_code == 200, response.text[:500]
    body = response.json()
    expected = measure(read_record(header)).to_dict()
    expected["file"] = header.name  # the uploaded name, not a path
    assert {k: v for k, v in body.items() if k not in ("delineator", "display")} == expected
    assert body["delineator"] == "ludb-delineator" and body["fs"] == 500.0
    assert {w["wave"] for w in body["waves"]} == {"P", "QRS", "T"} and len(body["leads_delineated"]) == 12
    assert all(np.isfinite(v) for v in body["measurements"].values()) and body["reasons"] == {}
    assert 40 < body["measurements"]["heart_rate_bpm"] < 200
    display = body["display"]
    assert display["fs"] == 500 and len(display["signal"]) == 12 and len(display["signal"][0]) == 5000


@pytest.mark.parametrize("seconds, reason", [(10.0, "the record is flat"), (1.0, "the record lasts 1.00 s")])
def test_flat_and_short_records_are_null_with_reasons(client, seconds, reason):
    response = client.post("/measure", json=_flat(seconds))
    assert response.status_code == 200
    body = response.json()
    assert body["waves"] == [] and set(body["measurements"].values()) == {None}
    assert body["reasons"].keys() == body["measurements"].keys()
    assert all(reason in text for text in body["reasons"].values())
    assert body["file"] is None and body["record_id"] == "flat" and body["display"] is None


@pytest.mark.parametrize("send, status, message", [
    ({"files": [("files", ("notes.txt", b"this is not an ECG\n"))]}, 422, "notes.txt"),
    ({"files": [("files", ("ecg.npy", b"\x93NUMPY garbage"))]}, 422, "ecg.npy"),
    ({"content": b"hello", "headers": {"content-type": "text/plain"}}, 415, "unsupported content type"),
    ({"content": b"0" * 1_100_000, "headers": {"content-type": "application/json"}}, 413, "--max-upload-mb"),
    ({"json": {"signal": [[0.1] * 300], "fs": 1e6, "leads": ["I"]}}, 422, "fs"),
])
def test_bad_uploads_get_the_errors_of_predict(client, send, status, message):
    response = client.post("/measure", **send)
    assert response.status_code == status and message in response.json()["detail"]
    assert "ecglab-upload-" not in response.json()["detail"] and "Traceback" not in response.text


def test_delineation_runs_in_the_inference_pool(client, monkeypatch):
    import ecglab.serve.app as app_module

    threads = []

    def recording_measure(record, bundle):
        threads.append(threading.current_thread().name)
        return measure(record, bundle)

    monkeypatch.setattr(app_module, "measure", recording_measure)
    assert client.post("/measure", json=_flat(3.0)).status_code == 200
    assert threads and threads[0].startswith("ecglab-infer")  # not the event loop's thread


def test_health_openapi_and_page_know_the_delineator(client):
    assert client.get("/health").json()["delineator"] == "ludb-delineator"
    assert '<script src="/static/measure.js">' in client.get("/").text
    assert "shadeWaves" in client.get("/static/measure.js").text
    operation = client.get("/openapi.json").json()["paths"]["/measure"]["post"]
    assert {"200", "413", "422", "501"} <= operation["responses"].keys()


def test_without_a_delineator_measure_says_so(bundle):
    with TestClient(create_app([bundle], delineator=None), base_url="http://localhost") as c:
        response = c.post("/measure", json=_flat(3.0))
        assert response.status_code == 501 and "--delineator none" in response.json()["detail"]
        assert c.get("/health").json()["delineator"] is None
        record = twelve_lead()
        posted = {"signal": record.signal.tolist(), "fs": record.fs, "leads": record.leads}
        assert c.post("/predict", json=posted).status_code == 200  # predictions are served as before


def test_serve_command_delineator_option(bundle, monkeypatch, capsys):
    import uvicorn

    from ecglab.cli import main

    served = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **_: served.append(app))
    assert main(["serve", str(bundle), "--delineator", "none"]) == 0
    with TestClient(served[0], base_url="http://localhost") as c:
        assert c.post("/measure", json=_flat(3.0)).status_code == 501
    assert main(["serve", str(bundle), "--delineator", str(bundle)]) == 2  # a classifier, not a delineator
    assert "not a delineation bundle" in capsys.readouterr().err
    assert main(["serve", str(bundle), "--delineator", "no-such-delineator"]) == 2
    assert "no shipped model of that name" in capsys.readouterr().err
    assert main(["serve", "--help"]) == 0 and "--delineator" in capsys.readouterr().out
