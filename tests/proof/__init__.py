"""Proofs: hostile input, limits and invariants exercised over real loopback HTTP."""
