"""Tests of the VNPay gateway package."""
