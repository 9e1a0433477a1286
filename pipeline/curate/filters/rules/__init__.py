"""The rule filters: one module each, registered with ``@rule_filter`` (``pipeline.curate.filters.registry``)
and found by module, so a new filter is a new module here plus its test."""
