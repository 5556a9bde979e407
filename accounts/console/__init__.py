"""Django's account commands as an operator runs them at the console, recorded in the ledger. An
app of its own so that it can come before django.contrib.auth, whose commands these replace (the
first app's command wins), without moving the accounts app and its admin registrations."""
