"""Conformance drivers: one module per registered gateway, each exporting `DRIVER`.

See tests/support/conformance.py for the contract and docs/gateways/README.md for how a new
gateway adds its driver."""
