"""Errors that mean the user's input is wrong (exit 2), not that FlowSense is broken."""


class InputError(Exception):
    """A bad file, option or setting; the message says what and where, in one line."""
