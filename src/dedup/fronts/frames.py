"""Data frames in and out: the rows of a pandas DataFrame, a pyarrow Table, a Hugging Face
``datasets.Dataset`` or an iterable of dicts as articles, and clusters as a table again.

Each row becomes an :class:`~dedup.records.Article` through the validation of a JSON Lines record
(``dedup.fronts.io.article_from_dict``); a row that cannot be one raises, or is skipped with its row
number (0-based, its position in the input: ``df.iloc[row]``, ``table.slice(row, 1)``,
``rows[row]``). pandas, pyarrow and datasets are imported only when the input is one of theirs
(recognized by the module of its type), so none of them is needed for anything else.

>>> import pandas as pd, dedup  # doctest: +SKIP
>>> df = pd.DataFrame({"doc": ["a", "b"], "body": ["...", "..."]})  # doctest: +SKIP
>>> clusters = dedup.cluster(df, id_col="doc", text_col="body")  # doctest: +SKIP
>>> dedup.to_pandas(clusters)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from itertools import chain, islice
from typing import Any

from dedup.errors import DedupError, InputError, InvalidRecordError, MissingExtraError
from dedup.fronts.io import article_from_dict
from dedup.records import Article, Cluster, Skip

_BATCH = 1024  # rows converted at a time from an Arrow table or a Dataset

# (module, type name) of each table type read, found among the classes of the input's type
_PANDAS, _ARROW, _DATASETS = ("pandas", "DataFrame"), ("pyarrow", "Table"), ("datasets", "Dataset")
_EXTRA = {"pandas": "pandas", "pyarrow": "arrow", "datasets": "datasets"}
_OPTIONAL = ("published_at", "source", "url", "title")


@dataclass(frozen=True, slots=True)
class Columns:
    """Which column holds each field of an article. ``id`` and ``text`` must exist; the others are
    read when present (a name given explicitly must exist)."""

    id: str = "id"
    text: str = "text"
    published_at: str | None = None
    source: str | None = None
    url: str | None = None
    title: str | None = None

    def __post_init__(self) -> None:
        for name in ("id", "text", *_OPTIONAL):
            column = getattr(self, name)
            if column is None and name not in ("id", "text"):
                continue
            if not isinstance(column, str) or not column:
                argument = "published_col" if name == "published_at" else f"{name}_col"
                raise InputError(f"{argument} must be a column name (a non-empty str), got {column!r}")

    def named(self) -> dict[str, str]:
        """field -> column of the fields named explicitly (``id`` and ``text`` always)."""
        out = {"id": self.id, "text": self.text}
        for name in _OPTIONAL:
            column = getattr(self, name)
            if column is not None:
                out[name] = column
        return out

    def chosen(self, present: Iterable[str]) -> dict[str, str]:
        """field -> column for a table whose columns are ``present``: the named ones (an error
        listing the columns there are when one is missing) and the optional fields found under
        their own names."""
        have = list(present)
        named = self.named()
        missing = [column for column in named.values() if column not in have]
        if missing:
            argument = {v: "published_col" if k == "published_at" else f"{k}_col" for k, v in named.items()}
            wanted = ", ".join(f"{m!r} ({argument[m]})" for m in missing)
            shown = ", ".join(repr(h) for h in have[:40]) + (" ..." if len(have) > 40 else "")
            raise InputError(
                f"the table has no column {wanted}; its columns are {shown or '(none)'}; name the ones to "
                f"read with {', '.join(argument[m] + '=...' for m in missing)}"
            )
        chosen = {**{f: f for f in _OPTIONAL if f in have}, **named}
        twice = sorted({column for column in chosen.values() if have.count(column) > 1})
        if twice:
            raise InputError(
                f"the table has more than one column named {', '.join(map(repr, twice))}; rename or drop all "
                "but the one to read"
            )
        return chosen

    def every(self) -> dict[str, str]:
        """field -> column of every field: the named ones, and the others under their own names."""
        return {**{f: f for f in _OPTIONAL}, **self.named()}


def _plain(value: Any) -> Any:
    """A table cell as a plain Python value: a missing value (None, NaN, NaT, pd.NA) is None, a
    numpy scalar its Python value, a pandas Timestamp a datetime."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    kind = type(value)
    if kind.__name__ in ("NaTType", "NAType"):
        return None
    module = kind.__module__.split(".")[0]
    if module == "numpy" and hasattr(value, "item"):
        return _plain(value.item())
    if module == "pandas" and hasattr(value, "to_pydatetime"):
        moment: datetime = value.to_pydatetime(warn=False)  # nanoseconds beyond a datetime's are dropped
        return moment
    return value


