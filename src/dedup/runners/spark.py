"""The batch on Apache Spark: ``dedup.runners.spark.cluster(df)`` gives what ``dedup.cluster`` gives.

Not an approximation written again: every decision is taken on the executors by the stages' own
code (``prepare.prepare_many``, ``boilerplate.judge``, ``pairs.Comparisons`` over
``verify.compare``, ``clusters.assemble`` over ``grouping.groups_of`` and
``provenance.build_cluster``), and Spark only moves data between them. Where Spark executes a rule
its own way (the band joins of the candidates, the windows of boilerplate learning, the
components), the tests check it against the stage's reference. The steps, in the order of the
library's batch (articles in id order, boilerplate learned from all):

1. bad rows (no id, an id given twice: ``split_ids``) go to the errors output; the rest are
   prepared on the executors (``mapInPandas``): sentence fingerprints, the LSH band keys of the
   document and of each passage; unusable texts go to the errors output too;
2. boilerplate: the document frequency of every sentence fingerprint (a group-by), and for the
   frequent ones the library's judge over the first ``sample`` articles in id order;
3. candidates: an equi-join on band keys, each article against the articles with smaller ids
   (those it would find in the library's index): every document-band hit, plus the passage hits
   of as many evidence passages as ``index.passages_needed`` asks, best ``max_candidates`` first;
4. verification of each candidate pair by ``verify.compare`` on the executors;
5. connected components of the verified pairs with the large-star/small-star iteration (Kiveris
   et al., 2014) in DataFrame operations: no pair is collected on the driver;
6. each component's groups (the chaining guard) and earliest source, on one executor.

Only the set of learned boilerplate sentences (small: furniture) and the formula counts (tables of
fixed size, ``dedup.stages.formula``) are collected and broadcast. The counts take two passes: each
partition counts its articles' (outlet, shingle) keys and sends the counters it touched, which the
driver sums; then, with the sum broadcast, each partition sends the pooled counts its articles add
(``FormulaCounts.pooled_share``: each of an article's shingles its outlet carries twice or more),
which the driver sums into the pooled table.

Needs the ``[spark]`` extra (``pip install 'news-dedup[spark]'``) and a Java runtime.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from dedup.config import DedupConfig
from dedup.errors import DedupError, EmptyTextError, MissingExtraError
from dedup.records import Article
from dedup.stages import formula as formulas
from dedup.stages.boilerplate import judge
from dedup.stages.clusters import assemble
from dedup.stages.formula import FormulaCounts
from dedup.stages.index import band_keys
from dedup.stages.pairs import Comparisons
from dedup.stages.prepare import Prepared, prepare_many
from dedup.stages.shingle import sentence_keys
from dedup.stores.sqlite import config_from_json, config_to_json

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession

INPUT_COLUMNS = ("id", "text", "published_at", "source", "url", "title")
OUTPUT_SCHEMA = (
    "id string, cluster string, earliest string, relation string, matched string, score double, "
    "containment_in_earliest double, earliest_in_member double, time string, size int, "
    "earliest_rule string, why string"
)
ERROR_SCHEMA = "id string, error string, message string"
_PREPARED_SCHEMA = (
    "id string, text string, published_at string, source string, url string, title string, "
    "fps array<long>, sentence_keys array<long>, doc_keys array<long>, passage_fps array<long>, "
    "passage_keys array<long>, formula_keys array<long>, error string, message string"
)


@dataclass(frozen=True)
class SparkResult:
    """The job's two outputs: one row per article (``OUTPUT_SCHEMA``) and one per bad row. Both
    read intermediate results the job caches (the prepared articles, the verified pairs); call
    ``release()`` once the outputs are written to give that memory back to the session."""

    clusters: DataFrame
    errors: DataFrame
    cached: tuple[DataFrame, ...] = ()

    def release(self) -> None:
        """Drop the job's cached intermediate results (the outputs are recomputed if read again)."""
        for frame in self.cached:
            frame.unpersist()


