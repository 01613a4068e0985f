"""The kiosk's spoken phrases on disk, within a byte budget: the least recently used go first.

Every value a phrase may be filled with is checked (kiosk/views.py), so the set of files is finite,
but at Abşeron it is ~9,000 files and over 1 GB if every value were ever asked for; a day uses a few
hundred. The cache keeps what is asked, the newest use last, and removes the least recently used
files once the folder holds more than its budget (a phrase asked again is simply spoken again,
~20 ms). The order survives a restart: a file's modification time is its last use.

A reader is never left without its file: a phrase is opened while the cache's lock is held, and
eviction takes the same lock, so no file is removed between being found and being opened; once
open, a file removed from the folder stays readable to whoever holds it (POSIX unlink), so a
phrase being served is read whole even if a request beside it evicts it.
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import BinaryIO, Callable

DEFAULT_BUDGET_MB = 256   # a busy day in three languages is ~150-200 MB of ~0.15 MB phrases (docs/api.md)


class VoiceCache:
    """WAV files named by key in one folder, at most ``budget`` bytes, least recently used removed first."""

    _STRIPES = 64   # one synthesis per key at a time, without one lock for all of them

    def __init__(self, folder: Path, budget: int) -> None:
        self.folder = folder
        self.budget = budget
        self._lock = threading.Lock()                    # the index, and opening against eviction
        self._making = [threading.Lock() for _ in range(self._STRIPES)]
        self._sizes: OrderedDict[str, int] = OrderedDict()   # key -> bytes, least recently used first
        self._total = 0
        self._scanned = False

    def open(self, key: str, make: Callable[[Path], object]) -> BinaryIO:
        """The phrase file of key, open for reading, made by make(path) first if the cache lacks it."""
        with self._lock:
            found = self._open(key)
        if found is not None:
            return found
        with self._making[hash(key) % self._STRIPES]:
            # Looked for again first: another request may have made it while this one waited. A file
            # just made is evicted before this request opens it only if, found by another, it became the
            # least recently used at once (a budget of a file or two): it is made again.
            for _ in range(3):
                with self._lock:
                    found = self._open(key)
                    if found is not None:
                        self._evict(keep=key)
                        return found
                self.folder.mkdir(parents=True, exist_ok=True)
                make(self.folder / f"{key}.wav")   # written whole under a temporary name, then renamed
        raise FileNotFoundError(f"voice cache: {key}.wav was made but is gone")

    def read(self, key: str, make: Callable[[Path], object]) -> bytes:
        """The bytes of the phrase file of key (see open)."""
        with self.open(key, make) as f:
            return f.read()

    def total(self) -> int:
        """The bytes the cache counts in its folder."""
        with self._lock:
            self._scan()
            return self._total

    # --- under self._lock ---------------------------------------------------------------------
    def _scan(self) -> None:
        # Files left by an earlier run, their last use first: they count against the budget too.
        if self._scanned:
            return
        self._scanned = True
        found = []
        for entry in self.folder.glob("*.wav"):
            try:
                st = entry.stat()
            except FileNotFoundError:
                continue
            found.append((st.st_mtime, entry.stem, st.st_size))
        for _, key, size in sorted(found):
            self._sizes[key] = size
            self._total += size
        self._evict(keep=None)

    def _open(self, key: str) -> BinaryIO | None:
        self._scan()
        path = self.folder / f"{key}.wav"
        try:
            f = open(path, "rb")
        except FileNotFoundError:
            self._total -= self._sizes.pop(key, 0)
            return None
        size = os.fstat(f.fileno()).st_size
        self._total += size - self._sizes.get(key, 0)
        self._sizes[key] = size
        self._sizes.move_to_end(key)
        try:
            os.utime(f.fileno())   # its last use, for the order after a restart
        except OSError:
            pass   # a read-only folder still serves what it holds
        return f

    def _evict(self, keep: str | None) -> None:
        while self._total > self.budget and self._sizes:
            key = next(iter(self._sizes))
            if key == keep:   # the one being served, alone over the budget: it goes next time
                break
            self._total -= self._sizes.pop(key)
            (self.folder / f"{key}.wav").unlink(missing_ok=True)
