"""The Hierarchical Attentive Memory's algorithmic and data-structure tasks (Andrychowicz &
Kurach 2016): being built (issue 14)."""
