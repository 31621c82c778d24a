"""Primitives every layer shares and that know nothing of Spark, pex or Jupyter: the error
base, names as packaging compares them, progress events, sizes, TCP checks, process groups."""
