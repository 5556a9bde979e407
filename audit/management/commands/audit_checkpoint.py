from django.core.management.base import BaseCommand, CommandError

from audit import checkpoints, signing


class Command(BaseCommand):
    help = "Sign a checkpoint (tree size and RFC 6962 root of the ledger) if the ledger grew since the latest one."

    def handle(self, *args, **options):
        try:
            checkpoint = checkpoints.sign_checkpoint()
        except signing.SigningKeyMissing as error:
            raise CommandError(str(error)) from error
        except checkpoints.LedgerBroken as error:
            raise CommandError(f"not signed: {error}") from error
        if checkpoint is None:
            self.stdout.write("Nothing to sign: the latest checkpoint covers every entry.")
            return
        self.stdout.write(f"Signed checkpoint of tree size {checkpoint.tree_size}:\n")
        self.stdout.write(checkpoint.note, ending="")
