"""One module per command; each registers itself on ``flowsense.cli.app``."""
