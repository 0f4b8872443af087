"""nkisim benchmarks: ours vs a NumPy-eager peer vs whole-array NumPy. See README.md."""
