"""`make bench`: the speed targets issues name, measured (never a timed test)."""
