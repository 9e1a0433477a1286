"""Report: the run's accounting and reconciliation (``accounting``) and its HTML page (``html``)."""
