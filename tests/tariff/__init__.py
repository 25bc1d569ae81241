"""Tests of the pure-Python tariff engine."""
