"""Datasets: every source becomes a PreparedDataset (memory-mapped signals, labels, metadata).

``core/`` is the machinery all sources share: the builder registry and its context
(:mod:`~ecglab.datasets.core.registry`), option parsing, record selection and splits by patient,
AAMI labels, the reading workers, the streaming writer, the on-disk
:class:`~ecglab.datasets.core.prepared.PreparedDataset` and the cache fingerprint. Beside it, one
module per source (``ptbxl``, ``mitbih``, ``ptbdb``, ``cinc``, ``mimic``, ``kaggle``, ``folder``,
``synthetic/``), each registering one builder whose signature and docstring are its
``ecglab prepare NAME`` options. Nothing is imported here: a source module loads when its dataset
is asked for (``ecglab.prepare(name, …)``).
"""
