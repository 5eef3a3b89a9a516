"""ecglab: automated ECG classification, from raw files to a served model."""

__version__ = "0.1.0"


def __getattr__(name: str):
    # lazy public face: ``import ecglab`` stays light (no torch) until a verb is used
    if name == "measure":
        import importlib

        return importlib.import_module("ecglab.measure")  # a callable package: ecglab.measure(record)
    raise AttributeError(f"module 'ecglab' has no attribute {name!r}")
