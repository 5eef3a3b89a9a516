"""`ecglab prepare` offers each builder's own options, explained by the builder's own docstring."""

import re

import pytest

from ecglab.cli import main
from ecglab.datasets.core.registry import get_builder
from ecglab.datasets.core.signature import SHARED_HELP, builder_options, docstring_parameters
from ecglab.datasets.core.sources import DATASET_MODULES


def _flat(text: str) -> str:
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


@pytest.mark.parametrize("name", sorted(DATASET_MODULES))
def test_every_builder_option_is_in_its_help_with_its_docstring_text(name, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")
    assert main(["prepare", name, "--help"]) == 0
    shown = _flat(capsys.readouterr().out)
    options = builder_options(get_builder(name).fn)
    assert options
    for option in options:
        assert option.help, f"{name}: --{option.name} has no help (document it in the builder's docstring)"
        assert f"{option.flag} " in shown and _flat(option.help) in shown, (name, option.flag)


def test_a_builders_docstring_wins_over_the_shared_help():
    documented = docstring_parameters(get_builder("ptbdb").fn.__doc__)
    assert documented["task"].startswith("mi ")
    ptbdb = {o.name: o.help for o in builder_options(get_builder("ptbdb").fn)}
    assert ptbdb["task"].startswith(documented["task"]) and ptbdb["dtype"].startswith(SHARED_HELP["dtype"])


def test_docstring_parameters_reads_a_numpy_section_and_stops_at_the_next():
    doc = """Summary.

    Parameters
    ----------
    task : str
        one | two,
        continued
    n
        how many

    Returns
    -------
    nothing
        at all
    """
    assert docstring_parameters(doc) == {"task": "one | two, continued", "n": "how many"}


def test_prepare_help_lists_every_dataset(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")
    assert main(["prepare", "--help"]) == 0
    shown = capsys.readouterr().out
    assert all(name in shown for name in DATASET_MODULES)


@pytest.mark.parametrize("argv", [["prepare", "mitbih", "--out", "x", "--fs", "100"],
                                  ["prepare", "nosuch", "--out", "x"]])
def test_an_option_the_dataset_does_not_take_is_a_usage_error(argv, capsys):
    assert main(argv) == 2
    assert "Traceback" not in capsys.readouterr().err
