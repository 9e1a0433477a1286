"""corpusmill: a DeepSeek-V3-style pre-training data pipeline on Apache Beam."""

__version__ = "0.1.0"
