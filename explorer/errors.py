"""The one exception type that reaches the user as a one-line message."""


class UserError(Exception):
    """Bad input from the user (a file, a value, a name).

    The message names the file or value and what is wrong with it, in one line.
    The CLI prints it as ``error: <message>`` and exits 1; the GUI shows it in the
    status bar or a dialog. Everything else is a bug and keeps its traceback.
    """
