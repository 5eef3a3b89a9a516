"""One table of file formats (records/formats.py): everything that lists formats shows all of them."""

import re

import pytest

from ecglab.records.formats import FORMATS, accepted_formats

DESCRIPTIONS = [f.description for f in FORMATS.values()]


def _flat(text: str) -> str:
    """Help text as one line: rich wraps it and frames it with box characters."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


@pytest.mark.parametrize("description", DESCRIPTIONS)
def test_the_predict_help_lists_every_format(description, capsys, monkeypatch):
    from ecglab.cli import main

    monkeypatch.setenv("COLUMNS", "400")
    assert main(["predict", "--help"]) == 0
    assert description in _flat(capsys.readouterr().out)


def test_the_api_description_and_the_web_page_list_every_format(tmp_path):
    from fastapi.testclient import TestClient
    from use_fixtures import record_bundle

    from ecglab.serve.app import create_app

    with TestClient(create_app([record_bundle(tmp_path / "b")]), base_url="http://localhost") as client:
        schema = client.get("/openapi.json").json()
        page = client.get("/").text
    bodies = [op["requestBody"]["description"] + str(op["requestBody"]["content"]) for path in schema["paths"].values()
              for op in path.values() if "multipart/form-data" in op.get("requestBody", {}).get("content", {})]
    assert bodies
    for description in DESCRIPTIONS:
        assert all(description in body for body in bodies), description
        assert description in page.replace("&amp;", "&"), description
    assert "{{" not in page


def test_the_folder_dataset_resolves_every_extension_and_lists_every_format():
    from ecglab.datasets import folder
    from ecglab.datasets.core.registry import get_builder

    assert set(folder.EXTENSIONS) == {ext for f in FORMATS.values() for ext in f.extensions}
    assert folder.EXTENSIONS[0] == ".hea"  # a record named by its stem is its WFDB header first
    assert all(d in get_builder("folder").description for d in DESCRIPTIONS)


def test_every_format_names_a_reader_that_exists():
    import importlib

    for fmt in FORMATS.values():
        module, _, function = fmt.reader.partition(":")
        assert callable(getattr(importlib.import_module(module), function)), fmt.name
        assert set(fmt.reader_options) <= {"fs", "leads"}
        assert all(ext.startswith(".") and ext == ext.lower() for ext in fmt.extensions)


def test_error_messages_list_the_accepted_formats(tmp_path):
    from ecglab.errors import RecordFormatError
    from ecglab.records import read_record

    (tmp_path / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(RecordFormatError) as caught:
        read_record(tmp_path / "photo.png")
    assert accepted_formats() in str(caught.value)
    assert all(d in str(caught.value) for d in DESCRIPTIONS)
