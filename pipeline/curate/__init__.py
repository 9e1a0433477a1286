"""Curate: per unit, normalize → filter → exact and near dedup keys (``analyze``); global decisions
on keys only (``dedup``); the curated shards (``apply``). Filters, classifiers and repository order live here."""
