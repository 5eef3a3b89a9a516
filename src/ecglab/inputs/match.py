"""Does a prepared dataset hold what a bundle's model saw in training? Compare the full input spec.

A bundle (rate, leads, preprocessing with its fitted statistics, beat or window spec, metadata)
scores prepared data only when the data match it. Preprocessing the data lacks and the bundle
can add to the stored signals (its band-pass and standardisation, on data stored unfiltered and
unstandardised) is applied with a note; any other difference refuses, naming each difference and
the ``ecglab prepare`` command that makes matching data. ``spec`` is a ``BundleSpec`` (read by
attribute, so that this layer never imports ``inference``); ``manifest`` a PreparedDataset's.
"""

from __future__ import annotations

import warnings

import numpy as np

from ecglab.errors import BundleError, EcglabNote
from ecglab.inputs.preprocess import Preprocessing
from ecglab.records import accepted_leads
from ecglab.inputs.beats import BeatSpec, preset_name

MATCH_TOLERANCE = 1e-6  # statistics and rates pass through JSON as floats


def data_preprocessing(manifest: dict) -> Preprocessing:
    """The preprocessing a prepared dataset's signals went through (its rate filled in)."""
    return Preprocessing.model_validate({**(manifest.get("preprocessing") or {}), "fs": float(manifest["fs"])})


def bundle_preprocessing(spec) -> Preprocessing:
    return spec.preprocessing.model_copy(update={"fs": float(spec.fs)})


def fit_to_bundle(spec, manifest: dict, meta_columns, data: str, source: str = "the bundle",
                  say: bool = True) -> Preprocessing | None:
    """What to apply to the stored signals so that ``spec``'s model sees what it saw in training
    (None: nothing, the data match; ``say``: a note says what is applied); a :class:`BundleError`
    naming every difference otherwise."""
    differences = shared_differences(spec, manifest, for_training=False)
    if list(spec.classes) != list(manifest["classes"]):
        differences.append(f"classes: the model predicts {list(spec.classes)}, the data are labelled {list(manifest['classes'])}")
    missing = [f.name for f in spec.meta_features if f.name not in set(meta_columns)]
    if missing:
        differences.append(f"metadata: the model reads {missing}, which the data's meta table lacks")
    if spec.input == "record" and int(manifest["length"]) * 2 < spec.input_length:
        differences.append(f"window: the model reads {spec.input_length} samples at a time, the data's records hold "
                           f"{manifest['length']} (less than half of that)")
    # a beat is cut from the preprocessed record and resampled: no step can follow the cut exactly
    steps, preprocessing = _added_steps(bundle_preprocessing(spec), data_preprocessing(manifest), spec.input != "beat")
    if differences or preprocessing:
        raise BundleError(f"{source} cannot score {data} as its model was trained: "
                          + "; ".join(differences + preprocessing) + ". " + _remedy(spec, manifest))
    if steps is not None and say:
        warnings.warn(f"{data} was prepared without the model's {_describe(steps)}: {source} applies its own "
                      "to the stored signals, as `ecglab predict` does.", EcglabNote, stacklevel=2)
    return steps


def init_differences(spec, manifest: dict) -> list[str]:
    """What keeps a bundle's trunk from fine-tuning on this data: another rate, leads, beat cut or
    preprocessing (standardisation statistics may differ: the new run fits and exports its own)."""
    differences = shared_differences(spec, manifest, for_training=True)
    bundle, data = bundle_preprocessing(spec), data_preprocessing(manifest)
    if not _same_band(bundle.bandpass, data.bandpass):
        differences.append(_band_difference(bundle, data))
    if bundle.standardize != data.standardize:
        differences.append(f"standardisation: the model's input is standardised '{bundle.standardize}', "
                           f"the data's '{data.standardize}'")
    return differences


def shared_differences(spec, manifest: dict, for_training: bool) -> list[str]:
    """Rate, leads and beat cut: what neither evaluation nor fine-tuning can change."""
    differences = []
    if abs(float(spec.fs) - float(manifest["fs"])) > MATCH_TOLERANCE:
        differences.append(f"sampling rate: the model reads {spec.fs:g} Hz, the data are at {float(manifest['fs']):g} Hz")
    if not _same_leads(spec.leads, manifest["leads"]):
        differences.append(f"leads: the model reads {list(spec.leads)}, the data hold {list(manifest['leads'])}")
    data_beats = BeatSpec.model_validate(manifest["beats"]) if manifest.get("beats") else None
    if spec.beats != data_beats:
        differences.append(f"beats: the model reads {_beats(spec.beats)}, the data hold {_beats(data_beats)}")
    elif spec.beats is not None and not for_training and spec.input_length != int(manifest["length"]):
        differences.append(f"beat length: the model reads {spec.input_length} samples, the data's beats hold {manifest['length']}")
    return differences


