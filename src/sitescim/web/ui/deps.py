"""The UI's dependencies: who is asking, their forms, and the frame every signed-in page shares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Protocol

from fastapi import Depends, Query, Request, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from sitescim.domain import documents
from sitescim.domain.privileges import Actor
from sitescim.services import directory, notices, sessions
from sitescim.services.runtime import Runtime
from sitescim.settings import Settings
from sitescim.web.deps import SESSION_COOKIE, RuntimeDep, SessionDep, SettingsDep
from sitescim.web.ui import csrf
from sitescim.web.ui.pages import render


class SignInRequiredError(Exception):
    """Raised by pages that need a signed-in visitor; becomes a redirect to sign in.

    Web only: it says no session cookie came, which only a browser's page can lack.
    """


def page_actor(request: Request, session: SessionDep, runtime: RuntimeDep) -> Actor:
    value = request.cookies.get(SESSION_COOKIE)
    if not value:
        raise SignInRequiredError()
    return sessions.resume(session, runtime, value)


PageActor = Annotated[Actor, Depends(page_actor)]


def form_token(request: Request, settings: Settings) -> str:
    return csrf.session_token(settings.session_secret_value(), request.cookies[SESSION_COOKIE])


def _storable(form: FormData) -> FormData:
    """No field of any form may carry a NUL, which PostgreSQL cannot take even in a query."""
    for name, value in form.multi_items():
        documents.check_text(name, name)
        if isinstance(value, str):
            documents.check_text(name, value)
    return form


async def read_form(request: Request) -> FormData:
    """A form sent before any session exists (signing in); its CSRF check is the handler's."""
    return _storable(await request.form())


async def verified_form(request: Request, settings: SettingsDep) -> FormData:
    """The form of a signed-in visitor, once its CSRF token and origin are checked."""
    if not request.cookies.get(SESSION_COOKIE):
        raise SignInRequiredError()
    csrf.check_origin(request)
    form = _storable(await request.form())
    csrf.verify(form_token(request, settings), form.get(csrf.FIELD))
    return form


SignInForm = Annotated[FormData, Depends(read_form)]
VerifiedForm = Annotated[FormData, Depends(verified_form)]


def read_field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


@dataclass(frozen=True, slots=True)
class Search:
    """A list page's search text and paging cursors (people, groups)."""

    text: str
    after: str | None
    before: str | None


class ListPage(Protocol):
    """A directory service's list of people or groups, one page after or before a cursor."""

    def __call__(
        self,
        session: Session,
        actor: Actor,
        /,
        *,
        cursor_key: bytes,
        search: str,
        after: str | None,
        before: str | None,
    ) -> Any: ...


@dataclass(frozen=True, slots=True)
class Page:
    """A signed-in visitor's request, and what its page's header and forms need."""

    request: Request
    actor: Actor
    session: Session
    settings: Settings
    runtime: Runtime

    def frame(self, nav: str) -> dict[str, Any]:
        """What the page's header and banner show: the one place every signed-in page passes."""
        return {
            "actor": directory.profile_of(self.session, self.actor),
            "csrf": form_token(self.request, self.settings),
            "nav": nav,
            "expiring_tokens": notices.expiring_tokens(self.session, self.runtime, self.actor),
        }

    def render(self, name: str, context: dict[str, Any], *, status_code: int = 200) -> Response:
        return render(self.request, name, context, status_code=status_code)

    def render_list(self, nav: str, search: Search, list_page: ListPage) -> Response:
        """A searchable list (people, groups): template and menu entry share the name."""
        context = self.frame(nav)
        context["page"] = list_page(
            self.session,
            self.actor,
            cursor_key=self.settings.cursor_key(),
            search=search.text,
            after=search.after,
            before=search.before,
        )
        return self.render(f"{nav}.html", context)


def open_page(
    request: Request,
    actor: PageActor,
    session: SessionDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
) -> Page:
    return Page(request, actor, session, settings, runtime)


PageDep = Annotated[Page, Depends(open_page)]


def read_search(
    q: Annotated[str, Query(max_length=200)] = "",
    after: Annotated[str, Query(max_length=2048)] = "",
    before: Annotated[str, Query(max_length=2048)] = "",
) -> Search:
    return Search(q, after or None, before or None)


SearchQuery = Annotated[Search, Depends(read_search)]
