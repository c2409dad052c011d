//! Test-only crate: the suites live under `tests/`.
