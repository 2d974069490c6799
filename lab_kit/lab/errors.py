"""`LabError`: every problem the lab reports to a user, in words meant for them."""


class LabError(RuntimeError):
    """A lab problem with a message meant for the user (file, document and field named
    where there is one)."""
