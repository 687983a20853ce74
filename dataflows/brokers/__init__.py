"""Execution venues other than the paper broker (``operators.paper_broker``)."""
