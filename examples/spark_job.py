"""Cluster a Parquet (or JSON Lines) collection of articles with Spark.

Locally, with the machine's cores:

    python examples/spark_job.py articles.parquet clusters.parquet

On a cluster, the same file with spark-submit (the executors need ``pip install 'news-dedup[spark]'``):

    spark-submit --master yarn examples/spark_job.py hdfs:///news/articles hdfs:///news/clusters

The input needs the columns ``id`` and ``text`` (and uses ``published_at``, ``source``, ``url``,
``title`` when present). The output has one row per article: its cluster, the cluster's earliest
source, its relation to it and the verification scores; bad rows go to ``clusters.errors.parquet``.
"""

from __future__ import annotations

import sys

from dedup.runners import spark

if __name__ == "__main__":
    sys.exit(spark.main(sys.argv[1:]))
