"""Tools behind CLI commands that run no pipeline: the demo corpus, ``inspect`` and ``validate``."""
