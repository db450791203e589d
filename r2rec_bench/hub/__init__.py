"""Publish built dataset directories to the Hub and describe local or published datasets."""
