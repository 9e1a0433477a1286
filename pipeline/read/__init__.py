"""Read: input files → records. Work units (``units``), one reader per format (``formats``,
``web``, ``repos``), decompression, and the language table of repository files."""