def _article(row: int, fields: Mapping[str, Any], names: Mapping[str, str]) -> Article:
    """The article of one row (``fields`` by article field), or an ``InputError`` that names the
    row; ``names`` gives the column of each field, for the message."""
    where = f"row {row}"
    plain = {name: _plain(value) for name, value in fields.items()}
    for name in ("id", "text"):
        if plain.get(name) is None:
            given = "is empty (None or NaN)" if name in fields else "is missing"
            raise InvalidRecordError(
                f"{where}: the {name} column {names[name]!r} {given}; every row needs an id and a text "
                f"(name their columns with id_col= and text_col=)"
            )
    ident = plain["id"]
    if isinstance(ident, float) and ident.is_integer():  # an integer column pandas made float for its NaNs
        plain["id"] = int(ident)
    published = plain.get("published_at")
    if isinstance(published, date) and not isinstance(published, datetime):  # a date column: its midnight
        plain["published_at"] = datetime(published.year, published.month, published.day)
    return article_from_dict({k: v for k, v in plain.items() if v is not None}, where=where)


_Rows = Iterator[tuple[int, Mapping[str, Any] | DedupError]]


def _rows_of_dicts(records: Iterable[Any], names: Mapping[str, str]) -> _Rows:
    """Each record of an iterable of dicts by article field, or the error that it is not a dict."""
    for row, record in enumerate(records):
        if not isinstance(record, Mapping):
            yield row, InvalidRecordError(f"row {row}: expected a dict of columns, got {type(record).__name__}")
            continue
        yield row, {field: record[column] for field, column in names.items() if column in record}


def _table_type(data: object) -> tuple[str, str] | None:
    """(module, type) of the table type ``data`` is an instance of, looked up by module name and
    confirmed by an import of that module (already imported, since ``data`` exists)."""
    for kind in type(data).__mro__:
        root = kind.__module__.split(".")[0]
        for known in (_PANDAS, _ARROW, _DATASETS):
            if (root, kind.__name__) == known:
                module = importlib.import_module(root)
                if isinstance(data, getattr(module, kind.__name__)):
                    return known
    return None


def _pandas_rows(df: Any, names: Mapping[str, str]) -> _Rows:
    labels = {str(c): c for c in df.columns}  # a column labelled 3 is named "3"
    fields = list(names)
    view = df[[labels[names[f]] for f in fields]]
    for row, values in enumerate(view.itertuples(index=False, name=None)):
        yield row, dict(zip(fields, values, strict=True))


def _arrow_rows(table: Any, names: Mapping[str, str]) -> _Rows:
    fields = list(names)
    row = 0
    for batch in table.select([names[f] for f in fields]).to_batches(max_chunksize=_BATCH):
        for values in zip(*(batch.column(i).to_pylist() for i in range(len(fields))), strict=True):
            yield row, dict(zip(fields, values, strict=True))
            row += 1


def _dataset_rows(dataset: Any, names: Mapping[str, str]) -> _Rows:
    fields = list(names)
    columns = [names[f] for f in fields]
    # plain Python values whatever format the dataset was set to (numpy, pandas, torch, ...)
    view = dataset.select_columns(columns).with_format(None)
    row = 0
    for batch in view.iter(batch_size=_BATCH):
        for values in zip(*(batch[c] for c in columns), strict=True):
            yield row, dict(zip(fields, values, strict=True))
            row += 1


def is_table(data: object) -> bool:
    """Whether ``data`` is a pandas DataFrame, a pyarrow Table or a ``datasets.Dataset``."""
    return _table_type(data) is not None


def articles_from_rows(
    data: Any,
    *,
    columns: Columns,
    on_error: Callable[[DedupError, Skip], None],
    rows_of: dict[str, list[int]] | None = None,
) -> Iterator[Article]:
    """The articles of a table (a DataFrame, an Arrow Table, a Dataset) or of an iterable of dicts,
    in row order. A table without the named columns raises an ``InputError`` at once. A row that
    is not an article is handed to ``on_error`` with its ``Skip`` (which raises the error, or
    records the skip). ``rows_of`` (when given) collects the rows of each article id handed on,
    for naming the row of a skip found later."""
    kind, table = _table_type(data), data
    rows: _Rows
    if kind == _PANDAS:
        rows = _pandas_rows(table, columns.chosen(str(c) for c in table.columns))
    elif kind == _ARROW:
        rows = _arrow_rows(table, columns.chosen(table.column_names))
    elif kind == _DATASETS:
        rows = _dataset_rows(table, columns.chosen(table.column_names))
    else:
        rows = _rows_of_dicts(data, columns.every())
    return _articles(rows, columns.every(), on_error, rows_of)


