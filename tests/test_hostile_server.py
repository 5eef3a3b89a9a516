"""The server under hostile input: every case is answered 4xx (never 500) within 2 s, with the server's
memory at most 300 MB over what it held before, no temporary path in the message, and a valid request
answered afterwards. The server runs as ``ecglab serve`` in its own process, so its memory is its own."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from contextlib import contextmanager
from pathlib import Path

import httpx2
import numpy as np
import psutil
import pytest
from fastapi.testclient import TestClient
from use_fixtures import record_bundle, twelve_lead

from ecglab.errors import InputTooLargeError
from ecglab.records import STANDARD_12_LEADS
from ecglab.serve.app import SERVER_LIMITS, create_app, model_names

READ_TIMEOUT_S = 3
MAX_SECONDS, MAX_MB = 2.0, 300


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return record_bundle(tmp_path_factory.mktemp("hostile") / "records")


@pytest.fixture(scope="module")
def server(bundle):
    """``ecglab serve`` on a free loopback port; yields (base URL, its process)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "ecglab.cli", "serve", str(bundle), "--port", str(port),
               "--read-timeout", str(READ_TIMEOUT_S), "--max-upload-mb", "50", "--max-pending-mb", "60"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env=dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1] / "src")))
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx2.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ecglab serve did not start: {process.stderr.read().decode()[-2000:]}")
            time.sleep(0.2)
        yield url, psutil.Process(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=20)


@contextmanager
def peak_memory(process: psutil.Process):
    """The process's peak resident memory over what it held before the block, in MB (sampled every 5 ms)."""
    base = process.memory_info().rss
    peak, stop, result = [base], threading.Event(), {}

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], process.memory_info().rss)
            stop.wait(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        yield result
    finally:
        stop.set()
        sampler.join()
        result["mb"] = (peak[0] - base) / 1e6


def _valid_body():
    record = twelve_lead(fs=100, seconds=10)
    return {"signal": record.signal.tolist(), "fs": record.fs, "leads": record.leads}


def assert_survives(server, send, statuses: set[int], message: str = ""):
    """``send(client)`` is answered with one of ``statuses`` within MAX_SECONDS and MAX_MB, the
    message holds ``message`` and no temporary path, and the server then answers a valid request."""
    url, process = server
    with httpx2.Client(base_url=url, timeout=30) as client, peak_memory(process) as memory:
        start = time.perf_counter()
        response = send(client)
        seconds = time.perf_counter() - start
    detail = str(response.json().get("detail", "")) if "json" in response.headers.get("content-type", "") else response.text
    print(f"\n  {response.status_code} in {seconds:.2f} s, server +{memory['mb']:.0f} MB: {detail[:90]}")
    assert response.status_code in statuses, (response.status_code, detail[:500])
    assert message in detail
    assert "ecglab-upload-" not in detail and tempfile.gettempdir() + "/" not in detail
    assert seconds < MAX_SECONDS, f"answered in {seconds:.2f} s"
    assert memory["mb"] < MAX_MB, f"server memory rose {memory['mb']:.0f} MB"
    assert httpx2.post(f"{url}/predict", json=_valid_body(), timeout=30).status_code == 200
    return response


def _post_json(content: bytes):
    return lambda client: client.post("/predict", content=content, headers={"content-type": "application/json"})


def _post_files(files, data=None):
    return lambda client: client.post("/predict", files=files, data=data or {})


def _npy_bytes(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


# -- JSON bodies ------------------------------------------------------------------------------------

@pytest.mark.parametrize("content, status, message", [
    pytest.param(b"[" * 100_000 + b"]" * 100_000, 422, "nests 100,000 levels", id="nested-100k"),
    pytest.param(b'{"signal": ' + b"[" * 50 + b"0" + b"]" * 50 + b', "fs": 100, "leads": ["I"]}', 422, "nests 51 levels",
                 id="nested-50"),
    pytest.param(b'{"signal": [[' + b"0," * 22_000_000 + b'0]], "fs": 100, "leads": ["I"]}', 413, "limit of 24 MB for JSON",
                 id="44MB-of-zeros"),
    pytest.param(b'{"signal": [[' + b"0," * 11_000_000 + b'0]], "fs": 100, "leads": ["I"]}', 413, "11,000,003 values",
                 id="22MB-of-zeros"),
    pytest.param(b'{"signal": [[' + b'"a",' * 1_900_000 + b'"a"]], "fs": 100, "leads": ["I"]}', 422, "1,900,005 strings",
                 id="1.9M-strings"),
    pytest.param(b'{"signal": [[' + b'"a",' * 900 + b'"a"]], "fs": 100, "leads": ["I"]}', 422, "found str",
                 id="900-strings"),
    pytest.param(b'{"signal": [[0.1]], "fs": 100, "leads": ["I"], "meta": {' + b",".join(b'"k%d": 1' % i for i in range(100_000))
                 + b"}}", 422, "100,005 strings", id="100k-meta-keys"),
    pytest.param(b'{"signal": [[' + b"null," * 999 + b'null]], "fs": 100, "leads": ["I"]}', 422, "found null",
                 id="nulls"),
    pytest.param(b'{"signal": [[1' + b"0" * 400 + b']], "fs": 100, "leads": ["I"]}', 422, "too large", id="huge-int"),
    pytest.param(b'{"signal": [[1e400, 0.1]], "fs": 100, "leads": ["I"]}', 422, "", id="infinity"),
    pytest.param(json.dumps({"signal": [[0.1] * 10] * 65, "fs": 100, "leads": ["I"] * 65}).encode(), 413,
                 "at most 64", id="65-leads"),
    pytest.param(b"[1, 2, 3]", 422, "expected an object", id="array"),
    pytest.param(b'{"signal": "abc", "fs": 100, "leads": ["I"]}', 422, "list of rows", id="signal-string"),
    pytest.param(b'{"signal": [[0.1]], "fs": "fast", "leads": ["I"]}', 422, "fs", id="fs-string"),
    pytest.param(b'{"signal": [[0.1]], "fs": 100, "leads": ["I"], "meta": {"age": [[[1]]]}}', 422, "meta",
                 id="meta-nested"),
    pytest.param(b'{"signal": [[0.1, \xff\xfe]], "fs": 100}', 422, "not a valid signal request", id="invalid-utf8"),
    pytest.param(b"", 422, "not a valid signal request", id="empty"),
])
def test_hostile_json_bodies(server, content, status, message):
    assert_survives(server, _post_json(content), {status}, message)


# -- uploads ----------------------------------------------------------------------------------------

def _npz_bomb(values: int) -> bytes:
    """A .npz whose member decompresses to ``values`` float32 zeros, written a MB at a time."""
    buffer = io.BytesIO()
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (1, values)})
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("signal.npy", "w", force_zip64=True) as member:
            member.write(header.getvalue())
            for _ in range(values * 4 // 2**20):
                member.write(bytes(2**20))
        archive.writestr("fs.npy", _npy_bytes(np.float64(360.0)))
        archive.writestr("leads.npy", _npy_bytes(np.array(["MLII"])))
    return buffer.getvalue()


def _huge_npy_header(values: int) -> bytes:
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (1, values)})
    return header.getvalue() + bytes(400)


