"""ECG measurements: waves from a delineation model → intervals and axes (HR, PR, QRS, QT/QTc, axis).

    >>> import ecglab
    >>> from ecglab.records import read_record
    >>> result = ecglab.measure(read_record("ludb/data/1.hea"))   # or ecglab.measure.measure(record)
    >>> result.measurements["qrs_ms"], result.reasons.get("pr_ms")

The package itself is callable (``ecglab.measure(record)``): the public verb and the package share a
name, and whichever Python finds first (``ecglab.measure`` the attribute or the submodule) must be
the verb. Importing it loads numpy only; torch comes with the first delineation.
"""

from __future__ import annotations

import sys
import types


def measure(record, bundle=None):
    """Delineate ``record`` (a :class:`~ecglab.records.Record`) and measure it.

    Parameters
    ----------
    record : Record
        Any number of leads, any rate; each lead is delineated on its own.
    bundle : path or name, optional
        A delineation bundle; default the shipped ``ludb-delineator``.

    Returns
    -------
    MeasureResult
        ``waves`` (samples of the record's own rate), ``measurements`` (None where absent), ``reasons``,
        ``beat_counts``; ``to_dict()`` gives the JSON of ``ecglab measure --json``.
    """
    from ecglab.measure.api import measure as run

    return run(record, bundle)


class _CallableModule(types.ModuleType):
    def __call__(self, record, bundle=None):
        return measure(record, bundle)


sys.modules[__name__].__class__ = _CallableModule
