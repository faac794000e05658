"""Errors a user can fix without a traceback: a dataset that is not where the platform looks for it."""


class DatasetUnavailable(RuntimeError):
    """The dataset's files are missing and cannot be obtained; the message says where to put them."""
