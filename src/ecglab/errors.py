"""User-facing errors.

Anything a user can cause (a missing file, a bad config, a leaking split) raises an
``EcglabError`` subclass whose message says what was expected and what was found.
The CLI prints such messages as one paragraph and exits non-zero, without a traceback.
"""


class EcglabError(Exception):
    """A problem with the user's input, explained in the message."""


class RecordFormatError(EcglabError):
    """A file could not be read as an ECG record."""


class DatasetError(EcglabError):
    """A prepared dataset is missing, malformed or inconsistent."""


class LeakageError(DatasetError):
    """A patient appears in more than one split."""


class ConfigError(EcglabError):
    """A configuration file or override is invalid."""


class BundleError(EcglabError):
    """A model bundle is missing, malformed or incompatible with the input."""


class Interrupted(EcglabError):
    """A long run was interrupted (Ctrl-C); the message says how to continue it."""


class InputTooLargeError(RecordFormatError):
    """An input declares or would decode to more than the configured limits (leads × samples,
    archive members, JSON depth or size); raised before anything of that size is allocated."""


class EcglabNote(UserWarning):
    """Something the user should know about an input that was still used (channels left out, …);
    the CLI prints it as one ``note:`` line."""
