"""Login, roles, jurisdictions, sessions and identifier masking for the dashboard.

Roles (one table, :data:`ROLES`):

==============  ====================================  ==================
role            works on                              sees ID/phone
==============  ====================================  ==================
``analyst``     the live map, series, KPIs            masked
``case_officer`` linking serial cases, case files     in full
``commander``   plans, activations, the task board    masked
``county_team`` its own tasks and cases on the ground in full
==============  ====================================  ==================

Every user is bound to one jurisdiction: the province (``330000``), a city
(``330200``) or a county (``330211``); :mod:`dashboard.scope` turns it into
the server-side filter of everything the user's browser receives.

Users come from a TOML file named by ``ICC_USERS_FILE`` (there are no
built-in users; ``icc demo`` writes its own file with random passwords)::

    [[user]]
    name = "li.analyst"
    role = "analyst"
    jurisdiction = 330000
    password = "scrypt$16384$8$1$<salt hex>$<hash hex>"   # python -m dashboard.auth hash

Passwords are stored as salted ``hashlib.scrypt`` hashes and compared in
constant time. A session is a random token held server-side (the cookie only
carries it, signed); it ends at logout, after ``ICC_SESSION_IDLE_MINUTES``
(default 30) without a request or ``ICC_SESSION_MAX_HOURS`` (default 12)
after login, whichever comes first. After ``ICC_LOGIN_MAX_FAILURES`` (default 5)
failed sign-ins for one user name from one address within
``ICC_LOGIN_WINDOW_MINUTES`` (default 5), further attempts from there are refused
with HTTP 429 until the window has passed (:class:`LoginLimiter`).

Example
-------
>>> h = hash_password("correct horse battery", n=2**10)
>>> verify_password("correct horse battery", h), verify_password("wrong", h)
(True, False)
>>> mask_text("phone 13812345678, id 33010619800101001X")
'phone 138****5678, id 330106********001X'
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import hmac
import logging
import os
import re
import secrets
import sys
import threading
import time
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, g, jsonify, redirect, render_template_string, request, session

from dashboard.audit import AuditLog

__all__ = [
    "ROLES",
    "LoginLimiter",
    "Role",
    "SessionStore",
    "User",
    "UserStore",
    "current_user",
    "hash_password",
    "install_auth",
    "jurisdiction_level",
    "mask_id",
    "mask_phone",
    "mask_text",
    "verify_password",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Role:
    name: str
    label: str
    sees_identifiers: bool  # identity numbers and phones in full


ROLES: dict[str, Role] = {
    "analyst": Role("analyst", "Analyst", sees_identifiers=False),
    "case_officer": Role("case_officer", "Case officer", sees_identifiers=True),
    "commander": Role("commander", "Commander", sees_identifiers=False),
    "county_team": Role("county_team", "County team", sees_identifiers=True),
}


def jurisdiction_level(adcode: int) -> str:
    """``province``, ``city`` or ``county`` from the shape of a 6-digit adcode."""
    if isinstance(adcode, bool) or not isinstance(adcode, int) or not 110000 <= adcode <= 829999:
        raise ValueError(f"jurisdiction {adcode!r}: expected a 6-digit adcode such as 330211")
    if adcode % 10000 == 0:
        return "province"
    if adcode % 100 == 0:
        return "city"
    return "county"


# -- passwords ---------------------------------------------------------------
def hash_password(password: str, *, n: int = 2**14, r: int = 8, p: int = 1) -> str:
    """A salted scrypt hash: ``scrypt$N$r$p$salt_hex$hash_hex``."""
    if not isinstance(password, str) or len(password) < 8:
        raise ValueError("password: expected a string of at least 8 characters")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32)
    return f"scrypt${n}${r}${p}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a :func:`hash_password` string (constant-time compare)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(
            password.encode("utf-8"),
            salt=bytes.fromhex(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(bytes.fromhex(digest)),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), digest)


# -- masking -----------------------------------------------------------------
_ID = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8})(\d{3}[\dXx])(?![0-9A-Za-z])")
_PHONE = re.compile(r"(?<!\d)(\+?86[\s-]?)?(1\d{2})[\s-]?(\d{4})[\s-]?(\d{4})(?!\d)")


def mask_id(value: str | None) -> str | None:
    """``33010619800101001X`` -> ``330106********001X`` (other strings: all but 4 hidden)."""
    if not value:
        return value
    if _ID.fullmatch(value.strip()):
        return mask_text(value.strip())
    return "*" * max(len(value) - 4, 0) + value[-4:]


def mask_phone(value: str | None) -> str | None:
    """``+86 138-1234-5678`` -> ``138****5678`` (other strings: all but 4 hidden)."""
    if not value:
        return value
    m = _PHONE.fullmatch(value.strip())
    if m:
        return f"{m.group(2)}****{m.group(4)}"
    return "*" * max(len(value) - 4, 0) + value[-4:]


def mask_text(text: str) -> str:
    """Every identity number and mobile number inside free text, masked."""
    text = _ID.sub(lambda m: f"{m.group(1)}********{m.group(3)}", text)
    return _PHONE.sub(lambda m: f"{m.group(2)}****{m.group(4)}", text)


# -- users -------------------------------------------------------------------
@dataclass(frozen=True)
class User:
    name: str
    role: str
    jurisdiction: int
    password_hash: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ValueError(f"user name {self.name!r}: expected a non-empty string")
        if self.role not in ROLES:
            raise ValueError(
                f"user {self.name!r}: role {self.role!r}: expected one of {', '.join(ROLES)}"
            )
        jurisdiction_level(self.jurisdiction)

    @property
    def sees_identifiers(self) -> bool:
        return ROLES[self.role].sees_identifiers

    @property
    def level(self) -> str:
        return jurisdiction_level(self.jurisdiction)


_DUMMY_HASH = "scrypt$16384$8$1$" + "00" * 16 + "$" + "00" * 32


class UserStore:
    """The known users, by name."""

    def __init__(self, users: Iterable[User] = ()) -> None:
        self._users: dict[str, User] = {}
        for u in users:
            if u.name in self._users:
                raise ValueError(f"user {u.name!r} is defined twice")
            self._users[u.name] = u

    @classmethod
    def from_file(cls, path: str | Path) -> UserStore:
        """Users from a TOML file of ``[[user]]`` tables (see the module docstring)."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path}: not valid TOML: {exc}") from None
        users = []
        for i, row in enumerate(data.get("user", [])):
            missing = {"name", "role", "jurisdiction", "password"} - set(row)
            if missing:
                raise ValueError(f"{path}: user {i + 1}: missing {', '.join(sorted(missing))}")
            if not str(row["password"]).startswith("scrypt$"):
                raise ValueError(
                    f"{path}: user {row['name']!r}: password must be a scrypt hash "
                    "(python -m dashboard.auth hash), never plain text"
                )
            users.append(
                User(str(row["name"]), str(row["role"]), int(row["jurisdiction"]), row["password"])
            )
        log.info("%d dashboard users from %s", len(users), path)
        return cls(users)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> UserStore:
        """Users from ``ICC_USERS_FILE``; none (every login refused) when it is unset."""
        env = os.environ if env is None else env
        raw = (env.get("ICC_USERS_FILE") or "").strip()
        if not raw:
            log.warning("ICC_USERS_FILE is not set: no dashboard users, every login is refused")
            return cls()
        return cls.from_file(raw)

    def get(self, name: str) -> User | None:
        return self._users.get(name)

    def authenticate(self, name: str, password: str) -> User | None:
        """The user if the password matches; the same work is done for unknown names."""
        user = self._users.get(name)
        ok = verify_password(password, user.password_hash if user else _DUMMY_HASH)
        return user if (user is not None and ok) else None

    def __len__(self) -> int:
        return len(self._users)


