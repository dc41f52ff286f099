"""Who may use the page: accounts, sessions, sign-in limits and the audit log.

Each unit has one account named by its code; the district's officers have named accounts.
An account's secret (a code the officer sends the unit) is stored only as a salted
``hashlib.scrypt`` hash in ``<data>/access/accounts.json`` (written atomically, never
served: only ``<data>/out/`` is). Issuing a new code or revoking one raises the account's
generation, which ends every session signed in with the old one.

A session is a signed cookie (HMAC-SHA256 with a key kept in ``<data>/access/``) holding
the account, its generation, an expiry and the CSRF token every state-changing form
carries; a visitor who has not signed in gets one too, so that the sign-in form has a token.
Failed sign-ins are counted per account and per client address: the 11th within a minute
is refused. ``<data>/access/audit.jsonl`` receives one JSON line per sign-in, upload,
access change and file download; no secret is ever written there.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from pathlib import Path

from pipeline.text import nfc
from pipeline.errors import UserError
from pipeline.files import atomic_output

UNIT, OFFICER = "unit", "officer"
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud on the telephone
SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
SESSION_SECONDS = 8 * 3600
FAILURE_WINDOW_SECONDS = 60
FAILURES_ALLOWED = 10
COOKIE = "phien"


def access_folder(data: Path) -> Path:
    return data / "access"


def new_code() -> str:
    """A random code of 60 bits, as three groups of four letters and digits: ``K7QM-2XRD-P9WB``."""
    letters = "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))
    return "-".join(letters[i:i + 4] for i in range(0, 12, 4))


def _typed(code: str) -> str:
    """A code as typed: case, spaces and dashes do not matter."""
    return "".join(code.split()).replace("-", "").upper()


def _hash(code: str, salt: bytes) -> bytes:
    return hashlib.scrypt(_typed(code).encode(), salt=salt, **SCRYPT)


@dataclass(frozen=True)
class Account:
    login: str
    role: str  # UNIT or OFFICER
    generation: int
    issued_at: str
    revoked_at: str = ""

    @property
    def active(self) -> bool:
        return not self.revoked_at


class AccessStore:
    """The accounts file: read on every use, so a change made on the command line counts at once."""

    def __init__(self, data: Path) -> None:
        self.folder = access_folder(data)
        self.path = self.folder / "accounts.json"

    def _read(self) -> dict:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except ValueError:
            raise UserError(f'Tệp tài khoản "{self.path}" bị hỏng (không phải JSON): hãy khôi phục từ bản sao lưu.') from None

    def _write(self, accounts: dict) -> None:
        with atomic_output(self.path) as temporary:
            temporary.write_text(json.dumps(accounts, ensure_ascii=False, indent=2), encoding="utf-8")
            temporary.chmod(0o600)

    def accounts(self) -> list[Account]:
        return [Account(login, a["role"], a["generation"], a["issued_at"], a.get("revoked_at", ""))
                for login, a in sorted(self._read().items())]

    def account(self, login: str) -> Account | None:
        return next((a for a in self.accounts() if a.login == login), None)

    def issue(self, login: str, role: str, now: dt.datetime) -> str:
        """A new code for ``login`` (created if new); the old code and its sessions stop working."""
        accounts = self._read()
        known = accounts.get(login)
        if known is not None and known["role"] != role:
            raise UserError(f'"{login}" đã là tài khoản {_ROLE_NAMES[known["role"]]}: hãy chọn tên khác.')
        code, salt = new_code(), secrets.token_bytes(16)
        accounts[login] = {"role": role, "generation": (known or {}).get("generation", 0) + 1,
                           "issued_at": now.isoformat(timespec="seconds"), "salt": salt.hex(),
                           "hash": _hash(code, salt).hex()}
        self._write(accounts)
        return code

    def revoke(self, login: str, now: dt.datetime) -> None:
        accounts = self._read()
        known = accounts.get(login)
        if known is None or known.get("revoked_at"):
            raise UserError(f'Không có tài khoản "{login}" đang dùng được.')
        known.update(generation=known["generation"] + 1, revoked_at=now.isoformat(timespec="seconds"))
        del known["hash"], known["salt"]
        self._write(accounts)

    def verify(self, login: str, code: str) -> Account | None:
        """The account if ``code`` is its current code; the work is the same for an unknown login."""
        known = self._read().get(login)
        if known is None or "hash" not in known:
            _hash(code, b"\0" * 16)
            return None
        if not hmac.compare_digest(_hash(code, bytes.fromhex(known["salt"])), bytes.fromhex(known["hash"])):
            return None
        return self.account(login)


_ROLE_NAMES = {UNIT: "đơn vị", OFFICER: "cán bộ huyện"}


def role_name(role: str) -> str:
    return _ROLE_NAMES[role]


def signing_key(data: Path) -> bytes:
    """The key that signs session cookies, created on first use (readable by its owner only)."""
    path = access_folder(data) / "session.key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(descriptor, "wb") as f:
        key = secrets.token_bytes(32)
        f.write(key)
        f.flush()
        os.fsync(f.fileno())
    return key


@dataclass(frozen=True)
class Session:
    """A visitor's session: ``account`` is None until signed in; ``csrf`` goes in every form."""

    csrf: str
    expires: float
    account: Account | None = None

    @property
    def role(self) -> str:
        return self.account.role if self.account else ""

    @property
    def unit(self) -> str:
        """The unit code of a unit's session, else empty."""
        return self.account.login if self.account and self.account.role == UNIT else ""

    @property
    def officer(self) -> bool:
        return self.role == OFFICER


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sessions:
    """Signed session cookies; an account's session holds while its generation is current."""

    def __init__(self, key: bytes, store: AccessStore, clock=time.time, seconds: float = SESSION_SECONDS) -> None:
        self.key, self.store, self.clock, self.seconds = key, store, clock, seconds

    def _sign(self, payload: bytes) -> str:
        return _b64(hmac.new(self.key, payload, hashlib.sha256).digest())

    def new(self, account: Account | None = None) -> tuple[Session, str]:
        """A fresh session (a new CSRF token) and its cookie value."""
        session = Session(secrets.token_urlsafe(24), self.clock() + self.seconds, account)
        payload = json.dumps({"a": account.login if account else "", "g": account.generation if account else 0,
                              "e": session.expires, "c": session.csrf}).encode()
        return session, f"{_b64(payload)}.{self._sign(payload)}"

    def read(self, cookie: str | None) -> Session | None:
        """The session of a cookie, or None if it is missing, forged, expired or its account changed."""
        if not cookie or cookie.count(".") != 1:
            return None
        body, signature = cookie.split(".")
        try:
            payload = _unb64(body)
            if not hmac.compare_digest(self._sign(payload), signature):
                return None
            data = json.loads(payload)
            login, generation, expires, csrf = data["a"], data["g"], float(data["e"]), str(data["c"])
        except (ValueError, KeyError, TypeError):
            return None
        if expires < self.clock():
            return None
        if not login:
            return Session(csrf, expires)
        account = self.store.account(login)
        if account is None or not account.active or account.generation != generation:
            return None
        return Session(csrf, expires, account)


