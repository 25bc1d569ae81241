"""Custom integrations for Home Assistant.

A regular package so that tests import ``custom_components.han_port`` from
this repository rather than from the test harness's own config directory.
"""
