"""Outputs that need no event loop: the store and its outbox, files, the HTML report."""
