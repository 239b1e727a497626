"""What a user starts: `train` (train, config), `evaluate`, `study`, `demo`, the classical baseline
(baseline) and the results pages of a run (report)."""
