"""The Associative LSTM's character tasks (Danihelka et al. 2016): being built (issue 14)."""
