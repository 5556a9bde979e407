"""Due jobs: timers and sweeps that run when their time comes (registry.py). The ground floor:
imports no app of ours, so any app (the claim process, notifications, payments) registers here."""
