"""PayOS adapter, signing, wire and simulator tests."""