def _require_spark() -> Any:
    try:
        import pyspark
    except ImportError as exc:
        raise MissingExtraError(
            "dedup.runners.spark needs pyspark, pyarrow and pandas: pip install 'news-dedup[spark]' (and a Java runtime)"
        ) from exc
    return pyspark


# -- executor side: the library's own functions ------------------------------------------------
_CONFIGS: dict[str, DedupConfig] = {}


def _config(config_json: str) -> DedupConfig:
    """The job's configuration, parsed once per executor process."""
    config = _CONFIGS.get(config_json)
    if config is None:
        config = _CONFIGS[config_json] = config_from_json(config_json)
    return config


def _signed(values: np.ndarray) -> list[int]:
    """uint64 values as Spark longs (the same 64 bits)."""
    out: list[int] = np.ascontiguousarray(values, dtype=np.uint64).view(np.int64).tolist()
    return out


def _unsigned(values: Any) -> np.ndarray:
    return np.asarray(values if values is not None else [], dtype=np.int64).view(np.uint64)


def _frame(rows: list[dict[str, Any]], schema: str) -> pd.DataFrame:
    """A pandas frame of Python objects in the schema's column order (pandas 3 would infer
    Arrow-backed strings, which this Spark's Arrow conversion rejects)."""
    import pandas as pd

    columns = [c.split()[0] for c in schema.split(", ")]
    return pd.DataFrame({c: pd.Series([r[c] for r in rows], dtype=object) for c in columns})


def _value(x: Any) -> Any:
    """A cell as Python sees it: Arrow gives a column of nulls to pandas as NaN floats."""
    return None if x is None or (isinstance(x, float) and x != x) else x


def _article(row: Any) -> Article:
    return Article(
        id=row.id,
        text=_value(row.text),
        published_at=_value(row.published_at) or None,
        source=_value(row.source) or None,
        url=_value(row.url) or None,
        title=_value(row.title) or None,
    )


def _runs(batches: Iterator[pd.DataFrame], key: str) -> Iterator[list[Any]]:
    """The rows of a partition sorted by ``key``, a list per value of ``key``, across Arrow batch
    boundaries. One Python call per partition, not one pandas frame per group: most groups here
    have one row (an article alone, a sentence met twice), and ``applyInPandas`` costs a
    millisecond or more per group."""
    run: list[Any] = []
    for batch in batches:
        for row in batch.itertuples(index=False):
            if run and getattr(row, key) != getattr(run[0], key):
                yield run
                run = []
            run.append(row)
    if run:
        yield run


def _learned(boilerplate: Any) -> frozenset[int]:
    return frozenset(int(v) for v in _unsigned(list(boilerplate.value)))


def _prepare_batches(config_json: str) -> Any:
    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        config = _config(config_json)
        for batch in batches:
            rows: list[dict[str, Any]] = []
            articles: list[Article] = []
            for row in batch.itertuples(index=False):
                out: dict[str, Any] = {name: getattr(row, name) for name in INPUT_COLUMNS}
                try:
                    if _value(row.text) is None:
                        raise EmptyTextError(f"article {row.id!r} has no text (null)")
                    articles.append(_article(row))
                except DedupError as exc:
                    _failed(out, exc)
                rows.append(out)
            outcomes = iter(prepare_many(articles, config))
            for out in rows:
                if "error" not in out:
                    outcome = next(outcomes)
                    if isinstance(outcome, DedupError):
                        _failed(out, outcome)
                    else:
                        out.update(_keys(outcome, config), error=None, message=None)
            yield _frame(rows, _PREPARED_SCHEMA)

    return run


