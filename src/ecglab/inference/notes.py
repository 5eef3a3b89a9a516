"""What a prediction tells its reader about how its input was found: which of the record's leads the model read,
the stretches it could not use, the beats an ensemble's gates concern, and, for a record refused for its leads,
the shipped models that read it. The Predictor (:mod:`ecglab.inference.predictor`) adds them to its notes."""

from __future__ import annotations

import numpy as np

from ecglab.inference.bundle import BundleSpec, load_spec
from ecglab.records import Record, lead_choices
from ecglab.signal.rpeaks import MIN_SECONDS, unusable_seconds


def shipped_readers(record: Record, spec: BundleSpec) -> list[str]:
    """The shipped models with ``spec``'s classes whose leads ``record`` has (mitbih-aami-1lead for a one-lead
    record that mitbih-aami, which also reads a chest lead, refuses)."""
    from ecglab.pretrained import find_pretrained, list_pretrained

    readers = []
    for name in list_pretrained():
        shipped = load_spec(find_pretrained(name))
        if (shipped.classes == spec.classes and shipped.leads != spec.leads
                and not record.missing_leads(shipped.leads, equivalents=True)):
            readers.append(name)
    return readers


def fallback_note(record: Record, spec: BundleSpec) -> str:
    """Why a record was classified by the bundle's fallback: the leads of ``spec`` it lacks."""
    missing = []
    for lead in record.missing_leads(spec.leads, equivalents=True):
        *others, last = lead_choices(lead)
        missing.append(f"{', '.join(others)} or {last}" if others else last)
    return (f"The record has no lead {' and no lead '.join(missing)}, which this model also reads: it was classified "
            f"by {spec.fallback}, the model its bundle names for such records.")


def lead_names(sources: dict[str, str]) -> list[str]:
    """How the notes name the record's lead behind each of the model's (``sources``: model lead -> record lead):
    'V4' for a lead the model accepts, 'II (as MLII)' for a stand-in."""
    return [source if source in lead_choices(lead) else f"{source} (as {lead})" for lead, source in sources.items()]


def lead_notes(sources: dict[str, str]) -> list[str]:
    """A note for each model lead the record supplies by another lead than the model's (first) own."""
    notes = []
    for lead, source in sources.items():
        choices = lead_choices(lead)
        if source == choices[0]:
            continue
        notes.append(f"the record has no lead {choices[0]}: its lead {source} is read instead, one of the leads the "
                     f"model accepts there ({', '.join(choices)})." if source in choices else
                     f"the record has no lead {lead}: its lead {source} stands in (equivalent leads).")
    return notes


def quiet_stretch_notes(record: Record, names: list[str], detected: bool) -> list[str]:
    """How long each lead a beat model reads (``names``, :func:`lead_names`) is flat or noise: on the first, where
    R peaks were ``detected``, no beat was looked for there; on the others (a loose chest electrode) the beats there
    are classified from it as it is, which no other note would show. Too short a record to detect on is said so."""
    if record.n_samples < MIN_SECONDS * record.fs:
        return [f"the record is {record.duration:.1f} s long; R peaks are looked for in {MIN_SECONDS:g} s or more."
                ] if detected else []
    consequences = ["no beats were looked for there" if detected else None]
    consequences += ["the beats there are classified from it as it is"] * (len(names) - 1)
    notes = []
    for signal, name, consequence in zip(record.signal, names, consequences):
        skipped = unusable_seconds(signal, record.fs) if consequence else 0
        if skipped:
            notes.append(f"{skipped:.0f} of {record.duration:.0f} s of lead {name} are flat or noise: {consequence}.")
    return notes


def gate_notes(spec: BundleSpec, features: dict[str, np.ndarray]) -> list[str]:
    """How many beats a gated ensemble's prematurity and rhythm rules concern, so that a reader knows why they
    are (or are not) called S."""
    gates = (spec.model_kwargs.get("gates") or {}) if spec.architecture == "ensemble" else {}
    if not gates:
        return []
    from ecglab.models.ensemble import fibrillating, premature

    notes = []
    if gates.get("prematurity"):
        early = int(premature(features["rr_prev_rel"], features["p_consistency"], gates["prematurity"]).sum())
        notes += [f"{early} beats come early for the patient's rhythm, in a rhythm whose beats share a P wave: they "
                  "are called S (supraventricular premature) unless their QRS says V."] if early else []
    if gates.get("rhythm"):
        gated = int(fibrillating(features["rr_irregularity"], features["p_consistency"], gates["rhythm"]).sum())
        notes += [f"{gated} beats lie in an irregular rhythm whose beats share no P wave (atrial fibrillation or "
                  "flutter): they are not called S, as a short R-R says nothing of their origin there."
                  ] if gated else []
    return notes
