"""The verbs of ``import ecglab``: each imports what it needs when called, so that importing the
package stays fast (no torch, no Lightning). The packages below hold the machinery; these are the
documented doors to it."""

from __future__ import annotations

from pathlib import Path


def read_record(path: str | Path, fs: float | None = None, leads: list[str] | None = None):
    """Read one ECG file of any supported format, judged by its content.

    Parameters
    ----------
    path : str or Path
        The file: WFDB (its .hea, .dat or the record name), EDF/BDF, CSV/TSV, .npy/.npz, DICOM
        waveform or HL7 aECG XML (:data:`ecglab.records.formats.FORMATS`).
    fs : float, optional
        Sampling rate (Hz) of files that store none (.npy, a CSV without a time column).
    leads : list of str, optional
        The file's lead names in order; replace the names it stores.

    Returns
    -------
    Record
        ``signal`` float32 ``(n_leads, n_samples)`` in mV, ``fs``, ``leads``, ``meta``, ``annotations``.

    Example
    -------
    >>> record = ecglab.read_record("ptb-xl/records100/00000/00001_lr.hea")
    >>> record.signal.shape, record.fs
    ((12, 1000), 100.0)
    """
    from ecglab.records import read_record as read

    return read(path, fs=fs, leads=leads)


def prepare(name: str, out: str | Path, source: str | Path | None = None, **options):
    """Prepare a dataset once into the memory-mapped form that training reads (``ecglab prepare``).

    Parameters
    ----------
    name : str
        The dataset: ``synthetic``, ``ptbxl``, ``mitbih``, ``ptbdb``, ``cinc``, ``mimic-iv-ecg``,
        ``folder``, ``mitbih-csv``, ``ptbdb-csv``.
    out : str or Path
        Directory to write the prepared dataset into.
    source : str or Path, optional
        The dataset's files in their release layout (every dataset but ``synthetic``).
    **options
        The builder's options (``ecglab prepare NAME --help`` lists them, e.g. ``task``, ``fs``),
        and ``force``, ``strict``, ``workers``.

    Returns
    -------
    PreparedDataset
        The dataset: ``signals`` ``(N, L, T)``, ``labels`` ``(N, C)``, ``meta``, ``classes``, splits.
        Preparing again with the same arguments from an unchanged source reuses it.

    Example
    -------
    >>> data = ecglab.prepare("synthetic", "data/synth", task="record", n=200, fs=100)
    >>> data.classes
    ['NORM', 'MI', 'STTC', 'CD', 'HYP']
    """
    from ecglab.datasets.core.registry import prepare as run

    return run(name, out, source, **options)


def train(config, resume: bool = False):
    """Train a model as a run configuration says; writes checkpoints, logs, a report and a bundle.

    Parameters
    ----------
    config : dict, str, Path or RunConfig
        The configuration: a dict of its keys, or a YAML file (``configs/``), or a validated RunConfig.
    resume : bool
        Continue the run from its last checkpoint.

    Returns
    -------
    RunResult
        ``run_dir``, ``bundle_dir``, ``report_dir`` and ``metrics`` (test split).

    Example
    -------
    >>> result = ecglab.train({"name": "synth", "data": {"path": "data/synth", "window": 250},
    ...                        "model": {"name": "resnet1d"}, "trainer": {"max_epochs": 2}})
    >>> round(result.metrics["macro_auroc"], 2)
    0.93
    """
    from ecglab.training.config import RunConfig, load_config, validate_config
    from ecglab.training.fit import train as run

    if isinstance(config, dict):
        config = validate_config(config, source="the configuration given to ecglab.train")
    elif not isinstance(config, RunConfig):
        config = load_config(Path(config), [])
    return run(config, resume=resume)


def evaluate(bundle: str | Path, data: str | Path, split: str = "test", out: str | Path | None = None,
             n_boot: int = 200):
    """Evaluate a trained bundle on a split of a prepared dataset (``ecglab evaluate``).

    Parameters
    ----------
    bundle : str or Path
        A bundle directory, or a run directory holding ``bundle/``.
    data : str or Path
        A prepared dataset with the bundle's classes, leads and rate.
    split : str
        The split to score.
    out : str or Path, optional
        The report directory (default: beside the bundle).
    n_boot : int
        Bootstrap resamples for the confidence intervals (0: none).

    Returns
    -------
    (dict, Path)
        The metrics report (as metrics.json) and the directory holding report.md and its plots.

    Example
    -------
    >>> report, where = ecglab.evaluate("runs/synth", "data/synth", n_boot=0)
    >>> sorted(report["test"])[:2]
    ['accuracy', 'macro_auprc']
    """
    from ecglab.training.evaluate import evaluate_bundle

    return evaluate_bundle(bundle, data, split, out, n_boot=n_boot)


def create_model(name: str, n_leads: int, n_classes: int, input_length: int, **hparams):
    """Build a model of the zoo, untrained (timm's ``create_model``).

    Parameters
    ----------
    name : str
        An architecture of :func:`list_models`.
    n_leads, n_classes, input_length : int
        Input leads, output classes and input samples.
    **hparams
        The architecture's hyper-parameters (an unknown one is an error that lists the valid ones).

    Returns
    -------
    torch.nn.Module
        Takes ``(B, n_leads, input_length)`` (and an optional metadata tensor), returns logits ``(B, n_classes)``.

    Example
    -------
    >>> model = ecglab.create_model("resnet1d", n_leads=12, n_classes=5, input_length=1000)
    >>> model(torch.zeros(2, 12, 1000)).shape
    torch.Size([2, 5])
    """
    from ecglab.models import create_model as create

    return create(name, n_leads=n_leads, n_classes=n_classes, input_length=input_length, **hparams)


def list_models() -> list[str]:
    """The architectures of the zoo.

    Returns
    -------
    list of str
        Names for :func:`create_model` and a configuration's ``model.name``.

    Example
    -------
    >>> "resnet1d" in ecglab.list_models()
    True
    """
    from ecglab.models import list_models as listed

    return listed()
