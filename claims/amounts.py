"""An amount as people read it, in both languages: 1,234,567.50 (the grouping finance writes).
One definition for the pages (the ``money`` filter) and for what is told below them
(notifications, messages, errors); the files and the API keep plain decimals."""

from decimal import Decimal, InvalidOperation


def amount_text(value) -> str:
    """1234567.5 → 1,234,567.50; None or "" → ""; not an amount: as it is."""
    if value is None or value == "":
        return ""
    try:
        return f"{Decimal(str(value)):,.2f}"
    except (InvalidOperation, ValueError):
        return str(value)
