"""Handing out a batch's bank files. The payment file holds payees' full account numbers: only
finance of the batch's jurisdiction may take it, and every download is a ledger entry."""

from django.db import transaction

from audit import actions
from audit.services import record_event

from .. import access
from ..models import BankFile, BankFileKind, PaymentBatch
from .funds import XLSX_CONTENT_TYPE

# The kinds a download URL may name (short aliases and the kinds themselves), and each file's MIME type.
FILE_KINDS = {"csv": BankFileKind.PAYMENT_CSV, "xlsx": BankFileKind.PAYMENT_XLSX, **{kind: kind for kind in BankFileKind.values}}
CONTENT_TYPES = {BankFileKind.PAYMENT_CSV: "text/csv; charset=utf-8", BankFileKind.PAYMENT_XLSX: XLSX_CONTENT_TYPE}


def content_type_of(bank_file: BankFile) -> str:
    return CONTENT_TYPES.get(bank_file.kind, "application/octet-stream")


@transaction.atomic
def download_bank_file(*, actor, batch: PaymentBatch, bank_file: BankFile) -> BankFile:
    """Check the actor may take the file and record that they did; the caller sends ``bank_file.content``."""
    access.require_in(actor, access.DOWNLOAD_BANK_FILES, batch.fund_account.jurisdiction)
    record_event(
        actor=actor,
        action=actions.PAYMENT_FILE_DOWNLOADED,
        obj=batch,
        detail={
            "number": batch.number,
            "kind": bank_file.kind,
            "filename": bank_file.filename,
            "sha256": bank_file.sha256,
            "file": bank_file.pk,
        },
    )
    return bank_file
