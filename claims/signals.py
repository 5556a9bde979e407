"""What the claims app tells the layers above it, without importing them.

``claim_lines_changed`` (keyword ``claim``): a claim's lines changed their amounts, decisions
or flags, and its total was computed again (sent by ``services.recompute_total``, which every
such change ends with; a caller of ``eligibility.check_claim`` alone tells the inbox itself). Sent in the transaction of the change; the
workflow's inbox keeps its figures current with it (workflow/inbox.py)."""

from django.dispatch import Signal

claim_lines_changed = Signal()
