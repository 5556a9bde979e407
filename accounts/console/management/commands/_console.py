import getpass


def os_user() -> str:
    """The operating-system account running the command ("" when the process's user id has no name, as in some containers)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""
