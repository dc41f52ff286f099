"""Who may use the page: accounts, sessions, sign-in limits and the audit log.

Each unit has one account named by its code; the district's officers have named accounts.
An account's secret (a code the officer sends the unit) is stored only as a salted
``hashlib.scrypt`` hash in ``<data>/access/accounts.json`` (written atomically, never
served: only ``<data>/out/`` is). Issuing a new code or revoking one raises the account's
generation, which ends every session signed in with the old one.

A signed-in session lives on the server (``<data>/access/sessions/``, one file per session,
named by a hash of its id): the cookie (HMAC-SHA256 with a key kept in ``<data>/access/``)
carries only the id, so signing out, a new code, a revocation or an officer ends it at once,
whatever copy of the cookie is still around. A visitor who has not signed in gets a signed
cookie with a CSRF token only (no server state), so that the sign-in form has a token; every
state-changing form carries the session's token.

Failed sign-ins slow the address they come from (a growing wait after a few failures); a
unit's right code always works from an address that has not failed, so others cannot lock a
unit out. ``<data>/access/audit.jsonl`` receives one JSON line per sign-in, upload, access
change and file download (refused sign-ins of a waiting address at most once a minute, with
their count); no secret is ever written there. It is read from its end, a page at a time.
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

from pipeline.audit import Rotation, append_audit, audit_path, open_newest_first
from pipeline.text import nfc
from pipeline.errors import UserError
from pipeline.files import atomic_output

UNIT, OFFICER = "unit", "officer"
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud on the telephone
SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
SESSION_SECONDS = 8 * 3600
FAILURE_WINDOW_SECONDS = 15 * 60  # failures older than this are forgotten
FREE_FAILURES = 5  # an address's failures before it must wait
LONGEST_WAIT_SECONDS = 15 * 60  # the wait doubles with each further failure, up to this
ACCOUNT_FAILURES = 10  # an account under attack: addresses that have failed wait until the window passes
REFUSALS_NOTED_EVERY_SECONDS = 60  # a waiting address's refusals: one audit line a minute at most
KEPT_KEYS = 10_000  # addresses and accounts remembered before old ones are forgotten
LONGEST_LINE = 1024 * 1024  # an audit line longer than this is damaged
LOGIN_LENGTH = 32  # the longest login (unit codes are 5 characters): what is typed past it is not kept
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
        end_sessions(self.folder, login)
        return code

    def revoke(self, login: str, now: dt.datetime) -> None:
        accounts = self._read()
        known = accounts.get(login)
        if known is None or known.get("revoked_at"):
            raise UserError(f'Không có tài khoản "{login}" đang dùng được.')
        known.update(generation=known["generation"] + 1, revoked_at=now.isoformat(timespec="seconds"))
        del known["hash"], known["salt"]
        self._write(accounts)
        end_sessions(self.folder, login)

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


def typed_login(login: str) -> str:
    """A login as typed, cut to the longest a login can be, without control characters."""
    return "".join(ch for ch in nfc(login).strip() if ch.isprintable())[:LOGIN_LENGTH]


@dataclass(frozen=True)
class Session:
    """A visitor's session: ``account`` is None until signed in; ``csrf`` goes in every form;
    ``id`` names a signed-in session's record on the server."""

    csrf: str
    expires: float
    account: Account | None = None
    id: str = ""

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


def sessions_folder(access: Path) -> Path:
    return access / "sessions"


def _session_file(access: Path, session_id: str) -> Path:
    return sessions_folder(access) / f"{hashlib.sha256(session_id.encode()).hexdigest()}.json"


