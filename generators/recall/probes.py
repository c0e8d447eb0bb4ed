"""Recall probes (MQAR, induction heads, selective copying, fuzzy/noisy recall): being built (issue 14)."""
