"""Hosted pages: checkout, result (tells the truth), demo storefront."""
