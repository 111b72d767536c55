"""The one error tree of dedup.

Every error the library raises on purpose derives from :class:`DedupError`, and where it refines a
builtin it inherits that builtin too, so ``except ValueError`` keeps working for callers who do not
know dedup::

    DedupError
    ├── ConfigError (ValueError)           a setting is out of range or inconsistent
    │   └── ConfigTypeError (TypeError)    a setting of the wrong type (a str or bool for a number, ...)
    ├── InputError (ValueError)            an article cannot be used as given
    │   ├── EmptyTextError                 no text left (empty, whitespace or only furniture)
    │   ├── TextTypeError (TypeError)      text is not a str (or undecodable bytes)
    │   ├── ArticleTooLargeError           text longer than ``DedupConfig.max_chars``
    │   ├── DuplicateIdError               the id is already indexed with another text
    │   │   └── LeftWindowError            indexed with this text, and has left the stream's window
    │   └── InvalidRecordError             a JSON line or file that is not an article
    ├── UnknownArticleError (KeyError)     an id that is not indexed
    ├── StoreError                         a persistent index that cannot be used
    │   ├── StoreFormatError               a file of another (newer, older, foreign or corrupt) format
    │   │   └── StoreCorruptError          an index file whose content is damaged
    │   ├── StoreLockedError               an index file another process has open for writing
    │   ├── StoreFullError                 the disk (or the file's size limit) is full
    │   ├── IndexLostError                 a shared (Redis) index was reset or lost its latest writes
    │   └── ClosedError                    a Deduplicator used after close() (or its with block)
    ├── CapacityError (MemoryError)        an in-memory index would outgrow its fixed-width counters
    ├── KernelInputError (ValueError)      arrays given to a compiled kernel that do not fit together
    └── MissingExtraError (ImportError)    an optional extra is not installed

Messages say what was wrong and how to fix it.
"""

from __future__ import annotations


class DedupError(Exception):
    """Base class of every error raised by dedup."""


class ConfigError(DedupError, ValueError):
    """A configuration value is out of range or inconsistent with another."""


class ConfigTypeError(ConfigError, TypeError):
    """A configuration value is of the wrong type: a str, a bool or a float where an integer goes,
    a bare str where a sequence of strings goes."""


class InputError(DedupError, ValueError):
    """An article cannot be used as given."""


class EmptyTextError(InputError):
    """The article has no text left to compare."""


class TextTypeError(InputError, TypeError):
    """The article text is not a string (or is bytes that do not decode)."""


class ArticleTooLargeError(InputError):
    """The article is longer than the configured limit."""


class DuplicateIdError(InputError):
    """The article id is already indexed with a different text."""


class LeftWindowError(DuplicateIdError):
    """The article was indexed with this same text and has left the stream's window: it was
    answered when it was first added and is not compared again (the index keeps it)."""


class InvalidRecordError(InputError):
    """A record read from a file is not a usable article."""


class UnknownArticleError(DedupError, KeyError):
    """The article id is not in the index."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class StoreError(DedupError):
    """A persistent index cannot be opened or written."""


class StoreFormatError(StoreError):
    """The file is not a dedup index of a format this version reads."""


class StoreCorruptError(StoreFormatError):
    """The index file is damaged: it fails SQLite's check or a row fails its checksum."""


class StoreLockedError(StoreError):
    """Another process has the index file open for writing."""


class StoreFullError(StoreError):
    """The disk holding the index is full; the article that did not fit was not added."""


class IndexLostError(StoreError):
    """The shared index changed under this worker: Redis restarted empty, was flushed, or lost writes
    this worker had already seen; articles acknowledged before may be gone."""


class ClosedError(StoreError):
    """The deduplicator was closed (``close()``, or the end of its ``with`` block) and is used again."""


class CapacityError(DedupError, MemoryError):
    """An in-memory index would hold more entries than its fixed-width counters can number."""


class KernelInputError(DedupError, ValueError):
    """A compiled kernel was given arrays that do not fit together, so writing its output would
    go out of bounds: a bug in the caller, or a stored index whose arrays are corrupt."""


class MissingExtraError(DedupError, ImportError):
    """An optional dependency is missing; the message names the install command."""
