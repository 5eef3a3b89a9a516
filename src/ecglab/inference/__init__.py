"""Inference: a trained model as a bundle (safetensors weights + one JSON spec) and what applies it.

:mod:`~ecglab.inference.bundle` saves and loads bundles (never unpickling),
:class:`~ecglab.inference.predictor.Predictor` turns a Record into per-class probabilities with the
bundle's own preprocessing, :mod:`~ecglab.inference.onnx` exports to ONNX, and
:mod:`~ecglab.inference.explain` attributes a prediction to the signal. No Lightning here: the
command line's ``predict``, the REST API and the web page all stand on this package.
"""
