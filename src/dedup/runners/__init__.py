"""The runners: the stream (Deduplicator), the in-process batch and the Spark job, each calling the stages."""
