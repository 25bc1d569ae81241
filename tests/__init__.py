"""Tests for the HAN Port integration."""