def _wfdb_header(n_signals: int, n_samples: int) -> bytes:
    lines = [f"bomb {n_signals} 500 {n_samples}"] + [f"bomb.dat 16 200/mV 16 0 0 0 0 I{i}" for i in range(n_signals)]
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("files, data, statuses, message", [
    pytest.param([("files", ("ecg." + "x" * 300, b"\x00garbage"))], None, {422}, "ecg." + "x" * 300, id="300-char-extension"),
    pytest.param([("files", ("e" * 250 + ".npy", _npy_bytes(np.zeros((12, 500), np.float32))))], {"fs": "100"}, {200},
                 "", id="250-char-name"),
    pytest.param([("files", ("e" * 5000 + ".npy", _npy_bytes(np.zeros((12, 500), np.float32))))], {"fs": "100"}, {400},
                 "multipart", id="5000-char-name"),
    pytest.param([("files", ("empty.hea", b""))], None, {422}, "empty.hea", id="empty-file"),
    pytest.param([("files", ("a b.npy", b"x")), ("files", ("a_b.npy", b"y"))], None, {422}, "same name", id="duplicate-names"),
    pytest.param([("files", ("ecg.npy", b"x"))] * 9, None, {400, 422}, "", id="9-files"),
    pytest.param([("files", ("ecg.npy", _npy_bytes(np.zeros((12, 500), np.float32))))], {"fs": "nan"}, {422}, "fs must be",
                 id="fs-nan"),
    pytest.param([("files", ("ecg.npy", _npy_bytes(np.zeros((12, 500), np.float32))))], {"fs": "1e400"}, {422}, "fs must be",
                 id="fs-inf"),
    pytest.param([("files", ("ecg.npy", _npy_bytes(np.zeros((12, 500), np.float32))))], {"fs": "-100"}, {422}, "fs must be",
                 id="fs-negative"),
    pytest.param([("files", ("ecg.npy", _npy_bytes(np.zeros((12, 500), np.float32))))], {"leads": "I," * 100}, {413},
                 "at most 64", id="100-lead-names"),
    pytest.param([("files", ("ecg.npy", _npy_bytes(np.zeros((12, 500), np.float32))))],
                 {"fs": "100", "leads": "I,II"}, {422}, "", id="lead-count-mismatch"),
    pytest.param([("files", ("ecg.npy", _npy_bytes(np.zeros((12, 200_000), np.float32))))], {"fs": "100"}, {413},
                 "2,000,000", id="npy-over-max-values"),
    pytest.param([("files", ("huge.npy", _huge_npy_header(10**9)))], {"fs": "100", "leads": "I"}, {413}, "",
                 id="npy-header-declares-1G"),
    pytest.param([("files", ("bomb.npz", _npz_bomb(50_000_000)))], None, {413}, "bomb.npz",
                 id="npz-bomb-200MB"),
    pytest.param([("files", ("bomb.hea", _wfdb_header(10_000, 5000))), ("files", ("bomb.dat", bytes(1000)))], None,
                 {413}, "10,000", id="wfdb-10000-signals"),
    pytest.param([("files", ("bomb.hea", _wfdb_header(1, 10**12))), ("files", ("bomb.dat", bytes(1000)))], None,
                 {413}, "", id="wfdb-10^12-samples"),
])
def test_hostile_uploads(server, files, data, statuses, message):
    assert_survives(server, _post_files(files, data), statuses, message)


