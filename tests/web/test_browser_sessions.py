"""In Chromium: signing out, an admin's password reset and disabling end a session; a
browser that kept a copy of the old cookie is shown the sign-in page."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from app.db import Database
from tests.web.test_browser import _sign_in, _user

pytestmark = [pytest.mark.browser, pytest.mark.process]

COOKIE = "labelloop_session"


def _copy_of_session(browser: Browser, url: str, name: str) -> tuple[BrowserContext, list]:
    """``name`` signed in in a context of its own, and a copy of that context's cookies."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    _sign_in(context.new_page(), url, name, f"{name}-password")
    cookies = [c for c in context.cookies() if c["name"] == COOKIE]
    assert cookies, "signing in should set the session cookie"
    return context, cookies


def _replayed(browser: Browser, url: str, cookies: list) -> Page:
    """A fresh browser context carrying only the copied cookie, on the account page."""
    thief = browser.new_context()
    thief.add_cookies(cookies)
    page = thief.new_page()
    page.goto(f"{url}/account")
    return page


def _sign_out(url: str, name: str, context: BrowserContext, admin: Page) -> None:
    page = context.pages[0]
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()


def _reset(url: str, name: str, context: BrowserContext, admin: Page) -> None:
    admin.goto(f"{url}/users")
    admin.get_by_label(f"New password for {name}").fill("a-brand-new-password")
    admin.get_by_label(f"New password for {name}").press("Enter")
    expect(admin.get_by_text(f"Password of {name} changed.")).to_be_visible()


def _disable(url: str, name: str, context: BrowserContext, admin: Page) -> None:
    admin.goto(f"{url}/users")
    admin.once("dialog", lambda dialog: dialog.accept())
    admin.get_by_role("button", name=f"Disable {name}").click()
    expect(admin.get_by_text(f"{name}: disabled.")).to_be_visible()


ENDINGS: dict[str, Callable[[str, str, BrowserContext, Page], None]] = {
    "bo": _sign_out,
    "cy": _reset,
    "di": _disable,
}


def test_an_ended_session_sends_the_old_cookie_to_sign_in(
    browser: Browser, live_server: str, web_db: Database
) -> None:
    _user(web_db, "ada", "admin", "ada-password")
    admin = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    _sign_in(admin, live_server, "ada", "ada-password")
    for name, end in ENDINGS.items():
        _user(web_db, name, "annotator", f"{name}-password")
        context, cookies = _copy_of_session(browser, live_server, name)
        before = _replayed(browser, live_server, cookies)
        expect(before.get_by_role("heading", name=name)).to_be_visible()  # the copy works now
        end(live_server, name, context, admin)
        after = _replayed(browser, live_server, cookies)
        expect(after.get_by_role("button", name="Sign in")).to_be_visible()
        assert "/login?next=/account" in after.url, (name, after.url)
        context.pages[0].goto(f"{live_server}/account")  # and the original browser too
        expect(context.pages[0].get_by_role("button", name="Sign in")).to_be_visible()
