"""Training: a run configuration in, a run directory and a bundle out (``ecglab.train``).

:mod:`~ecglab.training.config` validates the YAML, :mod:`~ecglab.training.data` feeds prepared
arrays to the model (crops, windows, balanced sampling), :mod:`~ecglab.training.module` is the
LightningModule, :mod:`~ecglab.training.fit` runs it and :mod:`~ecglab.training.evaluate` scores
the result and exports the bundle. Lightning is imported only here, and only when training runs;
predicting and serving never import this package.
"""