def test_unicode_names_are_kept_in_the_answer(server):
    files = [("files", ("心电图 ü.npy", _npy_bytes(twelve_lead().signal)))]
    response = assert_survives(server, _post_files(files, {"fs": "100"}), {200})
    assert response.json()["prediction"]["file"] == "心电图 ü.npy"


@pytest.mark.parametrize("content, content_type", [
    pytest.param(b"--x\r\ngarbage", "multipart/form-data; boundary=x", id="truncated-multipart"),
    pytest.param(b"garbage", "multipart/form-data", id="no-boundary"),
    pytest.param(b"x" * 51_000_000, "application/json", id="over-max-upload"),
    pytest.param(b"hello", "text/plain", id="text"),
])
def test_malformed_requests(server, content, content_type):
    send = lambda client: client.post("/predict", content=content, headers={"content-type": content_type})  # noqa: E731
    assert_survives(server, send, {400, 413, 415, 422})


# -- headers, time, concurrency ---------------------------------------------------------------------

@pytest.mark.parametrize("host, status", [("evil.example", 400), ("evil.example:8000", 400), ("127.0.0.1.nip.io", 400),
                                          ("localhost:1234", 200), ("127.0.0.1", 200), ("[::1]:8000", 200)])
def test_host_header_allow_list(server, host, status):
    response = httpx2.get(f"{server[0]}/health", headers={"host": host}, timeout=10)
    assert response.status_code == status
    if status == 400:
        assert "--allowed-hosts" in response.json()["detail"] and host.split(":")[0] in response.json()["detail"]