# -- sessions ----------------------------------------------------------------
def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r}: expected a positive number") from None
    if value <= 0:
        raise ValueError(f"{name}={raw!r}: expected a positive number")
    return value


@dataclass
class _Session:
    user: str
    issued: float
    seen: float


class SessionStore:
    """Server-side sessions: random tokens with an idle and an absolute lifetime."""

    def __init__(self, idle_s: float | None = None, max_s: float | None = None) -> None:
        self.idle_s = (
            idle_s if idle_s is not None else 60 * _env_float("ICC_SESSION_IDLE_MINUTES", 30)
        )
        self.max_s = max_s if max_s is not None else 3600 * _env_float("ICC_SESSION_MAX_HOURS", 12)
        self._sessions: dict[str, _Session] = {}
        self._lock = threading.Lock()

    def create(self, user: str) -> str:
        sid = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            self._sessions[sid] = _Session(user, now, now)
        return sid

    def user_of(self, sid: str | None) -> str | None:
        """The session's user name, refreshing its idle timer; ``None`` if unknown or expired."""
        if not sid:
            return None
        now = time.monotonic()
        with self._lock:
            s = self._sessions.get(sid)
            if s is None:
                return None
            if now - s.seen > self.idle_s or now - s.issued > self.max_s:
                del self._sessions[sid]
                return None
            s.seen = now
            return s.user

    def drop(self, sid: str | None) -> None:
        with self._lock:
            self._sessions.pop(sid or "", None)


