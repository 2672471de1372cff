"""MoMo gateway tests."""
