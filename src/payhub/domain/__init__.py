"""Pure payment rules: lifecycles, amount checks, errors. No I/O."""