def test_cors_headers_absent_by_default_and_present_when_configured(server, bundle):
    origin = {"origin": "https://app.example.org"}
    assert "access-control-allow-origin" not in httpx2.get(f"{server[0]}/health", headers=origin, timeout=10).headers
    app = create_app([bundle], cors_origins=["https://app.example.org"])
    with TestClient(app, base_url="http://localhost") as client:
        assert client.get("/health", headers=origin).headers["access-control-allow-origin"] == "https://app.example.org"
        other = client.get("/health", headers={"origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        preflight = client.options("/predict", headers={**origin, "access-control-request-method": "POST"})
        assert preflight.status_code == 200 and "POST" in preflight.headers["access-control-allow-methods"]


def _send_head(url: str, content_length: int, content_type: str = "application/json") -> socket.socket:
    host, port = url.rsplit("/", 1)[-1].split(":")
    connection = socket.create_connection((host, int(port)), timeout=30)
    connection.sendall(f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
                       f"Content-Length: {content_length}\r\n\r\n".encode())
    return connection


def test_a_slow_body_is_cut_off_after_the_read_timeout(server):
    url, _ = server
    with _send_head(url, 10_000) as slow:
        start = time.perf_counter()
        slow.sendall(b'{"signal": ')  # and then nothing more
        meanwhile = httpx2.post(f"{url}/predict", json=_valid_body(), timeout=30)
        answer = b""
        while chunk := slow.recv(4096):  # until the server closes the connection
            answer += chunk
        answer = answer.decode()
        waited = time.perf_counter() - start
    assert meanwhile.status_code == 200
    assert answer.startswith("HTTP/1.1 408") and "--read-timeout" in answer
    assert READ_TIMEOUT_S - 0.5 < waited < READ_TIMEOUT_S + 2


def test_bodies_in_flight_beyond_the_budget_are_503_with_retry_after(server):
    url, _ = server  # --max-pending-mb 60
    with _send_head(url, 45_000_000, "multipart/form-data; boundary=x") as first:
        first.sendall(b"0" * 40_000_000)  # held by the server while the rest is awaited
        time.sleep(0.5)
        second = httpx2.post(f"{url}/predict", content=b"0" * 30_000_000, timeout=30,
                            headers={"content-type": "multipart/form-data; boundary=x"})
        assert second.status_code == 503 and second.headers["retry-after"] == "2"
        assert "busy" in second.json()["detail"]
    time.sleep(READ_TIMEOUT_S + 0.5)  # the first one is cut off, its bytes returned to the budget
    assert httpx2.post(f"{url}/predict", json=_valid_body(), timeout=30).status_code == 200


def _max_size_signal() -> np.ndarray:
    rows = 12  # less 100 samples a lead, as the bytes' count of values is a little above the signal's
    return np.random.default_rng(0).normal(0, 0.3, (rows, SERVER_LIMITS.max_values // rows - 100)).astype(np.float32)


def test_a_max_size_record_stays_within_its_memory_bound(server):
    """The largest record a request may hold (--max-values), in a file and as JSON: what one of the
    --workers inference threads can hold at once (docs/SERVING.md states the bound from this)."""
    signal = _max_size_signal()
    upload = [("files", ("max.npy", _npy_bytes(signal)))]
    body = json.dumps({"signal": np.round(signal.astype(np.float64), 3).tolist(), "fs": 500, "leads": STANDARD_12_LEADS}).encode()
    for send in (_post_files(upload, {"fs": "500"}), _post_json(body)):
        with peak_memory(server[1]) as memory:
            response = send(httpx2.Client(base_url=server[0], timeout=60))
        assert response.status_code == 200, response.text[:300]
        print(f"max-size request: +{memory['mb']:.0f} MB")
        assert memory["mb"] < 200


def test_a_max_size_record_measured_stays_within_the_same_bound(server):
    """/measure delineates a long record a few leads at a time, so it holds no more than /predict."""
    upload = [("files", ("max.npy", _npy_bytes(_max_size_signal())))]
    with peak_memory(server[1]) as memory:
        response = httpx2.post(f"{server[0]}/measure", files=upload, data={"fs": "500"}, timeout=120)
    assert response.status_code == 200, response.text[:300]
    print(f"max-size /measure: +{memory['mb']:.0f} MB, {len(response.json()['waves']):,} waves")
    assert memory["mb"] < 200


# -- in-process: mapping of reader errors, names of served models -----------------------------------

@pytest.fixture(scope="module")
def client(bundle):
    with TestClient(create_app([bundle]), base_url="http://localhost") as c:
        yield c


def test_reader_limits_map_to_413_and_surprises_to_422_naming_the_upload(client, monkeypatch):
    import ecglab.serve.uploads as uploads

    def too_large(path, **_):
        raise InputTooLargeError(f"{path}: declares 10,000 signals; at most 64 are read.")

    def surprised(path, **_):
        raise ValueError(f"cannot reshape array while reading {path}")

    files = [("files", ("My ECG.npy", b"anything"))]
    monkeypatch.setattr(uploads, "read_record", too_large)
    response = client.post("/predict", files=files)
    assert response.status_code == 413 and response.json()["detail"] == "My ECG.npy: declares 10,000 signals; at most 64 are read."
    monkeypatch.setattr(uploads, "read_record", surprised)
    response = client.post("/predict", files=files)
    assert response.status_code == 422
    assert response.json()["detail"] == "My ECG.npy: could not be read as an ECG (ValueError: cannot reshape array while reading My ECG.npy)."


def test_the_request_limits_are_the_servers_not_the_process_defaults(client, monkeypatch):
    import ecglab.serve.uploads as uploads

    seen = {}
    monkeypatch.setattr(uploads, "read_record", lambda path, **kwargs: seen.update(kwargs) or twelve_lead())
    assert client.post("/predict", files=[("files", ("a.npy", b"x"))]).status_code == 200
    assert seen["limits"] == SERVER_LIMITS


def test_served_models_are_named_apart(tmp_path):
    a, b = tmp_path / "a" / "bundle", tmp_path / "b" / "bundle"
    assert model_names([a, b]) == ["a", "b"]
    assert model_names([tmp_path / "x" / "ptbxl", tmp_path / "y" / "ptbxl"]) == ["x-ptbxl", "y-ptbxl"]
    assert model_names([tmp_path / "runs" / "ptbxl" / "bundle", tmp_path / "mitbih"]) == ["ptbxl", "mitbih"]
    assert model_names([a, a]) == ["a", "a-2"]


def test_serve_help_states_the_default_limits(capsys):
    from ecglab.cli import main

    assert main(["serve", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert f"{SERVER_LIMITS.max_values:,}" in text and "--allowed-hosts" in text and "--read-timeout" in text
