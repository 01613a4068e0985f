"""Printer transports: open a printer from a URL, check it, send rendered bytes.

Accepted URLs::

    tcp://192.168.1.50:9100            Ethernet printer (port 9100 by default)
    usb://0x04b8:0x0202                USB vendor:product (needs pyusb)
    serial:///dev/ttyUSB0?baudrate=9600
    serial://rfc2217://host:4000       any pyserial URL
    file:///dev/usb/lp0                a device file (write only, no status)
    dummy://                           in memory, for tests

Every URL takes ``?status=0`` for printers without a return channel: status
queries are then skipped and a written ticket counts as printed.
"""

from __future__ import annotations

import socket
import threading
from typing import Any
from urllib.parse import parse_qsl, urlencode

from escpos.escpos import Escpos
from escpos.exceptions import DeviceNotFoundError
from escpos.printer import Dummy, File, Network

from .errors import (
    CoverOpen,
    PaperOut,
    PrinterError,
    PrinterFault,
    PrinterNotReading,
    PrinterOffline,
    PrinterURLError,
    PrintUncertain,
)
from .layout import TicketView, render_ticket
from .status import QUERY, PrinterStatus, decode, valid

__all__ = [
    "SerialURL",
    "check_ready",
    "forget_printers",
    "open_printer",
    "probe",
    "render_bytes",
    "send",
]

ACCEPTED = (
    "tcp://HOST:9100, usb://0xVENDOR:0xPRODUCT, serial:///dev/ttyUSB0?baudrate=9600 "
    "(or serial://<pyserial URL>), file:///dev/usb/lp0, dummy://"
)

_SERIAL_KEYS = {
    "baudrate": int,
    "bytesize": int,
    "parity": str,
    "stopbits": float,
    "xonxoff": bool,
    "rtscts": bool,
    "dsrdtr": bool,
}


def _flag(value: str) -> bool:
    """Read a query-string boolean."""
    return value.strip().lower() not in ("0", "false", "no", "off", "")


class _StatusMixin:
    """Status-channel settings shared by our transports."""

    status_enabled: bool = True
    status_timeout: float = 1.5


class TcpPrinter(_StatusMixin, Network):  # type: ignore[misc]  # escpos is untyped
    """python-escpos Network with a short status timeout and an input drain."""

    def __init__(
        self, host: str, port: int, *, timeout: float, status: bool, profile: str
    ) -> None:
        """Create a network printer; the connection opens on first use."""
        super().__init__(host=host, port=port, timeout=timeout, profile=profile)
        self.status_enabled = status
        self.status_timeout = min(timeout, 1.5)

    def open(self, raise_not_found: bool = True) -> None:
        """Connect; raise DeviceNotFoundError if nothing accepts the connection."""
        if self._device:
            self.close()
        try:
            # create_connection closes its socket on failure; Network.open
            # leaks it, which shows up as a ResourceWarning on every retry.
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as e:
            self.device = None
            raise DeviceNotFoundError(f"Could not connect to {self.host}:{self.port}: {e}")
        self.device = sock

    def _read(self) -> bytes:
        """Read a status reply, waiting at most status_timeout."""
        assert self.device
        self.device.settimeout(self.status_timeout)
        try:
            reply = self.device.recv(16)
        finally:
            self.device.settimeout(self.timeout)
        if not reply:
            # recv() returning nothing means the printer closed the connection.
            raise ConnectionAbortedError("the printer closed the connection")
        return reply

    def drain(self) -> None:
        """Discard bytes the printer sent unasked (late replies, auto status)."""
        if not self._device:
            return
        sock = self._device
        sock.setblocking(False)
        try:
            while sock.recv(256):
                pass
        except OSError:
            pass
        finally:
            sock.settimeout(self.timeout)


