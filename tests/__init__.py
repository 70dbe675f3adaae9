"""The test suite: one module per area of the portal; helpers are imported as ``tests.<module>``."""
