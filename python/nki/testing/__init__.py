"""nki.testing: helpers for running third-party NKI test suites on nkisim.

`pytest -p nki.testing.nkilib ...` runs nki-library's own integration suite in its simulation
mode on nkisim (see nki.testing.nkilib).
"""
