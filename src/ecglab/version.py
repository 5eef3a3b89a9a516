"""The package version, in a module of its own so that the core can stamp files with it without
importing the public face (``ecglab/__init__.py``), which sits above the core."""

__version__ = "0.1.0"
