"""dedup: find copies of the same news story across outlets, group them, and name the earliest.

>>> import dedup
>>> clusters = dedup.cluster([dedup.Article(id="a", text="..."), ...])  # doctest: +SKIP
"""

import logging

from dedup._collector import short_gc_pauses
from dedup.api import cluster, signatures
from dedup.config import (
    BoilerplateConfig,
    ClusterConfig,
    DedupConfig,
    FormulaConfig,
    MinHashConfig,
    NormalizeConfig,
    PassageConfig,
    ProvenanceConfig,
    ShingleConfig,
    VerifyConfig,
    Window,
)
from dedup.errors import (
    ArticleTooLargeError,
    CapacityError,
    ClosedError,
    ConfigError,
    ConfigTypeError,
    DedupError,
    DuplicateIdError,
    EmptyTextError,
    IndexLostError,
    InputError,
    InvalidRecordError,
    KernelInputError,
    LeftWindowError,
    MissingExtraError,
    StoreCorruptError,
    StoreError,
    StoreFormatError,
    StoreFullError,
    StoreLockedError,
    TextTypeError,
    UnknownArticleError,
)
from dedup.fronts.frames import to_arrow, to_pandas
from dedup.records import (
    Article,
    Cluster,
    Evidence,
    Match,
    Member,
    MemberSpan,
    Relation,
    SharedPassage,
    Skip,
    Verdict,
)
from dedup.runners.stream import Deduplicator
from dedup.stages.normalize import fold

logging.getLogger(__name__).addHandler(logging.NullHandler())  # silent unless the application configures logging

__version__ = "0.1.0"  # the one place the version is written: pyproject.toml reads it from here

__all__ = [
    "Article",
    "ArticleTooLargeError",
    "BoilerplateConfig",
    "CapacityError",
    "ClosedError",
    "Cluster",
    "ClusterConfig",
    "ConfigError",
    "ConfigTypeError",
    "DedupConfig",
    "DedupError",
    "Deduplicator",
    "DuplicateIdError",
    "EmptyTextError",
    "Evidence",
    "FormulaConfig",
    "IndexLostError",
    "InputError",
    "InvalidRecordError",
    "KernelInputError",
    "LeftWindowError",
    "Match",
    "Member",
    "MemberSpan",
    "MinHashConfig",
    "MissingExtraError",
    "NormalizeConfig",
    "PassageConfig",
    "ProvenanceConfig",
    "Relation",
    "SharedPassage",
    "ShingleConfig",
    "Skip",
    "StoreCorruptError",
    "StoreError",
    "StoreFormatError",
    "StoreFullError",
    "StoreLockedError",
    "TextTypeError",
    "UnknownArticleError",
    "Verdict",
    "VerifyConfig",
    "Window",
    "__version__",
    "cluster",
    "fold",
    "short_gc_pauses",
    "signatures",
    "to_arrow",
    "to_pandas",
]
