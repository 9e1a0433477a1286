"""Reading sources and writing outputs, all through Beam ``FileSystems`` (local, gs://, s3://, hdfs://)."""