def _keys(prepared: Prepared, config: DedupConfig) -> dict[str, list[int] | None]:
    """The columns of a prepared article: its sentence fingerprints and their near keys, the band
    keys of the document and of each passage, each passage's sentence, and its formula count
    keys."""
    mh, ps = config.minhash, config.passage
    doc = prepared.doc
    return {
        "fps": _signed(doc.sentence_fps),
        "sentence_keys": _signed(sentence_keys(doc, config.shingle.k)),
        "doc_keys": _signed(band_keys(prepared.signature[None, :], mh.bands, mh.rows).ravel()),
        "passage_fps": _signed(doc.sentence_fps[doc.passage_sentence]),
        "passage_keys": _signed(band_keys(prepared.passage_signatures, ps.bands, ps.rows).ravel()),
        "formula_keys": (
            _signed(formulas.keys(formulas.outlet(prepared.article), doc.shingles)) if config.formula.enabled else None
        ),
    }


def _failed(out: dict[str, Any], exc: DedupError) -> None:
    out.update(fps=None, sentence_keys=None, doc_keys=None, passage_fps=None, passage_keys=None, formula_keys=None)
    out["error"], out["message"] = type(exc).__name__, str(exc)


def _judge_runs(config_json: str) -> Any:
    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        config = config_from_json(config_json).boilerplate
        learned = []
        for rows in _runs(batches, "fp"):  # each fp's sample, in id order
            fp = int(rows[0].fp)
            sample = [zip(_unsigned(r.fps).tolist(), _unsigned(r.sentence_keys).tolist(), strict=True) for r in rows]
            if judge(int(_unsigned([fp])[0]), sample, config):
                learned.append({"fp": fp})
        yield _frame(learned, "fp long")  # one batch per partition, not one per sentence

    return run


