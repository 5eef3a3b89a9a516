"""The Predictor: a model bundle applied to any Record, exactly as the training data was prepared.

    >>> predictor = Predictor.load("runs/ptbxl/bundle")
    >>> prediction = predictor.predict(read_record("records100/00000/00004_lr.hea"))
    >>> prediction.positive, prediction.to_dict()

Leads are selected by name; an equivalent lead stands in for a missing one (lead II for MLII:
``ecglab.records.LEAD_EQUIVALENTS``) and the prediction notes it. Record models: the signal is
resampled and preprocessed as the bundle says, cut into windows of the model's input length (the
last one aligned to the end) and the window probabilities are aggregated. Beat models: R peaks come
from the record's beat annotations or a detector, every beat is cut with the bundle's BeatSpec and
classified on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from ecglab.errors import BundleError, RecordFormatError
from ecglab.inference.bundle import BundleSpec, fallback_bundle, load_bundle, load_spec, resolve_bundle
from ecglab.inference.measured import delineator_id, measured_features
from ecglab.inference.notes import fallback_note, gate_notes, lead_names, lead_notes, quiet_stretch_notes, shipped_readers
from ecglab.inputs.alike import share_with_alike_beats
from ecglab.inputs.metadata import meta_input
from ecglab.inputs.preprocess import preprocess
from ecglab.inputs.windows import aggregate, sliding_windows, window_starts
from ecglab.records import Record, read_record
from ecglab.inputs.beats import beat_input
from ecglab.signal.rpeaks import annotated_beats, detect_r_peaks

ONNX_FILE = "model.onnx"
BATCH = 64
MIN_FS, MAX_FS = 25.0, 20000.0


@dataclass
class ModelInput:
    """What the model sees for one record: ``x`` (N, L, T) windows or beats, ``meta`` (N, M) or None.

    ``starts`` is where each row begins on the model-rate timeline (sample indices at ``fs``);
    ``peaks`` (beat models) are the R peaks at the record's original rate.
    """

    x: np.ndarray
    meta: np.ndarray | None
    fs: float
    starts: np.ndarray
    n_samples: int
    padded: bool = False
    peaks: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class BeatCall:
    sample: int  # R peak at the record's original sampling rate
    time_s: float
    label: str
    probability: float


@dataclass
class Prediction:
    """Per-class probabilities and decisions for one record; ``beats`` for beat models.

    For beat models ``probabilities`` aggregates the beats' probabilities as the bundle says, and a
    class is positive when at least one beat is called that class (``beat_counts``).
    """

    record_id: str
    model: str
    kind: str
    input: str
    classes: list[str]
    probabilities: np.ndarray
    thresholds: list[float]
    decisions: np.ndarray
    n_windows: int
    padded: bool = False
    notes: list[str] = field(default_factory=list)
    beats: list[BeatCall] | None = None
    tuned_thresholds: bool = False
    file: str | None = None  # the file the record was read from, when it was

    @property
    def decision_rule(self) -> str:
        """How classes become positive: ``threshold`` per class, ``argmax`` (multiclass without tuned
        thresholds), or ``beats`` (a beat model: at least one beat of the class)."""
        if self.beats is not None:
            return "beats"
        return "argmax" if self.kind == "multiclass" and not self.tuned_thresholds else "threshold"

    @property
    def positive(self) -> list[str]:
        return [c for c, d in zip(self.classes, self.decisions) if d]

    @property
    def beat_counts(self) -> dict[str, int] | None:
        if self.beats is None:
            return None
        counts = {c: 0 for c in self.classes}
        for beat in self.beats:
            if beat.label in counts:
                counts[beat.label] += 1
        return counts

    def to_dict(self) -> dict:
        out = {
            "file": self.file, "record_id": self.record_id, "model": self.model, "kind": self.kind, "input": self.input,
            "classes": list(self.classes),
            "probabilities": {c: round(float(p), 6) for c, p in zip(self.classes, self.probabilities)},
            "thresholds": {c: float(t) for c, t in zip(self.classes, self.thresholds)},
            "positive": self.positive, "decision_rule": self.decision_rule, "n_windows": self.n_windows,
            "padded": self.padded, "notes": list(self.notes),
        }
        if self.beats is not None:
            out["beat_counts"] = self.beat_counts
            out["beats"] = [{"sample": b.sample, "time_s": round(b.time_s, 4), "label": b.label,
                             "probability": round(b.probability, 6)} for b in self.beats]
        return out


MAX_PLAUSIBLE_MV = 20.0  # ECG voltages stay within a few mV; larger values are µV or ADC counts


def _check_millivolts(record: Record) -> None:
    peak = float(np.percentile(np.abs(record.signal), 99))
    if peak > MAX_PLAUSIBLE_MV:
        raise RecordFormatError(f"{record.name}: the signal reaches {peak:.0f} (99th percentile of |value|), which is not "
                                f"plausible in millivolts (ECGs stay within a few mV); expected mV — the values look like "
                                "µV or raw ADC counts, so divide by the gain (e.g. 1000) first.")


class Predictor:
    """Apply a bundle's model to records, with the bundle's own preprocessing.

    Parameters
    ----------
    (of :meth:`load`) bundle_dir : str or Path
        A bundle directory, a run directory holding ``bundle/``, or a shipped model's name.
    backend : str
        ``torch`` (eager) or ``onnx`` (ONNX Runtime).

    Returns
    -------
    (of :meth:`predict`) Prediction
        Per-class probabilities, decisions at the bundle's thresholds and, for beat models, every beat.

    Example
    -------
    >>> predictor = ecglab.Predictor.load("mitbih-kachuee-ds1")
    >>> predictor.predict(ecglab.read_record("mitdb/100.hea")).to_dict()["classes"]
    ['N', 'S', 'V', 'F', 'Q']
    """

    def __init__(self, spec: BundleSpec, forward, backend: str, torch_model=None, fallback_dir: Path | None = None,
                 threads: int | None = None):
        self.spec = spec
        self.backend = backend
        self.torch_model = torch_model
        self._forward = forward
        self._fallback_dir, self._threads = fallback_dir, threads

    @classmethod
    def load(cls, bundle_dir: str | Path, backend: str = "torch", threads: int | None = None) -> "Predictor":
        """``threads``: ONNX Runtime's intra-op threads (default: its own choice); PyTorch's are global
        (``torch.set_num_threads``). ``bundle_dir`` may also name a shipped model (``ecglab.pretrained``)."""
        bundle_dir = resolve_bundle(bundle_dir)
        spec = load_spec(bundle_dir)
        if spec.kind == "segmentation":
            raise BundleError(f"{bundle_dir} is a delineation (segmentation) bundle, not a classifier; "
                              "use `ecglab measure` / ecglab.measure() with it.")
        fallback_dir = fallback_bundle(bundle_dir, spec)
        if backend == "torch":
            model, spec = load_bundle(bundle_dir)
            return cls(spec, _torch_forward(model), backend, model, fallback_dir, threads)
        if backend == "onnx":
            return cls(spec, _onnx_model(bundle_dir, spec, threads), backend, None, fallback_dir, threads)
        raise BundleError(f"unknown backend {backend!r}; expected 'torch' or 'onnx'.")

    @cached_property
    def fallback(self) -> "Predictor | None":
        """The predictor of the bundle's ``fallback`` (loaded when first needed), or None."""
        return None if self._fallback_dir is None else Predictor.load(self._fallback_dir, self.backend, self._threads)

    def reads(self, record: Record) -> bool:
        """Whether ``record`` has every lead the model reads (or an accepted stand-in)."""
        return not record.missing_leads(self.spec.leads, equivalents=True)

    def for_record(self, record: Record) -> "Predictor":
        """The predictor that classifies ``record``: this one, or its bundle's fallback where the record lacks
        one of this model's leads and has the fallback's."""
        if self.reads(record) or self.fallback is None or not self.fallback.reads(record):
            return self
        return self.fallback

    # -- public verbs ---------------------------------------------------------------------------

    def predict_file(self, path: str | Path, fs: float | None = None, leads: list[str] | None = None) -> Prediction:
        return self.predict(read_record(path, fs=fs, leads=leads))

    def predict(self, record: Record) -> Prediction:
        chosen = self.for_record(record)
        if chosen is not self:
            prediction = chosen.predict(record)
            prediction.notes.insert(0, fallback_note(record, self.spec))
            return prediction
        inputs = self.model_input(record)
        probs = self.shared_with_alike_beats(self.predict_proba(inputs.x, inputs.meta), inputs)
        spec = self.spec
        record_id = str(record.meta.get("record_id", "record"))
        common = dict(record_id=record_id, file=record.meta.get("source"), model=spec.architecture, kind=spec.kind,
                      input=spec.input, classes=list(spec.classes), thresholds=spec.decision_thresholds(),
                      n_windows=len(inputs.x), padded=inputs.padded, notes=inputs.notes,
                      tuned_thresholds=spec.thresholds is not None)
        if spec.input == "record":
            summary = aggregate(probs, spec.aggregate)
            return Prediction(probabilities=summary, decisions=self.decide(summary[None])[0], **common)
        if len(probs) == 0:
            zeros = np.zeros(len(spec.classes), np.float32)
            return Prediction(probabilities=zeros, decisions=zeros.astype(bool), beats=[], **common)
        calls = self.decide(probs)
        beats = []
        for peak, p, call in zip(inputs.peaks, probs, calls):
            ranked = [i for i in np.argsort(-p) if call[i]]
            label = spec.classes[ranked[0]] if ranked else "none"
            beats.append(BeatCall(int(peak), float(peak) / record.fs, label, float(p[ranked[0]] if ranked else p.max())))
        return Prediction(probabilities=aggregate(probs, spec.aggregate), decisions=calls.any(axis=0), beats=beats, **common)

    def predict_proba(self, x: np.ndarray, meta: np.ndarray | None = None) -> np.ndarray:
        """Class probabilities (N, C) of model inputs (N, L, T): softmax (multiclass) or sigmoid (multilabel)."""
        if len(x) == 0:
            return np.zeros((0, len(self.spec.classes)), np.float32)
        logits = np.concatenate([
            self._forward(x[i:i + BATCH], None if meta is None else meta[i:i + BATCH]) for i in range(0, len(x), BATCH)
        ]).astype(np.float64)
        if self.spec.kind == "multiclass":
            z = np.exp(logits - logits.max(axis=1, keepdims=True))
            return (z / z.sum(axis=1, keepdims=True)).astype(np.float32)
        return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)

    def shared_with_alike_beats(self, probs: np.ndarray, inputs: ModelInput) -> np.ndarray:
        """A beat model's ``probs`` with V shared among the record's alike beats where its bundle says so
        (:mod:`ecglab.inputs.alike`), the beats whose call this changes noted."""
        rule, spec = self.spec.alike_beats, self.spec
        # no rule (a bundle carries one only where it applies: checked when built and loaded), or no beat to share with
        if rule is None or len(probs) < 2:
            return probs
        shared = share_with_alike_beats(probs, inputs.x, spec.beats, len(spec.leads), spec.classes.index("V"), rule)
        changed = int((self.decide(shared) != self.decide(probs)).any(axis=1).sum())
        inputs.notes.append(f"V probability shared among beats of alike QRS shape (up to {rule.neighbours} per beat): "
                            f"{changed} beats' calls changed.")
        return shared

    def decide(self, probs: np.ndarray) -> np.ndarray:
        """Decisions (N, C): probability at or above the class threshold. A multiclass bundle without
        tuned thresholds picks the most probable class."""
        if self.spec.kind == "multiclass" and self.spec.thresholds is None:
            return np.eye(len(self.spec.classes), dtype=bool)[probs.argmax(axis=1)]
        return probs >= np.asarray(self.spec.decision_thresholds(), dtype=np.float32)[None, :]

    # -- from a record to model inputs -------------------------------------------------------------

    def model_input(self, record: Record) -> ModelInput:
        """Select leads (equivalent leads standing in), check the values, preprocess, then window
        (record models) or cut beats."""
        if not MIN_FS <= record.fs <= MAX_FS:
            raise RecordFormatError(f"{record.name}: a sampling rate of {record.fs:g} Hz is "
                                    f"outside the range of ECG recorders ({MIN_FS:g} Hz to {MAX_FS:g} Hz).")
        try:
            sources = record.lead_sources(self.spec.leads, equivalents=True)
        except RecordFormatError as error:
            others = shipped_readers(record, self.spec)
            if not others:
                raise
            raise RecordFormatError(f"{error} Shipped models of the same classes that read its leads: "
                                    f"{', '.join(others)}.") from None
        original, record = record, record.select_leads(self.spec.leads, equivalents=True).check_finite()
        _check_millivolts(record)
        if self.spec.input == "beat":
            detection = original.voting_leads(next(iter(sources.values())))
            inputs = self._beat_input(record, lead_names(sources), detection)
        else:
            inputs = self._record_input(record)
        inputs.notes[:0] = lead_notes(sources)
        return inputs

    def _record_input(self, record: Record) -> ModelInput:
        spec = self.spec
        steps = spec.preprocessing
        if steps.fs and not np.isclose(steps.fs, spec.fs):
            raise BundleError(f"inconsistent bundle: the model runs at {spec.fs:g} Hz but its preprocessing "
                              f"resamples to {steps.fs:g} Hz.")
        signal = preprocess(record.signal, record.fs, steps.model_copy(update={"fs": spec.fs}))
        length = spec.input_length
        stride = spec.window_stride or length
        notes = []
        if signal.shape[1] < length / 2:
            raise RecordFormatError(f"{record.name}: {signal.shape[1] / spec.fs:.2f} s of signal is too short for this model, "
                                    f"which reads {length / spec.fs:.2f} s at a time (at least half of that is needed).")
        padded = signal.shape[1] < length
        if padded:
            notes.append(f"the record is {signal.shape[1] / spec.fs:.2f} s long, shorter than the model input "
                         f"({length / spec.fs:.2f} s): zero-padded at the end.")
        windows = sliding_windows(signal, length, stride)
        starts = window_starts(max(signal.shape[1], length), length, stride)
        meta = meta_input({**record.meta, **self._measured(signal, notes)}, spec.meta_features, len(windows))
        return ModelInput(windows, meta, spec.fs, starts, signal.shape[1], padded, notes=notes)

    def _measured(self, signal: np.ndarray, notes: list[str]) -> dict:
        """The measured meta features of a preprocessed record, as training measured them (its rows' length)."""
        spec, measured = self.spec, self.spec.measured
        if measured is None:
            return {}
        values, unmeasured = measured_features(signal, spec.fs, spec.leads, measured.names, spec.preprocessing,
                                               measured.samples)
        notes += [f"{name} could not be measured ({why}): the model reads its training mean instead."
                  for name, why in unmeasured.items()]
        if measured.delineator != delineator_id():
            notes.append(f"{', '.join(measured.names)} were measured in training by another delineator than the "
                         "shipped one that measures them now: expect small differences.")
        return values

    def _beat_input(self, record: Record, names: list[str], detection: np.ndarray) -> ModelInput:
        spec = self.spec
        beat_spec = spec.beats
        if beat_spec is None:
            raise BundleError("inconsistent bundle: input is 'beat' but it has no 'beats' extraction spec.")
        notes = []
        if record.annotations is not None:
            peaks, _ = annotated_beats(record.annotations.samples, record.annotations.symbols)
            notes.append(f"R peaks from the record's beat annotations ({len(peaks)} beats).")
        else:
            peaks = detect_r_peaks(detection, record.fs)
            notes.append(f"R peaks detected on lead {names[0]}" + (f", {len(detection)} leads voting" if len(detection) > 1
                                                                    else "") + f" ({len(peaks)} beats).")
        notes += quiet_stretch_notes(record, names, detected=record.annotations is None)
        beats = beat_input(record.signal, record.fs, peaks, beat_spec, spec.preprocessing)
        if len(beats.kept) < len(peaks):
            notes.append(f"{len(peaks) - len(beats.kept)} beats could not be cut (too close to an edge or "
                         "without an R-R interval in their window) and are not classified.")
        notes += gate_notes(spec, beats.features)
        meta = meta_input(record.meta, spec.meta_features, len(beats.kept), per_beat=beats.features)
        kept_peaks = peaks[beats.kept]
        starts = beats.centres
        if beat_spec.method == "centred":
            starts = starts - int(round(beat_spec.before_s * beat_spec.fs))
        n_samples = int(round(record.n_samples * beat_spec.fs / record.fs))
        return ModelInput(beats.beats, meta, beat_spec.fs, starts, n_samples, peaks=kept_peaks, notes=notes)


def _torch_forward(model):
    import torch

    def forward(x: np.ndarray, meta: np.ndarray | None) -> np.ndarray:
        with torch.inference_mode():
            out = model(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)),
                        None if meta is None else torch.from_numpy(np.ascontiguousarray(meta, dtype=np.float32)))
        return out.numpy()

    return forward


def _onnx_model(bundle_dir: Path, spec: BundleSpec, threads: int | None = None):
    """The bundle's ``model.onnx`` (written by ``ecglab export``), or else a fresh export that lives
    only as long as it takes ONNX Runtime to load it."""
    from ecglab.inference.onnx import OnnxModel

    path = bundle_dir / ONNX_FILE
    if path.exists():
        return OnnxModel(path, threads=threads)
    import tempfile

    from ecglab.inference.onnx import export_onnx

    model, _ = load_bundle(bundle_dir)
    with tempfile.TemporaryDirectory(prefix="ecglab-onnx-") as tmp:
        exported = export_onnx(model, Path(tmp) / ONNX_FILE, spec.channels, spec.input_length,
                               n_meta=len(spec.meta_features))
        return OnnxModel(exported, threads=threads)