def _added_steps(bundle: Preprocessing, data: Preprocessing, can_add: bool) -> tuple[Preprocessing | None, list[str]]:
    """(steps to add to the data, differences no added step can mend). Steps can be added only to
    whole records stored unstandardised: a filter or a standardisation already applied cannot be undone."""
    band_differs = not _same_band(bundle.bandpass, data.bandpass)
    scale_differs = not _same_scale(bundle, data)
    if not band_differs and not scale_differs:
        return None, []
    differences = []
    if band_differs:
        differences.append(_band_difference(bundle, data))
    if scale_differs:
        differences.append(f"standardisation: the model's input is {_scale(bundle)}, the data's {_scale(data)}")
    if not can_add or data.standardize != "none" or (band_differs and data.bandpass is not None):
        return None, differences
    steps = Preprocessing(bandpass=bundle.bandpass if band_differs else None, standardize=bundle.standardize,
                          mean=bundle.mean, std=bundle.std)
    return steps, []


def _same_leads(model: list[str], data: list[str]) -> bool:
    """The same leads in order, a lead the model accepts or an equivalent lead standing in as for the Predictor
    (V1 for V1/V2, II for MLII)."""
    return len(model) == len(data) and all(m == d or d in accepted_leads(m) for m, d in zip(model, data))


def _band_difference(bundle: Preprocessing, data: Preprocessing) -> str:
    return f"band-pass: the model's input is {_band(bundle.bandpass)}, the data's {_band(data.bandpass)}"


def _same_band(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return all((x is None and y is None) or (x is not None and y is not None and abs(x - y) <= MATCH_TOLERANCE)
               for x, y in zip(a, b))


def _same_scale(a: Preprocessing, b: Preprocessing) -> bool:
    if a.standardize != b.standardize:
        return False
    if a.standardize != "global":
        return True
    return all(x is not None and y is not None and len(x) == len(y) and np.allclose(x, y, rtol=MATCH_TOLERANCE, atol=0)
               for x, y in ((a.mean, b.mean), (a.std, b.std)))


def _band(band) -> str:
    if band is None:
        return "unfiltered"
    low, high = band
    return f"filtered {'' if low is None else f'{low:g}'}–{'' if high is None else f'{high:g}'} Hz"


def _scale(steps: Preprocessing) -> str:
    if steps.standardize == "global":
        if not steps.mean or not steps.std:
            return "standardised 'global' (no statistics recorded)"
        return (f"standardised 'global' with the training statistics mean {_numbers(steps.mean)}, "
                f"std {_numbers(steps.std)}")
    return "standardised per record" if steps.standardize == "record" else "not standardised"


def _numbers(values) -> str:
    shown = ", ".join(f"{v:.4g}" for v in values[:3])
    return f"[{shown}{', …' if len(values) > 3 else ''}]"


def _beats(beats: BeatSpec | None) -> str:
    if beats is None:
        return "whole records (no beat cut)"
    template = "" if beats.template == "none" else f", with the record's median-beat {beats.template} channel"
    return f"beats cut '{beats.method}' ({beats.length} samples at {beats.fs:g} Hz{template})"


def _describe(steps: Preprocessing) -> str:
    parts = [f"band-pass ({_band(steps.bandpass).removeprefix('filtered ')})"] if steps.bandpass else []
    if steps.standardize != "none":
        parts.append("standardisation (per record)" if steps.standardize == "record"
                     else "standardisation (its training statistics)")
    return " and ".join(parts)


def _remedy(spec, manifest: dict) -> str:
    return (f"Prepare matching data with `{prepare_command(spec, manifest)}` (stored unstandardised: the bundle "
            "applies its own standardisation), or evaluate with `ecglab predict` on the files.")


PREPARE_FLAGS = ("fs", "lead", "bandpass", "standardize", "beats")  # options the bundle decides


def prepare_command(spec, manifest: dict, standardize: str = "none") -> str:
    """The ``ecglab prepare`` command that stores data as ``spec``'s model reads it: the data's own
    preparation (source, task, records, …) with rate, leads, band-pass and beat cut set to the bundle's."""
    stamp = manifest.get("prepare") or {}
    name = stamp.get("dataset") or "DATASET"
    options = {k: v for k, v in (stamp.get("options") or {}).items() if v is not None and k not in PREPARE_FLAGS}
    accepted = set(stamp.get("options") or PREPARE_FLAGS)
    beats = preset_name(spec.beats) if spec.beats is not None else None  # a beat spec sets the rate; beats are not standardised
    wanted = {"fs": None if beats else f"{spec.fs:g}", "lead": ",".join(spec.leads),
              "bandpass": _band_option(spec.preprocessing.bandpass),
              "standardize": None if beats or standardize == "none" else standardize, "beats": beats}
    options.update({k: v for k, v in wanted.items() if v is not None and k in accepted})
    parts = ["ecglab prepare", name]
    if stamp.get("source"):
        parts.append(f"--source {stamp['source']}")
    parts += [f"--{key.replace('_', '-')} {value}" for key, value in options.items()]
    return " ".join(parts + ["--out DIR"])


def _band_option(band) -> str | None:
    if band is None:
        return None
    return ",".join("" if edge is None else f"{edge:g}" for edge in band)
