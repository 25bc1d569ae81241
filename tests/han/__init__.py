"""Tests of the pure-Python HAN decoder."""