class SerialURL(_StatusMixin, Escpos):  # type: ignore[misc]  # escpos is untyped
    """Serial printer opened with pyserial's serial_for_url (a device path or any pyserial URL)."""

    def __init__(
        self,
        port: str,
        *,
        timeout: float = 3.0,
        status: bool = True,
        profile: str | None = None,
        **serial_args: Any,
    ) -> None:
        """Create a serial printer; the port opens on first use."""
        Escpos.__init__(self, profile=profile)
        self.port = port
        self.timeout = timeout
        self.serial_args = serial_args
        self.status_enabled = status
        self.status_timeout = min(timeout, 1.5)
        self._device: Any = False

    def open(self, raise_not_found: bool = True) -> None:
        """Open the port; raise DeviceNotFoundError if it cannot be opened."""
        import serial  # the serial extra is optional for Ethernet-only centers

        if self._device:
            self.close()
        try:
            self.device = serial.serial_for_url(
                self.port,
                timeout=self.status_timeout,
                write_timeout=self.timeout,
                **self.serial_args,
            )
        except (OSError, ValueError) as e:
            self.device = None
            raise DeviceNotFoundError(f"Unable to open serial printer {self.port}: {e}")

    def _raw(self, msg: bytes) -> None:
        """Write bytes and wait until the OS has passed them on."""
        assert self.device
        # A raster ticket is ~20 kB: 20 s at 9600 baud (10 bits a byte, plus
        # slack), so a fixed write timeout would cut every ticket short.
        baudrate = getattr(self.device, "baudrate", 9600) or 9600
        self.device.write_timeout = self.timeout + len(msg) * 11 / baudrate
        self.device.write(msg)
        self.device.flush()

    def _read(self) -> bytes:
        """Read a status reply: return as soon as one byte arrives."""
        assert self.device
        # python-escpos' Serial reads 16 bytes and so always waits the full
        # timeout for a one-byte reply; four queries per ticket would cost seconds.
        first: bytes = self.device.read(1)
        if not first:
            return b""
        return first + bytes(self.device.read(self.device.in_waiting))

    def drain(self) -> None:
        """Discard bytes the printer sent unasked."""
        if not self._device:
            return
        try:
            self._device.reset_input_buffer()
        except Exception as e:
            # termios.error (port gone) is not an OSError; make it one so
            # callers handle a lost port in one place.
            raise OSError(f"serial port lost: {e}") from e

    def close(self) -> None:
        """Close the port."""
        if not self._device:
            return
        try:
            self._device.close()
        except OSError:
            pass
        self._device = False


def _split_query(rest: str) -> tuple[str, dict[str, str]]:
    """Split 'target?a=1&b=2' into the target and its query."""
    target, _, query = rest.partition("?")
    return target, dict(parse_qsl(query, keep_blank_values=True))


def _bad(url: str, why: str) -> PrinterURLError:
    """Build a PrinterURLError that lists the accepted forms."""
    return PrinterURLError(f"Bad printer URL {url!r}: {why}. Accepted: {ACCEPTED}")


def _build(url: str, profile: str, timeout: float) -> Escpos:
    """Construct (but do not connect) the printer object for a URL."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise _bad(url, "no scheme")
    scheme = scheme.lower()
    target, query = _split_query(rest)
    status = _flag(query.pop("status", "1"))

    if scheme == "tcp":
        host, _, port_text = target.rstrip("/").rpartition(":")
        if not host:
            host, port_text = target.rstrip("/"), "9100"
        try:
            port = int(port_text)
        except ValueError:
            raise _bad(url, f"port {port_text!r} is not a number") from None
        if not host or "/" in host or not 0 < port < 65536:
            raise _bad(url, "expected tcp://host:port")
        return TcpPrinter(host.strip("[]"), port, timeout=timeout, status=status, profile=profile)

    if scheme == "usb":
        try:
            vendor, product = (int(part, 16) for part in target.split(":"))
            in_ep = int(query.pop("in_ep", "0x82"), 16)
            out_ep = int(query.pop("out_ep", "0x01"), 16)
        except ValueError:
            raise _bad(url, "expected usb://0xVENDOR:0xPRODUCT (hexadecimal)") from None
        from escpos.printer import Usb  # imports pyusb only when a USB printer is used

        if not Usb.is_usable():
            raise PrinterError(
                f"{url}: USB printing needs pyusb: pip install 'python-escpos[usb]'"
            )
        printer = Usb(
            vendor, product, timeout=int(timeout * 1000), in_ep=in_ep, out_ep=out_ep,
            profile=profile,
        )
        printer.status_enabled = status
        return printer

    if scheme == "serial":
        args: dict[str, Any] = {}
        for key, convert in _SERIAL_KEYS.items():
            if key in query:
                raw = query.pop(key)
                try:
                    args[key] = _flag(raw) if convert is bool else convert(raw)
                except ValueError:
                    raise _bad(url, f"{key}={raw!r} is not valid") from None
        if "stopbits" in args and args["stopbits"] in (1.0, 2.0):
            args["stopbits"] = int(args["stopbits"])
        if "://" in target:
            # A pyserial URL keeps the options we do not know (e.g. ?logging=debug).
            device = target + ("?" + urlencode(query) if query else "")
        elif target.startswith("/") or target.upper().startswith("COM"):
            if query:
                raise _bad(url, f"unknown option(s) {', '.join(query)}")
            device = target
        else:
            raise _bad(url, "expected serial:///dev/ttyUSB0 or serial://<pyserial URL>")
        return SerialURL(device, timeout=timeout, status=status, profile=profile, **args)

    if scheme == "file":
        if not target.startswith("/"):
            raise _bad(url, "expected an absolute path, file:///dev/usb/lp0")
        printer = File(target, profile=profile)
        printer.status_enabled = status
        return printer

    if scheme == "dummy":
        return Dummy(profile=profile)

    raise _bad(url, f"unknown scheme {scheme!r}")


def _connect(printer: Escpos, url: str) -> None:
    """Open the printer's connection, mapping failures to PrinterOffline."""
    if isinstance(printer, Dummy):
        return
    try:
        printer.open()
    except (DeviceNotFoundError, OSError) as e:
        raise PrinterOffline(f"{url}: cannot connect: {e}") from e