def _session_records(access: Path) -> list[tuple[Path, dict]]:
    folder = sessions_folder(access)
    records = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            records.append((path, json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError):
            continue
    return records


def end_sessions(access: Path, login: str) -> int:
    """End every session of ``login``; how many there were."""
    ended = 0
    for path, record in _session_records(access):
        if record.get("login") == login:
            path.unlink(missing_ok=True)
            ended += 1
    return ended


class Sessions:
    """Sessions: a signed cookie naming a record kept on the server (signed-in), or holding a
    CSRF token only (a visitor). A record holds while it exists, has not expired and its
    account's generation is current."""

    def __init__(self, key: bytes, store: AccessStore, clock=time.time, seconds: float = SESSION_SECONDS) -> None:
        self.key, self.store, self.clock, self.seconds = key, store, clock, seconds
        self.folder = store.folder

    def _sign(self, payload: bytes) -> str:
        return _b64(hmac.new(self.key, payload, hashlib.sha256).digest())

    def _cookie(self, payload: dict) -> str:
        raw = json.dumps(payload).encode()
        return f"{_b64(raw)}.{self._sign(raw)}"

    def new(self, account: Account | None = None, client: str = "") -> tuple[Session, str]:
        """A fresh session (a new id and CSRF token) and its cookie value; a signed-in one is
        recorded on the server (expired records are cleared on the way)."""
        csrf, expires = secrets.token_urlsafe(24), self.clock() + self.seconds
        if account is None:
            return Session(csrf, expires), self._cookie({"e": expires, "c": csrf})
        session_id = secrets.token_urlsafe(32)
        self._clear_expired()
        record = {"login": account.login, "generation": account.generation, "csrf": csrf, "expires": expires,
                  "started": self.clock(), "client": client}
        with atomic_output(_session_file(self.folder, session_id)) as temporary:
            temporary.write_text(json.dumps(record), encoding="utf-8")
            temporary.chmod(0o600)
        return Session(csrf, expires, account, session_id), self._cookie({"i": session_id})

    def read(self, cookie: str | None) -> Session | None:
        """The session of a cookie, or None if it is missing, forged, expired, ended or its account changed."""
        if not cookie or cookie.count(".") != 1 or len(cookie) > 1024:
            return None
        body, signature = cookie.split(".")
        try:
            payload = _unb64(body)
            if not hmac.compare_digest(self._sign(payload), signature):
                return None
            data = json.loads(payload)
            if "i" not in data:
                expires, csrf = float(data["e"]), str(data["c"])
                return Session(csrf, expires) if expires >= self.clock() else None
            session_id = str(data["i"])
            record = json.loads(_session_file(self.folder, session_id).read_text(encoding="utf-8"))
            login, generation, expires, csrf = record["login"], record["generation"], float(record["expires"]), record["csrf"]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None
        if expires < self.clock():
            return None
        account = self.store.account(login)
        if account is None or not account.active or account.generation != generation:
            return None
        return Session(csrf, expires, account, session_id)

    def end(self, session: Session) -> None:
        if session.id:
            _session_file(self.folder, session.id).unlink(missing_ok=True)

    def active(self) -> list[dict]:
        """The signed-in sessions that still hold, oldest first: login, started, client."""
        now = self.clock()
        return sorted(({"login": r["login"], "started": r.get("started", 0), "client": r.get("client", "")}
                       for _, r in _session_records(self.folder) if float(r.get("expires", 0)) >= now),
                      key=lambda r: r["started"])

    def _clear_expired(self) -> None:
        now = self.clock()
        for path, record in _session_records(self.folder):
            if float(record.get("expires", 0)) < now:
                path.unlink(missing_ok=True)


class SignInLimit:
    """Failed sign-ins per client address and per account. An address that failed
    ``FREE_FAILURES`` times waits before its next try, twice as long after each further
    failure; when an account has failed ``ACCOUNT_FAILURES`` times, the addresses that have
    failed wait until those failures pass. An address that has not failed never waits."""

    def __init__(self, clock=time.monotonic) -> None:
        self.clock = clock
        self.failures: dict[str, deque] = defaultdict(deque)
        self.refusals: dict[str, list] = {}  # address: [refusals not yet noted, when last noted]
        self.lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque:
        times = self.failures[key]
        while times and times[0] <= now - FAILURE_WINDOW_SECONDS:
            times.popleft()
        if not times:
            del self.failures[key]
            return deque()
        return times

    def wait(self, address: str, login: str) -> float:
        """Seconds the address must wait before trying ``login`` (0: it may try now)."""
        with self.lock:
            now = self.clock()
            mine = self._recent(f"client:{address}", now)
            if not mine:
                return 0.0
            waits = [0.0]
            if len(mine) >= FREE_FAILURES:
                waits.append(mine[-1] + min(2 ** (len(mine) - FREE_FAILURES), LONGEST_WAIT_SECONDS) - now)
            attacked = self._recent(f"account:{login}", now)
            if len(attacked) >= ACCOUNT_FAILURES:
                waits.append(attacked[-ACCOUNT_FAILURES] + FAILURE_WINDOW_SECONDS - now)
            return max(waits)

    def failed(self, address: str, login: str) -> None:
        with self.lock:
            now = self.clock()
            if len(self.failures) > KEPT_KEYS:  # many addresses: forget those whose failures are old
                for key in [k for k, times in self.failures.items() if times[-1] <= now - FAILURE_WINDOW_SECONDS]:
                    del self.failures[key]
            for key in (f"client:{address}", f"account:{login}"):
                self.failures[key].append(now)

    def refused(self, address: str) -> int:
        """Count a refusal; the refusals to note in the audit now (0: noted within the minute)."""
        with self.lock:
            now = self.clock()
            count, noted = self.refusals.get(address, (0, -REFUSALS_NOTED_EVERY_SECONDS))
            count += 1
            if now - noted < REFUSALS_NOTED_EVERY_SECONDS:
                self.refusals[address] = [count, noted]
                return 0
            if len(self.refusals) > KEPT_KEYS:
                self.refusals = {a: r for a, r in self.refusals.items() if now - r[1] < REFUSALS_NOTED_EVERY_SECONDS}
            self.refusals[address] = [0, now]
            return count


@dataclass(frozen=True)
class AuditQuery:
    """Which audit entries to show: all fields optional."""

    unit: str = ""  # the account or the unit an entry is about
    event: str = ""
    day: str = ""  # YYYY-MM-DD

    def matches(self, entry: dict) -> bool:
        return ((not self.unit or self.unit in (entry.get("account"), entry.get("unit"), entry.get("login")))
                and (not self.event or entry.get("event") == self.event)
                and (not self.day or str(entry.get("time", "")).startswith(self.day)))


class Audit:
    """The append-only audit log: one JSON object per line, never rewritten, rotated by size
    (``pipeline.audit``); read newest first across the rotated files."""

    BLOCK = 64 * 1024

    def __init__(self, data: Path, rotation: Rotation = Rotation()) -> None:
        self.data, self.rotation = data, rotation
        self.path = audit_path(data)

    def record(self, event: str, now: dt.datetime, **details) -> None:
        append_audit(self.data, event, now, self.rotation, **details)

    def _backwards(self):
        """The log's lines, newest first, across its rotated files, each read from its end a block
        at a time."""
        opened = open_newest_first(self.data)
        try:
            for f in opened:
                yield from self._file_backwards(f)
        finally:
            for f in opened:
                f.close()

    def _file_backwards(self, f):
        position, rest = f.seek(0, os.SEEK_END), b""
        while position > 0:
            step = min(self.BLOCK, position)
            position -= step
            f.seek(position)
            lines = (f.read(step) + rest).split(b"\n")
            rest = lines.pop(0)
            if len(rest) > LONGEST_LINE:  # no entry is this long: skipped, not held in memory
                rest = b""
            yield from reversed(lines)
        yield rest

    def entries(self, query: AuditQuery = AuditQuery(), skip: int = 0, last: int = 200) -> tuple[list[dict], bool]:
        """The newest ``last`` entries that match, after skipping ``skip`` of them, newest first
        (a damaged line is skipped), and whether older ones match too."""
        found, matched = [], 0
        for line in self._backwards():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if not isinstance(entry, dict) or not query.matches(entry):
                continue
            matched += 1
            if matched <= skip:
                continue
            if len(found) == last:
                return found, True
            found.append(entry)
        return found, False

    def lines(self, last: int = 200) -> list[dict]:
        """The last ``last`` entries, newest first."""
        return self.entries(last=last)[0]
