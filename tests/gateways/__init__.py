"""Gateway adapter and simulator tests, one package per gateway."""
