"""Make this repository's ``custom_components`` the one Home Assistant loads.

The test harness ships its own ``testing_config/custom_components`` package.
Home Assistant imports ``custom_components`` once and then looks integrations
up in that module's path, so whichever package is imported first wins.
Importing ours here, before any Home Assistant fixture runs, means
``han_port`` is found instead of "Integration not found".
"""

import custom_components  # noqa: F401
