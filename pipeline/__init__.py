"""corpusmill: a DeepSeek-V3-style pre-training data pipeline on Apache Beam."""
import logging

from pipeline.engine.logs import QuietBeamLogs

__version__ = "0.3.0"

# Beam logs some of its noise while being imported, before any handler of ours exists: filter it
# on the root logger itself, from the first import of corpusmill on.
logging.getLogger().addFilter(QuietBeamLogs())
