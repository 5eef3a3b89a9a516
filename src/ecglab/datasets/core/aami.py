"""AAMI EC57 beat classes from MIT-BIH annotation symbols, as grouped by de Chazal et al. 2004.

N (normal and bundle branch block beats), S (supraventricular ectopic), V (ventricular ectopic),
F (fusion of ventricular and normal), Q (paced, fusion of paced and normal, unclassifiable).
"""

from __future__ import annotations

from collections import Counter

AAMI_CLASSES = ["N", "S", "V", "F", "Q"]

AAMI_SYMBOLS = {
    "N": "NLRej",
    "S": "AaJS",
    "V": "VE",
    "F": "F",
    "Q": "/fQ",
}

SYMBOL_TO_CLASS = {symbol: cls for cls, symbols in AAMI_SYMBOLS.items() for symbol in symbols}


def aami_class(symbol: str) -> str | None:
    """The AAMI class of an annotation symbol, or None for non-beat and unmapped annotations."""
    return SYMBOL_TO_CLASS.get(symbol)


def aami_counts(symbols) -> dict[str, int]:
    """Beats per AAMI class (every class present, zero if absent); other symbols are ignored."""
    counts = Counter(aami_class(s) for s in symbols)
    return {cls: counts.get(cls, 0) for cls in AAMI_CLASSES}
