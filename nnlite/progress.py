"""A throttled progress line for long loops: items done, rate, time left.

:class:`Progress` is given the total and a ``say`` callable (e.g. a function
that prints on stderr, or ``None`` for silence).  :meth:`Progress.update`
writes ``"<label>: 12,000/40,000 images (30%), 850 images/s, 33 s left"``
at most once per ``interval`` seconds, so a step shorter than ``interval``
writes nothing; :meth:`Progress.close` writes the final line
(``"... done in 47.1 s"``) only when an intermediate line was written or
``always`` is set.
"""

import time

__all__ = ["Progress", "format_seconds"]


def format_seconds(seconds):
    """``42.0`` -> ``'42 s'``, ``130`` -> ``'2 min 10 s'``, ``4000`` -> ``'1 h 06 min'``."""
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class Progress:
    """Progress of ``total`` items, reported through ``say`` at most every ``interval`` seconds.

    Parameters
    ----------
    total : int
        Items to do.
    label : str
        Start of every line, e.g. ``'features ae 800 s1'``.
    say : callable(str) or None
        Receives each line; None: silent.
    unit : str, default='images'
    interval : float, default=5.0
        Seconds between lines (0: a line at every update).
    clock : callable, default=time.perf_counter
        Source of the time (tests pass a fake clock).
    """

    def __init__(self, total, label, say, unit="images", interval=5.0, clock=time.perf_counter):
        self.total, self.label, self.say, self.unit = int(total), label, say, unit
        self.interval, self.clock = float(interval), clock
        self.start = self.last = clock()
        self.written = False

    def line(self, done):
        """The text of the progress line after ``done`` items."""
        elapsed = self.clock() - self.start
        rate = done / elapsed if elapsed > 0 else float("inf")
        percent = 100.0 * done / max(self.total, 1)
        left = (self.total - done) / rate if done and rate > 0 else float("nan")
        rate_text = f"{rate:,.0f} {self.unit}/s" if rate != float("inf") else f"- {self.unit}/s"
        left_text = format_seconds(left) if left == left else "?"
        return (f"{self.label}: {done:,}/{self.total:,} {self.unit} ({percent:.0f}%), {rate_text}, "
                f"{left_text} left")

    def update(self, done):
        """Report ``done`` items when ``interval`` seconds have passed since the last line."""
        if self.say is None:
            return
        now = self.clock()
        if now - self.last >= self.interval:
            self.last = now
            self.written = True
            self.say(self.line(done))

    def close(self, always=False):
        """Write ``'<label>: done in T'`` when a line was written before (or ``always``); return seconds."""
        seconds = self.clock() - self.start
        if self.say is not None and (self.written or always):
            self.say(f"{self.label}: {self.total:,} {self.unit} done in {format_seconds(seconds)}")
        return seconds
