"""Peak-RSS measurement of the benchmark harness (Linux /proc, psutil): the driver's peak-RSS growth
over a block (`DriverPeak`) and a sampler that keeps the peak of a probe per process (`Sampler`), such
as the VmHWM of Ray's worker processes (`worker_hwm`)."""

from __future__ import annotations

import threading


def status_kib(pid: int | str, field: str) -> int | None:
    """A field of /proc/PID/status in KiB (VmRSS, VmHWM), or None where unavailable."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class DriverPeak:
    """Peak RSS growth of this process over a block: resets VmHWM through /proc/self/clear_refs
    (Linux >= 4.0), else samples RSS with psutil every 2 ms."""

    def __init__(self):
        self.growth_mib: float | None = None
        self.method = ""

    def __enter__(self):
        self.before = status_kib("self", "VmRSS")
        try:
            with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
                f.write("5")
            self.method = "VmHWM after clear_refs"
            self._sampler = None
        except OSError:
            self.method = "psutil sampling (2 ms)"
            self._sampler = Sampler(lambda: {"self": status_kib("self", "VmRSS") or 0}, 0.002)
            self._sampler.start()
        return self

    def __exit__(self, *exc):
        if self._sampler is None:
            peak = status_kib("self", "VmHWM")
        else:
            self._sampler.stop()
            peak = self._sampler.peaks.get("self", 0)
        if peak is not None and self.before is not None:
            self.growth_mib = (peak - self.before) / 1024
        return False


class Sampler(threading.Thread):
    """Polls `probe()` (pid -> KiB) every `interval` s and keeps each key's maximum."""

    def __init__(self, probe, interval: float):
        super().__init__(daemon=True)
        self.probe, self.interval = probe, interval
        self.peaks: dict = {}
        self._stop_event = threading.Event()

    def run(self):
        while not self._stop_event.is_set():
            self._take()
            self._stop_event.wait(self.interval)

    def _take(self):
        for key, value in self.probe().items():
            if value is not None:
                self.peaks[key] = max(self.peaks.get(key, 0), value)

    def stop(self):
        self._stop_event.set()
        self.join()
        self._take()


def worker_hwm(pattern: str):
    """Probe: VmHWM (KiB) of descendant processes whose command line contains `pattern`."""
    import psutil

    me = psutil.Process()

    def probe():
        out = {}
        for p in me.children(recursive=True):
            try:
                if pattern in " ".join(p.cmdline()):
                    out[p.pid] = status_kib(p.pid, "VmHWM")
            except (psutil.Error, OSError):
                continue
        return out

    return probe
