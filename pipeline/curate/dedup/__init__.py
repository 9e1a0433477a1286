"""Global deduplication across all sources: exact, then near (MinHash LSH)."""
