"""Tests of the ToyyibPay gateway package."""