def _articles(
    rows: _Rows,
    names: Mapping[str, str],
    on_error: Callable[[DedupError, Skip], None],
    rows_of: dict[str, list[int]] | None,
) -> Iterator[Article]:
    for row, record in rows:
        try:
            if isinstance(record, DedupError):
                raise record
            article = _article(row, record, names)
        except DedupError as exc:
            rid = _plain(record.get("id")) if isinstance(record, Mapping) else None
            shown = str(rid) if isinstance(rid, str | int) and not isinstance(rid, bool) else None
            where = f"row {row}: "
            if not str(exc).startswith(where):  # Article's own checks name the article, not the row
                named = type(exc)(where + str(exc))
                named.__cause__ = exc
                exc = named
            on_error(exc, Skip(id=shown, error=type(exc).__name__, message=str(exc), row=row))
            continue
        if rows_of is not None:
            rows_of.setdefault(article.id, []).append(row)
        yield article


def split_first(data: Iterable[Any]) -> tuple[Any, Iterable[Any]]:
    """The first item of ``data`` (None when empty) and ``data`` with it still at the front."""
    source = iter(data)
    first = list(islice(source, 1))
    if not first:
        return None, ()
    return first[0], chain(first, source)


# -- out -----------------------------------------------------------------------------------------

OUT_COLUMNS = (
    "cluster",
    "size",
    "earliest",
    "id",
    "relation",
    "matched",
    "score",
    "containment_in_earliest",
    "earliest_in_member",
    "time",
    "source",
    "url",
    "title",
)


def _extra(module: str, what: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(f"{what} needs {module}: pip install 'news-dedup[{_EXTRA[module]}]' ({exc})") from exc


def _columns(clusters: Iterable[Cluster]) -> dict[str, list[Any]]:
    """``OUT_COLUMNS`` as lists, one entry per (cluster, member); ``time`` as aware UTC datetimes."""
    out: dict[str, list[Any]] = {name: [] for name in OUT_COLUMNS}
    for c in clusters:
        if not isinstance(c, Cluster):
            raise InputError(f"expected Cluster records (from dedup.cluster), got {type(c).__name__}")
        for m in c.members:
            out["cluster"].append(c.id)
            out["size"].append(len(c))
            out["earliest"].append(c.earliest)
            out["id"].append(m.id)
            out["relation"].append(str(m.relation))
            out["matched"].append(m.matched)
            out["score"].append(m.score)
            out["containment_in_earliest"].append(m.containment_in_earliest)
            out["earliest_in_member"].append(m.earliest_in_member)
            out["time"].append(None if m.time is None else datetime.fromisoformat(m.time))
            out["source"].append(m.source)
            out["url"].append(m.url)
            out["title"].append(m.title)
    return out


def to_arrow(clusters: Iterable[Cluster]) -> Any:
    """The clusters as a ``pyarrow.Table``, one row per (cluster, member): ``cluster``, ``size``,
    ``earliest`` (the cluster's earliest article), then the member's ``id``, ``relation``,
    ``matched``, ``score``, ``containment_in_earliest``, ``earliest_in_member``, ``time`` (a UTC
    timestamp), ``source``, ``url`` and ``title``. Needs the arrow extra."""
    pa = _extra("pyarrow", "to_arrow")
    columns = _columns(clusters)
    text, share = pa.string(), pa.float64()
    schema = pa.schema(
        [
            ("cluster", text),
            ("size", pa.int64()),
            ("earliest", text),
            ("id", text),
            ("relation", text),
            ("matched", text),
            ("score", share),
            ("containment_in_earliest", share),
            ("earliest_in_member", share),
            ("time", pa.timestamp("us", tz="UTC")),  # microseconds: every year from 1 to 9999
            ("source", text),
            ("url", text),
            ("title", text),
        ]
    )
    return pa.table(columns, schema=schema)


def to_pandas(clusters: Iterable[Cluster]) -> Any:
    """The clusters as a ``pandas.DataFrame``, one row per (cluster, member), with the columns of
    ``to_arrow``; ``time`` is ``datetime64[us, UTC]`` (every year from 1 to 9999 fits), the
    figures ``float64`` with NaN where a member has none. Needs the pandas extra."""
    pd = _extra("pandas", "to_pandas")
    columns = _columns(clusters)
    frame = pd.DataFrame({name: pd.Series(values, dtype=object) for name, values in columns.items()})
    frame["size"] = frame["size"].astype("int64")
    for name in ("score", "containment_in_earliest", "earliest_in_member"):
        frame[name] = frame[name].astype("float64")
    frame["time"] = pd.array(columns["time"], dtype=pd.DatetimeTZDtype(unit="us", tz="UTC"))
    return frame
