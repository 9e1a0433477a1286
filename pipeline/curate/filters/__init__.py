"""Document filters, one small module each; each filter takes its thresholds (with the published
defaults) as constructor parameters. ``chain`` builds a source's chain from the config."""
