"""Needle-in-a-haystack in bAbI's long-context filler: being built (issue 14)."""
