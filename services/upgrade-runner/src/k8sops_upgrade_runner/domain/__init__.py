"""The upgrade runner's rules as pure functions: no I/O, unit-tested in microseconds."""
