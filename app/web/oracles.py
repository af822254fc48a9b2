"""A project's oracles on the screens: added, switched on or off and removed from the settings
page (managers), and what each is worth in a dashboard panel loaded after the page.

The forms post plain strings; they become an ``OracleIn`` here and the service judges the
rest, so a refusal reads like the API's, beside the form, with what was typed still in it
(except a key pasted where a variable name belongs: a key is never shown).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field, ValidationError

from app.deps import ActorDep, ReadSession, SettingsDep, WriteSession
from app.errors import Invalid
from app.fields import FormId
from app.oracles import endpoints as oracle_stats
from app.oracles import service as oracles
from app.oracles.schemas import OracleIn, OraclePatch
from app.projects import service as projects
from app.routing import GuardedRoute
from app.web.access import WebManagedProject, WebReadProject
from app.web.project_settings import act
from app.web.projects import validation_message
from app.web.security import WebUser, check_csrf
from app.web.templating import render

router = APIRouter(dependencies=[Depends(check_csrf)], route_class=GuardedRoute)

# What the form calls each field, for messages that name one.
TITLES = {
    "name": "Name",
    "kind": "Kind",
    "base_url": "Base URL",
    "url": "URL",
    "model": "Model",
    "api_key_env": "API key variable",
    "temperature": "Temperature",
    "timeout_seconds": "Timeout",
    "response_format": "Response format",
    "concurrency": "Concurrency",
    "budget_calls": "Budget (calls)",
    "budget_tokens": "Budget (tokens)",
    "cost_per_1k_tokens": "Cost per 1k tokens",
}
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
INTEGERS = ("concurrency", "budget_calls", "budget_tokens")
DECIMALS = ("cost_per_1k_tokens",)


class OracleForm(BaseModel):
    """The add-an-oracle form as typed: strings, blank for the default (or no limit)."""

    name: str = Field(default="", max_length=200)
    kind: str = Field(default="openai", max_length=20)
    url: str = Field(default="", max_length=2000)  # the base URL of an openai oracle
    model: str = Field(default="", max_length=400)
    api_key_env: str = Field(default="", max_length=400)
    temperature: str = Field(default="", max_length=40)
    timeout_seconds: str = Field(default="", max_length=40)
    response_format: str = Field(default="", max_length=40)
    concurrency: str = Field(default="", max_length=40)
    budget_calls: str = Field(default="", max_length=40)
    budget_tokens: str = Field(default="", max_length=40)
    cost_per_1k_tokens: str = Field(default="", max_length=40)

    def shown(self) -> dict[str, str]:
        """What the form shows again after a refusal: never what looks like a key."""
        values = self.model_dump()
        if not ENV_NAME.fullmatch(values["api_key_env"].strip()):
            values["api_key_env"] = ""
        return values


def _number(field: str, text: str, kind: type[int] | type[float]) -> int | float | None:
    if not text.strip():
        return None
    try:
        return kind(text.strip())
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise Invalid(f"{TITLES[field]}: give {what}, not {text.strip()!r}") from None


def _config(form: OracleForm) -> dict[str, Any]:
    """The configuration typed: blank fields are left to the kind's defaults."""
    config: dict[str, Any] = {"url" if form.kind == "http" else "base_url": form.url.strip()}
    if form.api_key_env.strip():
        config["api_key_env"] = form.api_key_env.strip()
    if (timeout := _number("timeout_seconds", form.timeout_seconds, float)) is not None:
        config["timeout_seconds"] = timeout
    if form.kind != "http":
        config["model"] = form.model.strip()
        if (temperature := _number("temperature", form.temperature, float)) is not None:
            config["temperature"] = temperature
        if form.response_format:
            config["response_format"] = form.response_format
    return config


def oracle_in(form: OracleForm) -> OracleIn:
    """The form as the API's body; Invalid names the field at fault."""
    fields: dict[str, Any] = {"name": form.name.strip(), "kind": form.kind}
    fields["config"] = _config(form)
    for name in INTEGERS + DECIMALS:
        value = _number(name, getattr(form, name), int if name in INTEGERS else float)
        if value is not None:
            fields[name] = value
    try:
        return OracleIn.model_validate(fields)
    except ValidationError as exc:
        raise Invalid(validation_message(exc, TITLES)) from None


def readable(message: str) -> str:
    """A service message about ``config.<field>`` said with the form's title of the field."""
    match = re.match(r"config(?:\.(\w+))?: (.*)", message, re.S)
    if match is None:
        return message
    field, rest = match.groups()
    rest = rest.removeprefix("Value error, ")
    return f"{TITLES.get(field, field)}: {rest[:1].lower()}{rest[1:]}" if field else rest


@router.post("/projects/{project_id}/oracles", response_model=None)
def add_oracle(
    request: Request,
    project: WebManagedProject,
    session: WriteSession,
    settings: SettingsDep,
    user: WebUser,
    actor: ActorDep,
    form: Annotated[OracleForm, Form()],
) -> HTMLResponse | RedirectResponse:
    """Add an oracle; its host must be public or listed in LABELLOOP_ORACLE_HOSTS (audited)."""

    def add() -> str:
        data = oracle_in(form)
        try:
            oracle = oracles.add_oracle(
                session, project, data, actor=actor, allowed=settings.oracle_hosts
            )
        except Invalid as exc:
            raise Invalid(readable(exc.message)) from None
        return f"Oracle {oracle.name!r} added: it pre-labels items in the background."

    return act(request, session, project, user, "oracles", add, typed=form.shown())


@router.post("/projects/{project_id}/oracles/change", response_model=None)
def switch_oracle(
    request: Request,
    project: WebManagedProject,
    session: WriteSession,
    settings: SettingsDep,
    user: WebUser,
    actor: ActorDep,
    oracle_id: FormId,
    enabled: Annotated[bool, Form()] = False,
) -> HTMLResponse | RedirectResponse:
    """Switch an oracle on (its back-off cleared: asked at once) or off."""

    def switch() -> str:
        oracle = oracles.get_oracle(session, project, oracle_id)
        patch = OraclePatch(enabled=enabled)
        oracles.change_oracle(
            session, project, oracle, patch, actor=actor, allowed=settings.oracle_hosts
        )
        return f"Oracle {oracle.name!r} {'switched on' if enabled else 'switched off'}."

    return act(request, session, project, user, "oracles", switch)


@router.post("/projects/{project_id}/oracles/remove", response_model=None)
def remove_oracle(
    request: Request,
    project: WebManagedProject,
    session: WriteSession,
    user: WebUser,
    actor: ActorDep,
    oracle_id: FormId,
) -> HTMLResponse | RedirectResponse:
    """Remove an oracle and its suggestions; labels people gave stay (audited)."""

    def remove() -> str:
        oracle = oracles.get_oracle(session, project, oracle_id)
        name = oracle.name
        oracles.remove_oracle(session, project, oracle, actor=actor)
        return f"Oracle {name!r} removed with its suggestions; people's labels stay."

    return act(request, session, project, user, "oracles", remove)


@router.get("/projects/{project_id}/oracles/panel", response_class=HTMLResponse)
def oracle_panel(
    request: Request, project: WebReadProject, session: ReadSession, user: WebUser
) -> HTMLResponse:
    """The dashboard's oracle panels (one per oracle; nothing without oracles), loaded after
    the page and never polled."""
    found = oracles.list_oracles(session, project)
    context = {
        "current_user": user,
        "project": project,
        "machine_labels": projects.options(project).machine_labels,
        "panels": [oracle_stats.stats(session, project, o) for o in found],
    }
    return render(request, "projects/_oracles.html", context)