class SignInLimit:
    """Failed sign-ins per key (an account, a client address) within the last minute."""

    def __init__(self, clock=time.monotonic) -> None:
        self.clock = clock
        self.failures: dict[str, deque] = defaultdict(deque)
        self.lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque:
        times = self.failures[key]
        while times and times[0] <= now - FAILURE_WINDOW_SECONDS:
            times.popleft()
        return times

    def blocked(self, keys: list[str]) -> bool:
        with self.lock:
            now = self.clock()
            return any(len(self._recent(key, now)) >= FAILURES_ALLOWED for key in keys)

    def failed(self, keys: list[str]) -> None:
        with self.lock:
            now = self.clock()
            for key in keys:
                self._recent(key, now).append(now)


class Audit:
    """The append-only audit log: one JSON object per line, never rewritten."""

    def __init__(self, data: Path) -> None:
        self.path = access_folder(data) / "audit.jsonl"
        self.lock = threading.Lock()

    def record(self, event: str, now: dt.datetime, **details) -> None:
        line = json.dumps({"time": now.isoformat(timespec="seconds"), "event": event,
                           **{k: nfc(v) if isinstance(v, str) else v for k, v in details.items()}},
                          ensure_ascii=False) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.lock:
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(descriptor, line.encode())
            finally:
                os.close(descriptor)

    def lines(self, last: int = 200) -> list[dict]:
        """The last ``last`` entries, newest first (a damaged line is skipped)."""
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        entries = []
        for line in reversed(text.splitlines()):
            try:
                entries.append(json.loads(line))
            except ValueError:
                continue
            if len(entries) == last:
                break
        return entries
