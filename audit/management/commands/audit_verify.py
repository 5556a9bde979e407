from django.core.management.base import BaseCommand, CommandError

from audit.checkpoints import verify_ledger


class Command(BaseCommand):
    help = (
        "Verify the whole ledger: the hash chain of every entry, every entry's columns against its "
        "hashed bytes, and every signed checkpoint (signature, root recomputed from the entries). "
        "Exits non-zero naming the first bad sequence number, the first entry whose columns "
        "disagree and the failing checkpoints."
    )

    def handle(self, *args, **options):
        result = verify_ledger()
        self.stdout.write(f"entries: {result['tree_size']}")
        if result["chain_ok"]:
            self.stdout.write(f"hash chain: ok ({result['events']} entries, head {result['head_hash']})")
        else:
            self.stdout.write(
                f"hash chain: BROKEN at seq {result['first_bad_seq']} ({result['events']} entries before it check out)"
            )
        if result["copies_ok"]:
            self.stdout.write("columns: ok (every entry's columns are copies of its bytes)")
        else:
            self.stdout.write(
                f"columns: DISAGREE with the bytes from seq {result['first_bad_copy_seq']} "
                f"({', '.join(result['bad_copy_columns'])})"
            )
        self.stdout.write(f"checkpoints: {result['checkpoints_checked']} checked, {result['checkpoints_failed']} failed")
        for failure in result["checkpoint_failures"]:
            self.stdout.write(f"  checkpoint {failure['tree_size']} (id {failure['id']}): {failure['error']}")
        if result["latest_checkpoint"]:
            latest = result["latest_checkpoint"]
            self.stdout.write(f"latest checkpoint: tree size {latest['tree_size']}, root {latest['root_hash']}")
        self.stdout.write(f"entries after the latest checkpoint: {result['unsigned_entries']}")
        if result["verifier_key"]:
            self.stdout.write(f"verifier key: {result['verifier_key']}")
        if result["ok"]:
            self.stdout.write("VERDICT: OK")
            return
        problems = []
        if not result["chain_ok"]:
            problems.append(f"first bad seq {result['first_bad_seq']}")
        if not result["copies_ok"]:
            problems.append(
                f"the columns of seq {result['first_bad_copy_seq']} disagree with its bytes: {', '.join(result['bad_copy_columns'])}"
            )
        if result["first_bad_checkpoint"]:
            bad = result["first_bad_checkpoint"]
            problems.append(f"checkpoint {bad['tree_size']} fails: {bad['error']}")
        raise CommandError("VERDICT: FAILED: " + "; ".join(problems))
