"""Due jobs: timers and sweeps that run when their time comes (registry.py), and the one way a
task is sent to the workers (enqueue.py), naming the sweep that does its work if its message is
lost. The ground floor: imports no app of ours, so any app (the claim process, notifications,
payments) registers here."""