def open_printer(url: str, *, profile: str = "TM-T88V", timeout: float = 3.0) -> Escpos:
    """Return a connected python-escpos printer for a printer URL."""
    printer = _build(url, profile, timeout)
    _connect(printer, url)
    return printer


def _can_read(printer: Escpos) -> bool:
    """Tell whether the transport has a return channel (File and Dummy have none)."""
    # Decided before querying: query_status writes the query first and only
    # then finds out that it cannot read the answer.
    return type(printer)._read is not Escpos._read


# What to do about a printer (or print server) that takes tickets but never answers a status query.
NO_REPLY_HINT = "if it has no return channel, add ?status=0 to its address"


def _status(printer: Escpos, query: bytes) -> int:
    """Send one DLE EOT query and return the reply byte."""
    try:
        reply = printer.query_status(query)
    except TimeoutError as e:
        raise PrinterNotReading(f"no answer to a status query: {e} ({NO_REPLY_HINT})") from e
    except OSError as e:
        if "Timeout" in type(e).__name__:  # pyusb's USBTimeoutError
            raise PrinterNotReading(f"no answer to a status query: {e} ({NO_REPLY_HINT})") from e
        raise PrinterOffline(f"connection lost: {e}") from e
    if not reply:
        raise PrinterNotReading(f"no answer to a status query ({NO_REPLY_HINT})")
    value = int(reply[-1])
    if not valid(value):
        raise PrinterNotReading(f"unexpected status reply 0x{value:02x}")
    return value


#: The error raised for each state in which a ticket must not be sent.
_REFUSALS: dict[str, type[PrinterError]] = {
    "paper_out": PaperOut,
    "cover_open": CoverOpen,
    "error": PrinterFault,
    "offline": PrinterOffline,
}


def has_status(printer: Escpos) -> bool:
    """Tell whether the printer can be asked for its status (a return channel, not disabled)."""
    return bool(getattr(printer, "status_enabled", True)) and _can_read(printer)


def read_status(printer: Escpos) -> PrinterStatus:
    """Ask a connected printer (DLE EOT) what state it is in; raise only if it cannot answer."""
    drain = getattr(printer, "drain", None)
    if drain is not None:
        try:
            drain()
        except OSError as e:
            raise PrinterOffline(f"connection lost: {e}") from e

    def ask(n: int) -> int:
        if n in (2, 3):
            # Asked only of a printer that said "offline": one that cannot name the cause
            # (an old or cheap model) is still offline, not "not reading".
            try:
                return _status(printer, QUERY[n])
            except PrinterNotReading:
                return 0x12  # the fixed bits alone: no cause known
        return _status(printer, QUERY[n])

    return decode(ask)


def check_ready(printer: Escpos) -> PrinterStatus | None:
    """Ask the printer whether it can print; raise the matching PrinterError if not.

    Returns the status (ok or paper_near_end), or None for a printer without a status channel.
    """
    if not has_status(printer):
        return None
    status = read_status(printer)
    if not status.printable:
        raise _REFUSALS.get(status.state, PrinterError)(status.detail)
    return status


