"""Build: curated text → token ids (``tokenize``, ``fim``, ``split_tokens``) → mix in tokens
(``mix``) → packed rows (``pack``) → Arrow dataset shards."""
