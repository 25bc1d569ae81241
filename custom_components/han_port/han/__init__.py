"""Pure-Python decoder for smart-meter HAN port data (DLMS/COSEM and P1).

No Home Assistant import may appear in this package: it is tested, fuzzed and
benchmarked on its own and is meant to be published as a library.
"""
