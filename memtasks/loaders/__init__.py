"""Loaders of real datasets, one module per family (DESIGN.md section 5)."""
