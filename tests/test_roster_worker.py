"""Rosters of 1000 rows or more are imported by a real Celery worker process (Redis;
tests/conftest.py::celery_worker_process): 202 at once, progress through the status endpoint,
one claim however many times the task is delivered."""

import pytest

from claims import imports
from claims.models import Claim, ClaimLine, RosterUpload
from claims.tasks import import_roster

from .api_support import error, login, ok
from .test_roster_import import HEADER, IMPORT_URL, fill_template, trainee_row, upload, wrong_check_digit

TASK = r"claims\.tasks\.import_roster\[[0-9a-f-]+\]"


def big_roster(rows: int = imports.QUEUE_FROM_ROWS, bad_rows=()) -> bytes:
    data = [trainee_row(n) for n in range(rows)]
    for index in bad_rows:
        data[index]["id_number"] = wrong_check_digit(data[index]["id_number"])
    return fill_template(data)


POLL = 0.05  # seconds between two reads of the status endpoint, at most


def follow(client, upload_id: int, worker, timeout: float = 60.0) -> tuple[dict, list[int]]:
    """Read the status endpoint as the page does, until the import is finished. Between two reads
    it waits for the worker to log the end of an import task run (it then reads at once), at
    most POLL seconds: the progress seen along the way is sampled, the end is not missed."""
    seen = []
    ended = len(worker.wait_for_log(TASK + " succeeded", timeout=0, required=False))
    for _ in range(round(timeout / POLL)):
        body = ok(client.get(f"{IMPORT_URL}{upload_id}/"))
        seen.append(body["processed_rows"])
        if body["status"] in ("done", "failed"):
            return body, seen
        if not worker.running:
            pytest.fail(f"the celery worker exited during the import of upload {upload_id}: {body}\n{worker.log()[-4000:]}")
        ended = max(ended, len(worker.wait_for_log(TASK + " succeeded", count=ended + 1, timeout=POLL, required=False)))
    pytest.fail(f"the import of upload {upload_id} did not finish within about {timeout}s: {body}\n{worker.log()[-4000:]}")


@pytest.mark.celery_worker
def test_a_1000_row_roster_is_queued_and_imported_by_the_worker(celery_worker, demo):
    clerk = login("provider_clerk")
    offset = celery_worker.log_offset()
    queued = ok(upload(clerk, big_roster()), 202)
    # The answer reads the upload as it is when it is sent (api/imports.py): the worker, told on
    # commit, may have taken it by then.
    assert queued["status"] in ("received", "processing") and queued["row_count"] == 1000 and queued["claim"] is None

    body, seen = follow(clerk, queued["id"], celery_worker)
    assert body["status"] == "done", body
    assert seen == sorted(seen) and seen[-1] == body["row_count"] == 1000
    claim = Claim.objects.get(pk=body["claim"])
    assert body["claim_number"] == claim.number
    assert claim.lines.count() == 1000
    assert not claim.lines.filter(policy_version__isnull=True).exists()
    celery_worker.wait_for_log(TASK + " received", after=offset)
    celery_worker.wait_for_log(TASK + " succeeded", after=offset)  # the worker process did it, not this one

    again = ok(clerk.get(f"/api/v1/claims/{claim.pk}/"))
    assert len(again["lines"]) == 1000


@pytest.mark.celery_worker
def test_a_task_delivered_three_times_creates_one_claim(celery_worker, demo):
    """The message on commit, plus two more for the same upload, queued behind it before it runs."""
    upload_row = imports.receive_roster(
        user=demo["provider_clerk"], header={**HEADER, "provider": "WL-P001"}, filename="big.xlsx", content=big_roster()
    )
    extra = [import_roster.delay(upload_row.pk) for _ in range(2)]
    for result in extra:
        celery_worker.wait_for_task(result.id, timeout=60)
    upload_row.refresh_from_db()
    assert upload_row.status == "done"
    assert Claim.objects.count() == 1
    assert ClaimLine.objects.count() == 1000
    assert RosterUpload.objects.get().claim_id == Claim.objects.get().pk


@pytest.mark.celery_worker
def test_the_same_file_while_queued_is_refused_and_a_bad_big_roster_fails_with_its_rows(celery_worker, demo):
    clerk = login("provider_clerk")
    # A valid roster: whether the worker has not started, is importing or has finished it,
    # the same file again is refused (a failed upload would not block, so a bad file here would race).
    content = big_roster()
    queued = ok(upload(clerk, content), 202)
    duplicate = error(upload(clerk, content, filename="copy.xlsx"), 409)
    assert f"{queued['id']}" in duplicate["message"]
    assert follow(clerk, queued["id"], celery_worker)[0]["status"] == "done"
    assert Claim.objects.count() == 1

    bad_content = big_roster(bad_rows=(10, 700))
    bad = ok(upload(clerk, bad_content), 202)
    body, _seen = follow(clerk, bad["id"], celery_worker)
    assert body["status"] == "failed" and body["claim"] is None
    assert [(e["row"], e["field"]) for e in body["errors"]] == [(12, "id_number"), (702, "id_number")]
    assert body["errors"][0]["message"].startswith("第12行 身份证号码：")
    assert body["errors"][0]["message_en"].startswith("Row 12, Resident ID number:")
    assert Claim.objects.count() == 1  # the bad roster saved nothing

    # A failed upload blocks nothing: the same file may be sent again once corrected or retried.
    again = ok(upload(clerk, bad_content, filename="again.xlsx"), 202)
    assert follow(clerk, again["id"], celery_worker)[0]["status"] == "failed"