def _formula_table(config_json: str) -> Any:
    """The formula counts of a partition's articles (their ``formula_keys``), as one table."""

    def run(rows: Iterator[Any]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        counts = FormulaCounts(config_from_json(config_json).formula)
        for row in rows:
            counts.count_keys(_unsigned(row.formula_keys))
        yield counts.nonzero()

    return run


def _pooled_table(formula: Any) -> Any:
    """The pooled formula counts a partition's articles add, read from the summed counts."""

    def run(rows: Iterator[Any]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        counts: FormulaCounts = formula.value

        def articles() -> Iterator[tuple[np.ndarray, np.ndarray]]:
            for row in rows:
                k = _unsigned(row.formula_keys)
                yield k, formulas.shingles_of(formulas.outlet_of(_value(row.source), _value(row.url)), k)

        yield counts.pooled_share(articles())

    return run


def _formula(formula: Any) -> FormulaCounts | None:
    return None if formula is None else formula.value


def _verify_batches(config_json: str, boilerplate: Any, formula: Any) -> Any:
    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        config, learned, counts = _config(config_json), _learned(boilerplate), _formula(formula)
        docs = Comparisons([], config, learned, counts)
        for batch in batches:
            out = []
            for row in batch.itertuples(index=False):
                for end in ("a", "b"):
                    art_id = getattr(row, end)
                    if art_id not in docs.articles:
                        docs.articles[art_id] = Article(
                            id=art_id, text=getattr(row, f"{end}_text"),
                            source=_value(getattr(row, f"{end}_source")) or None,
                            url=_value(getattr(row, f"{end}_url")) or None,
                            title=_value(getattr(row, f"{end}_title")) or None,
                        )  # fmt: skip
                if docs.pair(row.b, row.a).is_copy:
                    out.append({"a": row.a, "b": row.b})
            if len(docs.articles) > 10_000:
                docs = Comparisons([], config, learned, counts)
            yield _frame(out, "a string, b string")

    return run


def _assemble_runs(config_json: str, boilerplate: Any, formula: Any) -> Any:
    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        config, learned, counts = _config(config_json), _learned(boilerplate), _formula(formula)
        out: list[dict[str, Any]] = []
        for rows in _runs(batches, "label"):  # one connected component, members in id order
            docs = Comparisons([_article(r) for r in rows], config, learned, counts)
            seq = {r.id: n for n, r in enumerate(rows)}  # ordered as the global id order is
            edges = {r.id: set(r.neighbours) if r.neighbours is not None else set() for r in rows}
            for cluster in assemble(list(seq), docs.articles, seq.__getitem__, edges.get, docs.pair, config):
                out.extend(_output_row(m, cluster) for m in cluster.members)
            if len(out) >= 10_000:
                yield _frame(out, OUTPUT_SCHEMA)
                out = []
        if out:
            yield _frame(out, OUTPUT_SCHEMA)

    return run


def _output_row(m: Any, cluster: Any) -> dict[str, Any]:
    return {
        "id": m.id,
        "cluster": cluster.id,
        "earliest": cluster.earliest,
        "relation": str(m.relation),
        "matched": m.matched,
        "score": float(m.score),
        "containment_in_earliest": m.containment_in_earliest,
        "earliest_in_member": m.earliest_in_member,
        "time": m.time,
        "size": len(cluster.members),
        "earliest_rule": cluster.evidence.rule,
        "why": cluster.why,
    }


# -- driver side: the plan ---------------------------------------------------------------------
def _with_input_columns(df: DataFrame) -> DataFrame:
    from pyspark.sql import functions as F
    from pyspark.sql.types import TimestampType

    if "id" not in df.columns or "text" not in df.columns:
        raise DedupError(f"the input needs the columns 'id' and 'text' (it has {', '.join(df.columns)})")
    cols = []
    for name in INPUT_COLUMNS:
        if name not in df.columns:
            cols.append(F.lit(None).cast("string").alias(name))
        elif name == "published_at" and isinstance(df.schema[name].dataType, TimestampType):
            cols.append(F.date_format(F.col(name), "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX").alias(name))
        else:
            cols.append(F.col(name).cast("string").alias(name))
    return df.select(*cols)


def connected_components(edges: DataFrame) -> DataFrame:
    """(node, label) for every node of the undirected graph ``edges`` (columns ``a``, ``b``): the
    label is the smallest node of its component. Alternating large-star and small-star operations
    until the edge set stops changing; every step is a join and a group-by."""
    from pyspark.sql import functions as F

    def both_ways(e: DataFrame) -> DataFrame:
        return e.select(F.col("u"), F.col("v")).unionByName(e.select(F.col("v").alias("u"), F.col("u").alias("v")))

    def large_star(e: DataFrame) -> DataFrame:
        sym = both_ways(e)
        low = sym.groupBy("u").agg(F.least(F.min("v"), F.first("u")).alias("m"))
        return (
            sym.join(low, "u")
            .where(F.col("v") > F.col("u"))
            .select(F.col("v").alias("u"), F.col("m").alias("v"))
            .distinct()
        )

    def small_star(e: DataFrame) -> DataFrame:
        lower = both_ways(e).where(F.col("v") < F.col("u"))
        low = lower.groupBy("u").agg(F.min("v").alias("m"))
        moved = (
            lower.join(low, "u").where(F.col("v") != F.col("m")).select(F.col("v").alias("u"), F.col("m").alias("v"))
        )
        return moved.unionByName(low.select(F.col("u"), F.col("m").alias("v"))).distinct()

    # edges as (larger, smaller), no self-loops
    current = (
        edges.where(F.col("a") != F.col("b"))
        .select(F.greatest("a", "b").alias("u"), F.least("a", "b").alias("v"))
        .distinct()
        .localCheckpoint()
    )
    while True:
        nxt = small_star(large_star(current)).localCheckpoint()
        changed = nxt.exceptAll(current).limit(1).count() + current.exceptAll(nxt).limit(1).count()
        current = nxt
        if changed == 0:
            break
    labels = current.select(F.col("u").alias("node"), F.col("v").alias("label"))
    roots = current.select(F.col("v").alias("node")).distinct().join(labels, "node", "left_anti")
    return labels.unionByName(roots.select("node", F.col("node").alias("label")))


def learn_boilerplate(prepared: DataFrame, config: DedupConfig) -> list[int]:
    """The learned boilerplate (``boilerplate.learn``) of the prepared articles (columns ``id``,
    ``fps`` and ``sentence_keys``, the sentence fingerprints and their near keys as longs): each
    sentence's document frequency and sample (the first ``sample`` carriers in id order) in
    windows, judged on the executors."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    bp = config.boilerplate
    if not bp.enabled:
        return []
    by_fp = prepared.select("id", F.explode(F.array_distinct("fps")).alias("fp"))
    fp_window = Window.partitionBy("fp")
    ranked = by_fp.withColumn("df", F.count(F.lit(1)).over(fp_window)).withColumn(
        "rank", F.row_number().over(fp_window.orderBy("id"))
    )
    sample = ranked.where((F.col("df") >= bp.min_df) & (F.col("rank") <= bp.sample)).select(
        "fp", F.col("id").alias("sample_id")
    )
    with_fps = sample.join(prepared.select(F.col("id").alias("sample_id"), "fps", "sentence_keys"), "sample_id")
    judged = (
        with_fps.repartition("fp")
        .sortWithinPartitions("fp", "sample_id")
        .mapInPandas(_judge_runs(config_to_json(config)), "fp long")
    )
    return [r.fp for r in judged.collect()]


def formula_counts(prepared: DataFrame, config: DedupConfig) -> FormulaCounts | None:
    """The formula counts (``dedup.stages.formula``) of the prepared articles (column
    ``formula_keys``): the counters each partition moved, added on the driver one partition at a
    time (the tables are large: the driver takes no more than one partition's at once), then the
    pooled counts of each partition read from that sum, added the same way; None when the rule is
    off."""
    if not config.formula.enabled:
        return None
    counts = FormulaCounts(config.formula)
    rows = prepared.select("source", "url", "formula_keys").rdd
    for cells, values in rows.mapPartitions(_formula_table(config_to_json(config))).toLocalIterator():
        counts.add_cells(cells, values)
    if config.formula.min_repeated:
        shared = prepared.sparkSession.sparkContext.broadcast(counts)
        for cells, values in rows.mapPartitions(_pooled_table(shared)).toLocalIterator():
            counts.add_pooled(cells, values)
        shared.unpersist()
    return counts


def candidate_pairs(prepared: DataFrame, learned: DataFrame, config: DedupConfig) -> DataFrame:
    """The candidate pairs (``b``, ``a``; a's id before b's; ``whole``: from a document band) of
    the prepared articles (columns ``id``, ``doc_keys``, ``passage_fps`` and ``passage_keys``,
    passage after passage), as ``index.candidate_pairs`` states them, in band joins; passages
    whose sentence is in ``learned`` (column ``fp``) are not evidence."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    ps = config.passage
    doc_keys = prepared.select("id", F.explode("doc_keys").alias("key")).distinct()
    doc_pairs = (
        doc_keys.alias("q")
        .join(doc_keys.alias("i"), "key")
        .where(F.col("i.id") < F.col("q.id"))
        .select(F.col("q.id").alias("b"), F.col("i.id").alias("a"))
        .distinct()
    )
    passages = prepared.select(
        "id",
        F.posexplode("passage_fps").alias("p", "fp"),
        "passage_keys",
    ).join(F.broadcast(learned), "fp", "left_anti")
    passage_rows = passages.select(
        "id", "p", F.explode(F.slice("passage_keys", F.col("p") * ps.bands + 1, ps.bands)).alias("key")
    )
    n_evidence = passages.groupBy("id").agg(F.count(F.lit(1)).alias("n"))
    indexed = passage_rows.select("id", "key").distinct()
    hits = (
        passage_rows.alias("q")
        .join(indexed.alias("i"), "key")
        .where(F.col("i.id") < F.col("q.id"))
        .select(F.col("q.id").alias("b"), F.col("q.p").alias("p"), F.col("i.id").alias("a"))
        .distinct()
        .groupBy("b", "a")
        .agg(F.count(F.lit(1)).alias("hits"))
        .join(n_evidence.withColumnRenamed("id", "b"), "b")
        .join(n_evidence.select(F.col("id").alias("a"), F.col("n").alias("n_a")), "a")
        .withColumn("smaller", F.least(F.col("n"), F.col("n_a")))
        .where(
            F.col("hits")
            >= F.when(F.col("smaller") <= ps.few_passages, F.lit(1)).otherwise(
                F.greatest(F.lit(1), F.least(F.lit(ps.min_hits), F.col("smaller")))
            )
        )
        .join(doc_pairs, ["b", "a"], "left_anti")
    )
    best = Window.partitionBy("b").orderBy(F.col("hits").desc(), F.col("a"))
    passage_pairs = hits.withColumn("r", F.row_number().over(best)).where(F.col("r") <= ps.max_candidates)
    return (
        doc_pairs.withColumn("whole", F.lit(True))
        .unionByName(passage_pairs.select("b", "a").withColumn("whole", F.lit(False)))
        .distinct()
    )


def compared_pairs(pairs: DataFrame, prepared: DataFrame, config: DedupConfig) -> DataFrame:
    """The candidate pairs (``b``, ``a``) that are compared: each b with its first
    ``max_compared`` candidates a in id order, those of a document band (``whole``) first, and
    when none of them is a twin of b (the same ``doc_keys`` in ``prepared``), the first twin cut
    (``grouping.compared``)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    first = Window.partitionBy("b").orderBy(F.col("whole").desc(), F.col("a"))
    per_b = Window.partitionBy("b")
    limit = config.cluster.max_compared
    keys = prepared.select("id", "doc_keys")
    ranked = (
        pairs.join(keys.toDF("b", "b_keys"), "b")
        .join(keys.toDF("a", "a_keys"), "a")
        .withColumn("r", F.row_number().over(first))
        .withColumn("twin", F.col("a_keys") == F.col("b_keys"))
        .withColumn("first_twin", F.min(F.when(F.col("twin"), F.col("r"))).over(per_b))
    )
    kept = (F.col("r") <= limit) | (F.col("r") == F.col("first_twin"))
    return ranked.where(kept).select("b", "a")


def split_ids(rows: DataFrame) -> tuple[DataFrame, DataFrame]:
    """The job's rows without an id and its duplicate-id policy: (the usable rows, one error row
    (``ERROR_SCHEMA``) per row left out).

    The library's policy is ``stages.prepare.first_of_id``: the first article of an id is kept,
    the same id and text again is left out quietly, another text under a known id is an error.
    A DataFrame has no input order (its rows come in whatever order the partitions give them),
    so this job cannot say which row of an id came first, and takes the one decision that needs
    no order. Where ``first_of_id`` keeps a text for an id, so does this: an id given once, or
    several times with one text, is kept once. An id given with different texts keeps none of
    its rows here, where the library keeps the first one given. The errors output also names
    every id given more than once, with one text ("one is kept") or with several ("none is
    kept"), and every row with no id (null or blank). ``tests/test_spark.py`` checks the two
    policies against each other."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    missing_id = F.col("id").isNull() | (F.trim(F.col("id")) == "")
    id_window = Window.partitionBy("id")
    counted = rows.withColumn("_n", F.count(F.lit(1)).over(id_window)).withColumn(
        "_texts", F.size(F.collect_set(F.coalesce("text", F.lit("\u0000null"))).over(id_window))
    )
    bad_id = counted.where(missing_id).select(
        "id", F.lit("InputError").alias("error"), F.lit("the row has no id (null or empty)").alias("message")
    )
    duplicated = counted.where(~missing_id & (F.col("_n") > 1))
    dup_errors = duplicated.select(
        "id",
        F.lit("DuplicateIdError").alias("error"),
        F.when(
            F.col("_texts") == 1,
            F.concat(F.lit("the same id and text appear "), F.col("_n").cast("string"), F.lit(" times; one is kept")),
        )
        .otherwise(
            F.concat(
                F.lit("the id appears "),
                F.col("_n").cast("string"),
                F.lit(" times with different texts; none is kept (ids must be unique)"),
            )
        )
        .alias("message"),
    )
    same_twice = duplicated.where(F.col("_texts") == 1).dropDuplicates(["id"])
    usable = counted.where(~missing_id & (F.col("_n") == 1)).unionByName(same_twice).select(*INPUT_COLUMNS)
    return usable, bad_id.unionByName(dup_errors)


def run(df: DataFrame, config: DedupConfig | None = None) -> SparkResult:
    """Cluster the articles of ``df`` (columns ``id``, ``text``, optional ``published_at``,
    ``source``, ``url``, ``title``): the clusters and the errors output."""
    _require_spark()
    from pyspark.sql import functions as F

    config = config or DedupConfig()
    config_json = config_to_json(config)
    spark = df.sparkSession
    rows = _with_input_columns(df)

    # 1. bad rows, then preparation on the executors
    usable, bad_rows = split_ids(rows)
    prepared = usable.mapInPandas(_prepare_batches(config_json), _PREPARED_SCHEMA).cache()
    prep_errors = prepared.where(F.col("error").isNotNull()).select("id", "error", "message")
    good = prepared.where(F.col("error").isNull()).drop("error", "message")

    # 2. boilerplate, learned from every article as the library's batch learns it
    learned = learn_boilerplate(good, config)
    boilerplate = spark.sparkContext.broadcast(learned)
    learned_df = spark.createDataFrame([(v,) for v in learned], "fp long")
    counts = formula_counts(good, config)
    formula = None if counts is None else spark.sparkContext.broadcast(counts)

    # 3. candidates: document bands, then evidence passages (not boilerplate), earlier ids only
    pairs = compared_pairs(candidate_pairs(good, learned_df, config), good, config)

    # 4. verification on the executors
    texts = good.select("id", "text", "source", "url", "title")
    with_texts = (
        pairs.join(texts.toDF("b", "b_text", "b_source", "b_url", "b_title"), "b")
        .join(texts.toDF("a", "a_text", "a_source", "a_url", "a_title"), "a")
        .repartition("b")
    )
    edges = with_texts.mapInPandas(_verify_batches(config_json, boilerplate, formula), "a string, b string").cache()

    # 5. connected components, 6. groups and earliest source per component
    labels = connected_components(edges)
    neighbours = (
        edges.select(F.col("a").alias("id"), F.col("b").alias("n"))
        .unionByName(edges.select(F.col("b").alias("id"), F.col("a").alias("n")))
        .groupBy("id")
        .agg(F.collect_set("n").alias("neighbours"))
    )
    members = (
        good.select(*INPUT_COLUMNS)
        .join(labels.withColumnRenamed("node", "id"), "id", "left")
        .withColumn("label", F.coalesce("label", "id"))
        .join(neighbours, "id", "left")
    )
    clusters = (
        members.repartition("label")
        .sortWithinPartitions("label", "id")
        .mapInPandas(_assemble_runs(config_json, boilerplate, formula), OUTPUT_SCHEMA)
    )
    errors = bad_rows.unionByName(prep_errors)
    return SparkResult(clusters=clusters, errors=errors, cached=(prepared, edges))


def cluster(df: DataFrame, config: DedupConfig | None = None) -> DataFrame:
    """One row per article: its cluster, the cluster's earliest source, its relation to it and the
    verification scores (``OUTPUT_SCHEMA``). Bad rows are in ``run(df).errors``."""
    return run(df, config).clusters


# -- command line ------------------------------------------------------------------------------
def session(master: str | None = None, app_name: str = "dedup") -> SparkSession:
    """A Spark session: the master given, else spark-submit's, else ``local[*]``."""
    _require_spark()
    import os

    from pyspark import SparkConf
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    if (master or "local").startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # a local session listens on loopback only
    builder = SparkSession.builder.appName(app_name).config("spark.sql.session.timeZone", "UTC")
    if master or not SparkConf().contains("spark.master"):
        # one machine: a few shuffle partitions per core, not Spark's 200 (each task starts Python work)
        builder = builder.master(master or "local[*]").config("spark.sql.shuffle.partitions", "16")
        # local mode runs every task inside the driver's JVM: Spark's default 1 GB heap is too small
        builder = builder.config("spark.driver.memory", os.environ.get("DEDUP_SPARK_DRIVER_MEMORY", "4g"))
    return builder.getOrCreate()


def _read(spark: SparkSession, path: str) -> DataFrame:
    if path.endswith((".jsonl", ".json", ".ndjson")):
        return spark.read.json(path)
    return spark.read.parquet(path)


def _write(df: DataFrame, path: str) -> None:
    if path.endswith((".jsonl", ".json", ".ndjson")):
        df.write.mode("overwrite").json(path)
    else:
        df.write.mode("overwrite").parquet(path)


DESCRIPTION = (
    "Cluster articles with Spark: the same answers as `dedup cluster`, on a cluster. Needs the spark "
    "extra and a Java runtime."
)
EPILOG = (
    "OUTPUT and the errors output are folders, as Spark writes them: one part-*.parquet (or "
    "part-*.json, JSON Lines) file per partition, plus an empty _SUCCESS file once the job is done; "
    "read the folder whole (pandas.read_parquet(OUTPUT), spark.read.parquet(OUTPUT), or cat "
    "OUTPUT/part-* for JSON Lines). One row per article: id, cluster, earliest, relation, matched, "
    "score, containment_in_earliest, earliest_in_member, time, size, earliest_rule, why. At the end "
    "one JSON line on standard output names the two folders."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``dedup spark`` (and of ``spark-submit src/dedup/runners/spark.py``)."""
    parser.add_argument(
        "input",
        metavar="INPUT",
        help="Parquet, or JSON Lines (.jsonl): columns id, text [, published_at, source, url, title]",
    )
    parser.add_argument(
        "output",
        metavar="OUTPUT",
        help="the folder to write one row per article to (Parquet, or JSON Lines when it ends in .jsonl); "
        "replaced if it exists",
    )
    parser.add_argument(
        "--errors",
        metavar="FOLDER",
        help="the folder to write the bad rows to (default: OUTPUT with '.errors' before the suffix)",
    )
    parser.add_argument("--master", help="Spark master (default: spark-submit's, else local[*])")
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="settings as JSON (a DedupConfig, or any part of one, as `dedup cluster --config` reads)",
    )


def run_command(args: argparse.Namespace, config: DedupConfig | None) -> int:
    """``dedup spark`` with its parsed options: the job run, the two folders written."""
    spark = session(args.master)
    result = run(_read(spark, args.input), config)
    stem, dot, suffix = args.output.rpartition(".")
    errors_path = args.errors or (f"{stem}.errors.{suffix}" if dot and "/" not in suffix else f"{args.output}.errors")
    _write(result.clusters, args.output)
    _write(result.errors, errors_path)
    result.release()
    n_errors = spark.read.json(errors_path).count() if errors_path.endswith(".jsonl") else None
    print(json.dumps({"output": args.output, "errors": errors_path, "bad_rows": n_errors}))
    return 0


def main(argv: list[str] | None = None) -> int:
    """``spark-submit src/dedup/runners/spark.py INPUT OUTPUT``: the same options as ``dedup spark``."""
    from dedup.fronts.cli import read_config

    parser = argparse.ArgumentParser(prog="dedup spark", description=DESCRIPTION, epilog=EPILOG)
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run_command(args, read_config(args.config) if args.config else None)


if __name__ == "__main__":  # spark-submit src/dedup/runners/spark.py INPUT OUTPUT
    sys.exit(main())
