"""The proof suite: adversarial and crash proofs, CI-sized in `make test`, full in `make proof`."""
