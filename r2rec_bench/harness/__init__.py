"""The harness: score any model or baseline on the fixed candidates of a dataset's `eval`."""