class LoginLimiter:
    """Failed sign-ins per (user name, address) in a sliding window.

    >>> lim = LoginLimiter(max_failures=2, window_s=60)
    >>> lim.fail("li", "10.0.0.1", now=0.0); lim.fail("li", "10.0.0.1", now=1.0)
    >>> lim.retry_after("li", "10.0.0.1", now=2.0), lim.retry_after("li", "10.0.0.2", now=2.0)
    (58, 0)
    """

    def __init__(self, max_failures: int | None = None, window_s: float | None = None) -> None:
        if max_failures is None:
            max_failures = int(_env_float("ICC_LOGIN_MAX_FAILURES", 5))
        if window_s is None:
            window_s = 60 * _env_float("ICC_LOGIN_WINDOW_MINUTES", 5)
        if isinstance(max_failures, bool) or not isinstance(max_failures, int) or max_failures < 1:
            raise ValueError(f"max_failures = {max_failures!r}: expected an int of at least 1")
        if not window_s > 0:
            raise ValueError(f"window_s = {window_s!r}: expected a positive number of seconds")
        self.max_failures = max_failures
        self.window_s = float(window_s)
        self._failures: dict[tuple[str, str], list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> list[float]:
        kept = [t for t in self._failures.get(key, []) if now - t < self.window_s]
        if kept:
            self._failures[key] = kept
        else:
            self._failures.pop(key, None)
        return kept

    def retry_after(self, name: str, address: str, now: float | None = None) -> int:
        """Seconds until ``name`` may try again from ``address`` (0: now)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            recent = self._recent((name, address), now)
            if len(recent) < self.max_failures:
                return 0
            return max(1, int(recent[-self.max_failures] + self.window_s - now + 0.999))

    def fail(self, name: str, address: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            if len(self._failures) > 100_000:  # a flood of made-up names: keep memory bounded
                for key in list(self._failures):
                    self._recent(key, now)
            self._recent((name, address), now)
            self._failures.setdefault((name, address), []).append(now)

    def reset(self, name: str, address: str) -> None:
        with self._lock:
            self._failures.pop((name, address), None)


# -- Flask wiring ------------------------------------------------------------
_LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }} — sign in</title>
<link rel="stylesheet" href="/assets/style.css"></head>
<body class="login-body"><form class="login" method="post" action="/login">
<h1>{{ title }}</h1>
{% if error %}<p class="login-error" id="login-error">{{ error }}</p>{% endif %}
<label>User <input name="username" id="username" autocomplete="username" required></label>
<label>Password <input name="password" id="password" type="password"
 autocomplete="current-password" required></label>
<button type="submit" id="login-submit">Sign in</button>
</form></body></html>"""

#: paths reachable without a session (the login form and its stylesheet; the tasking API
#: under /api/ authenticates with its own bearer tokens; the health check and Prometheus
#: metrics of icc.ops carry counts only, no case data)
_OPEN_PATHS = frozenset(("/login", "/assets/style.css", "/_favicon.ico", "/healthz", "/metrics"))
_OPEN_PREFIXES = ("/api/",)


def _is_open(path: str) -> bool:
    """Whether ``path`` is served without a session: exactly one of :data:`_OPEN_PATHS`
    (``/metricsX`` is not ``/metrics``) or under an open prefix."""
    return path in _OPEN_PATHS or path.startswith(_OPEN_PREFIXES)


def current_user() -> User | None:
    """The signed-in user of the current request (``None`` outside a valid session)."""
    return getattr(g, "icc_user", None) if _has_request() else None


def _has_request() -> bool:
    from flask import has_request_context

    return has_request_context()


def install_auth(
    server: Flask,
    users: UserStore,
    sessions: SessionStore,
    audit: AuditLog,
    title: str,
    secret_key: str | None = None,
    limiter: LoginLimiter | None = None,
) -> None:
    """Add ``/login`` and ``/logout`` and refuse every other request without a session.

    Pages redirect to ``/login``; Dash's JSON endpoints answer 401. The signed
    cookie holds only the session token; it is ``HttpOnly`` and ``SameSite=Lax``.
    """
    limiter = limiter if limiter is not None else LoginLimiter()
    server.secret_key = secret_key or os.environ.get("ICC_SECRET_KEY") or secrets.token_hex(32)
    server.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="icc_session",
    )

    @server.before_request
    def _require_login() -> Any:
        path = request.path
        name = sessions.user_of(session.get("sid"))
        user = users.get(name) if name else None
        g.icc_user = user
        if user is not None or _is_open(path):
            return None
        if request.method == "GET" and not path.startswith("/_dash"):
            return redirect("/login")
        return jsonify({"error": "not signed in"}), 401

    @server.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        if request.method == "GET":
            return render_template_string(_LOGIN_PAGE, title=title, error=None)
        name = (request.form.get("username") or "").strip()
        address = request.remote_addr or ""
        wait = limiter.retry_after(name[:64], address)
        if wait:
            audit.record(name[:64] or "?", "-", 0, "login_throttled", address)
            log.warning(
                "dashboard login for %r from %s refused: too many failures", name[:64], address
            )
            minutes = (wait + 59) // 60
            error = (
                f"Too many failed sign-ins for this user from your address. "
                f"Try again in {minutes} minute{'s' if minutes != 1 else ''}."
            )
            page = render_template_string(_LOGIN_PAGE, title=title, error=error)
            return page, 429, {"Retry-After": str(wait)}
        user = users.authenticate(name, request.form.get("password") or "")
        if user is None:
            limiter.fail(name[:64], address)
            audit.record(name[:64] or "?", "-", 0, "login_failed", address)
            log.warning("failed dashboard login for %r from %s", name[:64], address)
            page = render_template_string(_LOGIN_PAGE, title=title, error="Wrong user or password")
            return page, 401
        limiter.reset(name[:64], address)
        sessions.drop(session.get("sid"))
        session.clear()
        session["sid"] = sessions.create(user.name)
        audit.record(user.name, user.role, user.jurisdiction, "login", request.remote_addr or "")
        return redirect("/")

    @server.route("/logout")
    def logout() -> Any:
        user = current_user()
        if user is not None:
            audit.record(user.name, user.role, user.jurisdiction, "logout", "")
        sessions.drop(session.get("sid"))
        session.clear()
        return redirect("/login")


def _main(argv: list[str] | None = None) -> int:
    """``python -m dashboard.auth hash``: read a password (twice) and write its hash."""
    parser = argparse.ArgumentParser(prog="python -m dashboard.auth")
    parser.add_argument("command", choices=["hash"])
    parser.parse_args(argv)
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            sys.stderr.write("passwords differ\n")
            return 1
    else:
        first = sys.stdin.readline().rstrip("\n")
    sys.stdout.write(hash_password(first) + "\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(_main())