def _disconnect(printer: Escpos) -> None:
    """Close the connection; the printer object stays cached."""
    drain = getattr(printer, "drain", None)
    # The job's outcome is already decided: a port that vanished while closing
    # changes nothing, and the next job reconnects.
    try:
        # Closing a socket with unread input sends a reset, which may discard
        # ticket bytes the printer has not yet taken.
        if drain is not None:
            drain()
    except Exception:
        pass
    try:
        printer.close()
    except Exception:
        # Forget the broken handle so the next job opens a fresh one.
        printer._device = False


_printers: dict[tuple[str, str, float], Escpos] = {}
_locks: dict[str, threading.Lock] = {}
_cache_lock = threading.Lock()


def _cached(url: str, profile: str, timeout: float) -> tuple[Escpos, threading.Lock]:
    """Return the cached printer object for a URL and the lock that serialises its use."""
    with _cache_lock:
        key = (url, profile, timeout)
        printer = _printers.get(key)
        if printer is None:
            printer = _printers[key] = _build(url, profile, timeout)
        lock = _locks.setdefault(url, threading.Lock())
    return printer, lock


def forget_printers() -> None:
    """Drop all cached printer objects (after a configuration change)."""
    with _cache_lock:
        for printer in _printers.values():
            _disconnect(printer)
        _printers.clear()


def send(
    url: str, data: bytes, *, profile: str = "TM-T88V", timeout: float = 3.0
) -> PrinterStatus | None:
    """Print rendered bytes: check the printer, write, confirm; PrintUncertain if unconfirmed.

    Returns the printer's status after the ticket (ok or paper_near_end), or None for a
    printer without a status channel.
    """
    printer, lock = _cached(url, profile, timeout)
    with lock:
        quick: float | None = None
        after: PrinterStatus | None = None
        try:
            try:
                _connect(printer, url)
                # Ask before writing: a printer that accepts the connection but
                # never reads would otherwise swallow the ticket into the kernel buffer.
                check_ready(printer)
            except PrinterError:
                raise
            except Exception as e:
                # Only status queries were written so far: safe to retry.
                raise PrinterError(f"{url}: {e!r}") from e
            quick = getattr(printer, "status_timeout", None)
            try:
                printer._raw(data)
                # A reply to a query sent after the ticket shows the printer read
                # everything before it (TCP and serial keep order).  A printer
                # with a small buffer takes that query only once it has printed
                # most of the ticket: allow about 4 kB a second on top.
                if quick is not None:
                    printer.status_timeout = timeout + len(data) / 4096
                after = check_ready(printer)
            except Exception as e:
                uncertain = PrintUncertain(
                    f"{url}: sent {len(data)} bytes but the printer did not confirm: {e}"
                )
                # The spool reports the printer state that caused the doubt.
                uncertain.state = e.state if isinstance(e, PrinterError) else "error"
                raise uncertain from e
        finally:
            if quick is not None:
                printer.status_timeout = quick
            _disconnect(printer)
    return after


def probe(
    url: str, *, profile: str = "TM-T88V", timeout: float = 1.0
) -> PrinterStatus | None:
    """Ask an idle printer its state without printing (connect, DLE EOT, close); None if it cannot say.

    Never raises for a printer fault: an unreachable printer is reported as offline.  A
    printer without a return channel (file://, ``?status=0``, dummy://) is not even opened:
    opening a file printer would truncate it.
    """
    try:
        printer, lock = _cached(url, profile, timeout)
    except PrinterError as e:
        return PrinterStatus(e.state, str(e))
    if not has_status(printer):
        return None
    with lock:
        try:
            _connect(printer, url)
            return read_status(printer)
        except PrinterError as e:
            return PrinterStatus(e.state, str(e))
        except Exception as e:
            return PrinterStatus("error", f"{url}: {e!r}")
        finally:
            _disconnect(printer)


_dummies = threading.local()


def render_bytes(ticket: TicketView, *, profile: str = "TM-T88V", paper: str = "80mm") -> bytes:
    """Render a ticket to ESC/POS bytes for a printer profile."""
    # One Dummy per thread and profile: building a printer object costs
    # milliseconds, and a Dummy's output buffer must not be shared by threads.
    cache: dict[str, Dummy] = getattr(_dummies, "by_profile", None) or {}
    _dummies.by_profile = cache
    dummy = cache.get(profile)
    if dummy is None:
        dummy = cache[profile] = Dummy(profile=profile)
    dummy.clear()
    render_ticket(dummy, ticket, paper=paper)
    return bytes(dummy.output)
