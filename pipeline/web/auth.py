"""Who a request comes from, and which routes each audience may reach.

Starlette's ``AuthenticationMiddleware`` reads the session cookie through ``SessionBackend``:
a signed-in unit has the scopes ``signed_in`` and ``unit``, an officer ``signed_in`` and
``officer``; a visitor none. Every route's endpoint is declared with one of ``public``,
``members`` (a unit or an officer; the endpoint checks the unit is the one asked about),
``units`` or ``officers``, which wrap Starlette's ``requires``: the anonymous are sent to the
sign-in page (401, turned into a redirect), the wrong role gets the same 404 as a page that
does not exist. ``AUDIENCE`` on each endpoint lets a test see that no route lacks one.
"""

from __future__ import annotations

from starlette.authentication import AuthCredentials, AuthenticationBackend, BaseUser, requires
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request

from pipeline.web.access import COOKIE, OFFICER, UNIT, Session, Sessions

SIGNED_IN = "signed_in"
PUBLIC, MEMBERS, UNITS, OFFICERS = "public", "members", "units", "officers"
AUDIENCE = "audience"  # the attribute each endpoint carries


class Visitor(BaseUser):
    """The request's visitor: its session (None without a valid cookie)."""

    def __init__(self, session: Session | None) -> None:
        self.session = session

    @property
    def is_authenticated(self) -> bool:
        return self.session is not None and self.session.account is not None

    @property
    def display_name(self) -> str:
        return self.session.account.login if self.is_authenticated else ""

    @property
    def identity(self) -> str:
        return self.display_name

    @property
    def unit(self) -> str:
        return self.session.unit if self.session else ""

    @property
    def officer(self) -> bool:
        return self.session is not None and self.session.officer


class SessionBackend(AuthenticationBackend):
    def __init__(self, sessions: Sessions) -> None:
        self.sessions = sessions

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser]:
        session = self.sessions.read(conn.cookies.get(COOKIE))
        visitor = Visitor(session)
        scopes = [SIGNED_IN, session.role] if visitor.is_authenticated else []
        return AuthCredentials(scopes), visitor


def _declared(endpoint, audience: str):
    setattr(endpoint, AUDIENCE, audience)
    return endpoint


def public(endpoint):
    """Anyone, signed in or not."""
    return _declared(endpoint, PUBLIC)


def members(endpoint):
    """A signed-in unit or officer (the endpoint checks a unit asks only about itself)."""
    return _declared(requires(SIGNED_IN, status_code=401)(endpoint), MEMBERS)


def units(endpoint):
    return _declared(requires(SIGNED_IN, status_code=401)(requires(UNIT, status_code=404)(endpoint)), UNITS)


def officers(endpoint):
    return _declared(requires(SIGNED_IN, status_code=401)(requires(OFFICER, status_code=404)(endpoint)), OFFICERS)


def visitor(request: Request) -> Visitor:
    return request.user


def may_see_unit(request: Request, unit: str) -> bool:
    """An officer sees every unit; a unit only itself."""
    who = visitor(request)
    return who.officer or (who.unit != "" and who.unit == unit)


def check_csrf(request: Request, form) -> None:
    """A state-changing form must carry its session's token: 403 otherwise."""
    session = visitor(request).session
    if session is None or form.get("csrf") != session.csrf:
        raise HTTPException(403)
