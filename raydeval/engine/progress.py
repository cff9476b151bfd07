"""The progress line on stderr: shards done (reused, retried), samples, rate and ETA."""

from __future__ import annotations

import sys
import time


class Progress:
    """Redrawn on a terminal every 0.5 s, a line every 10 s in logs, and a last line at the end."""

    def __init__(self, label: str, samples: int, shards: int, reused_shards: int = 0, reused_samples: int = 0):
        self.label, self.samples, self.shards = label, samples, shards
        self.reused = reused_shards
        self.done_shards, self.done_samples = reused_shards, reused_samples
        self.computed_samples = self.retried = 0
        self.start = self.last = time.monotonic()
        self.tty = sys.stderr.isatty()

    def update(self, rows: int, retried: bool = False) -> None:
        self.done_samples += rows
        self.computed_samples += rows
        self.done_shards += 1
        self.retried += retried
        now = time.monotonic()
        finished = self.done_shards == self.shards
        if finished or now - self.last >= (0.5 if self.tty else 10.0):
            self.last = now
            rate = self.computed_samples / max(now - self.start, 1e-9)
            eta = (self.samples - self.done_samples) / rate if rate else 0.0
            extra = [f"{n} {what}" for n, what in ((self.reused, "reused"), (self.retried, "retried")) if n]
            line = (f"{self.label}: shards {self.done_shards}/{self.shards}"
                    f"{' (' + ', '.join(extra) + ')' if extra else ''}, samples "
                    f"{self.done_samples}/{self.samples}, {rate:,.0f} samples/s, ETA {eta:.0f}s")
            end = "\n" if finished or not self.tty else ""
            print(("\r" if self.tty else "") + line, end=end, file=sys.stderr, flush=True)
