"""Typed errors of DL/T 645 transactions, in agent/errors.py's tree.

A silent meter raises ``agent.errors.DeviceTimeout`` and a port that fails ``TransportError``, as on
Modbus. What is DL/T 645's own: an abnormal reply (the meter refused, with error bits) and a framing
error (a reply that did not answer the request, or failed its checksum). Neither is ever a value.
"""

from __future__ import annotations

from agent.errors import DeviceError, DeviceException, FramingError
from drivers.dlt645.codes import ErrorKind, function_name


class AbnormalReply(DeviceException):
    """The meter answered with control ``request | 0xC0``: ``kinds`` are the bits of its error byte.

    A ``DeviceException`` like a Modbus exception, so the same "the device refused" handling applies;
    ``function_code`` is the request's control code, ``exception_code`` the raw error byte.
    """

    def __init__(self, device: str, function_code: int, error_byte: int, kinds: tuple[ErrorKind, ...]) -> None:
        DeviceError.__init__(
            self,
            device,
            f"abnormal reply to {function_name(function_code)}: {', '.join(kinds)} (error byte {error_byte:02X})",
        )
        self.function_code = function_code
        self.exception_code = error_byte
        self.kinds = kinds


class Dlt645FramingError(FramingError):
    """A reply that did not answer its request (another meter, function or data identifier, a wrong
    length, a value that is not BCD) or failed its checksum. Counted, never turned into a value.
    A ``FramingError`` like its Modbus counterpart.
    """
