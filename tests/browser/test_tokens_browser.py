"""The web UI in a real browser: tokens end to end, refusals, keyboard, no JavaScript.

One uvicorn server (SQLite) for the module and one chromium; each test has a
browser context of its own (its own cookies) and its own Promaster, since a
Promaster holds one active token at a time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, expect
from playwright.sync_api import Error as PlaywrightError

from tests.browser.conftest import SITE, Server, sign_in

pytestmark = pytest.mark.slow

TOKEN = re.compile(r"^sscim_[0-9A-Za-z]{49}$")


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(
        viewport={"width": 1280, "height": 800},
        permissions=["clipboard-read", "clipboard-write"],
    )
    yield ctx
    ctx.close()


@pytest.fixture
def console() -> list[str]:
    """Errors the page logs; a test removes those it provoked on purpose."""
    return []


@pytest.fixture
def page(context: BrowserContext, console: list[str]) -> Iterator[Page]:
    """A page whose console must stay free of errors (a CSP violation is one)."""
    tab = context.new_page()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            console.append(message.text)

    tab.on("console", on_console)
    tab.on("pageerror", lambda error: console.append(str(error)))
    yield tab
    assert console == []


def expect_refused_fetch(console: list[str], status: int) -> None:
    """The browser logs a refused fetch; here the refusal is what the test wants."""
    logged = f"Failed to load resource: the server responded with a status of {status}"
    matching = [line for line in console if line.startswith(logged)]
    assert matching, console
    for line in matching:
        console.remove(line)


def focused(page: Page) -> str:
    """What has the keyboard focus: its id, or its tag and text."""
    return page.evaluate(
        "() => { const e = document.activeElement;"
        " return e.id || (e.tagName + ':' + (e.textContent || '').trim()); }"
    )


def go_back_to_the_post_answer(page: Page) -> None:
    """History back to a no-store answer of a POST: chromium refuses to show it from cache."""
    refused = ""
    try:
        page.go_back()
    except PlaywrightError as error:
        refused = str(error)
    if refused:
        assert "ERR_CACHE_MISS" in refused
        page.wait_for_url(lambda url: url.startswith("chrome-error://"))
    page.wait_for_load_state()


def test_promaster_creates_copies_uses_and_revokes_a_token(page: Page, server: Server, shot):
    sign_in(page, server, "ada@acme.test")
    expect(page.get_by_role("heading", name="Access Tokens")).to_be_visible()
    shot(page, "profile", full_page=True)

    page.get_by_role("button", name="Create Token").click()
    dialog = page.get_by_role("dialog", name="Create Token")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Scope")).to_have_value("scim")
    dialog.get_by_label("Description").fill("Microsoft Entra ID")
    shot(page, "create-dialog")
    dialog.get_by_role("button", name="Save").click()

    value_box = page.get_by_label("Token value")
    expect(value_box).to_have_value(TOKEN)
    expect(page.get_by_text("Copy this token now. It will not be shown again.")).to_be_visible()
    expect(page.get_by_text("share it only through a secure channel")).to_be_visible()
    expect(page.get_by_text(re.compile(r"\(in 365 days\)"))).to_be_visible()
    shot(page, "one-time-display")

    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_text("Copied to the clipboard")).to_be_visible()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == value_box.input_value()
    assert TOKEN.match(copied)
    assert server.scim_status(copied) == 200

    page.get_by_role("button", name="Done").click()
    page.wait_for_url(re.compile(r"/profile\?created="))
    assert copied not in page.content()
    page.reload()
    assert copied not in page.content()

    row = page.get_by_role("row", name=re.compile("Microsoft Entra ID"))
    expect(row).to_contain_text("ada@acme.test")
    expect(row).to_contain_text("365 days left")
    expect(row).to_contain_text("from 127.0.0.1")  # last used: by the SCIM call above
    expect(row).to_contain_text("Active")
    expect(page.get_by_role("row", name=re.compile("Okta"))).to_be_visible()
    shot(page, "token-list", full_page=True)

    row.get_by_role("link", name="Delete").click()
    confirm = page.get_by_role("dialog", name=re.compile("Delete token"))
    expect(confirm).to_contain_text("Delete token “Microsoft Entra ID”?")
    expect(confirm).to_contain_text("SCIM API calls using it")
    expect(confirm).to_contain_text("will fail")
    shot(page, "delete-confirmation")
    confirm.get_by_role("button", name="Delete token").click()

    expect(page.get_by_text("The token “Microsoft Entra ID” is revoked.")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("Microsoft Entra ID"))).to_contain_text(
        "Revoked"
    )
    assert server.scim_status(copied) == 401


def test_the_second_token_attempt_is_explained(page: Page, server: Server, console: list[str]):
    sign_in(page, server, "alan@acme.test")  # holds the module's "Okta" token

    button = page.get_by_role("button", name="Create Token")
    expect(button).to_have_attribute("aria-disabled", "true")
    expect(button).to_have_accessible_description(re.compile("already hold an active token"))
    expect(page.get_by_text("Delete (revoke) it before creating a new one")).to_be_visible()
    button.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert focused(page) == "create-token-blocked"

    forced = page.evaluate(
        """async () => {
            const form = new FormData();
            form.set('csrf', document.querySelector('input[name=csrf]').value);
            form.set('description', 'A second one');
            const response = await fetch('/profile/tokens', {
                method: 'POST', body: form, headers: {Accept: 'application/json'}});
            return [response.status, (await response.json()).detail];
        }"""
    )
    assert forced[0] == 409
    assert "Revoke the existing token first" in forced[1]
    expect_refused_fetch(console, 409)


def test_a_non_promaster_sees_no_token_controls_and_a_forged_post_is_refused(
    page: Page, server: Server, console: list[str]
):
    sign_in(page, server, "uma@acme.test")

    expect(
        page.get_by_text("Only the site's Promasters manage SCIM access tokens.")
    ).to_be_visible()
    expect(page.get_by_role("button", name="Create Token")).to_have_count(0)
    expect(page.get_by_role("link", name="Create Token")).to_have_count(0)
    expect(page.get_by_role("table")).to_have_count(0)
    expect(page.get_by_role("link", name="People")).to_have_count(0)

    forged = page.evaluate(
        """async () => {
            const form = new FormData();
            form.set('csrf', document.querySelector('input[name=csrf]').value);
            form.set('description', 'Sneaky');
            const response = await fetch('/profile/tokens', {
                method: 'POST', body: form, headers: {Accept: 'application/json'}});
            return response.status;
        }"""
    )
    assert forged == 403
    page.goto(f"{server.base_url}/profile/tokens/new")
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect_refused_fetch(console, 403)


def test_a_form_posted_from_another_site_creates_nothing(context: BrowserContext, server: Server):
    """Cross-site request forgery against a signed-in Promaster, from a page of another site."""
    page = context.new_page()
    sign_in(page, server, "lin@acme.test")
    port = server.base_url.rsplit(":", 1)[1]
    evil = f"http://localhost:{port}/evil"  # localhost and 127.0.0.1 are different sites
    page.route(
        evil,
        lambda route: route.fulfill(
            content_type="text/html",
            body=(
                f'<form method="post" action="{server.base_url}/profile/tokens">'
                '<input name="description" value="Planted"></form>'
                "<script>document.forms[0].submit()</script>"
            ),
        ),
    )

    page.goto(evil)
    page.wait_for_url(re.compile(r"/sign-in"))

    page.goto(f"{server.base_url}/profile")
    expect(page.get_by_role("heading", name="My Profile")).to_be_visible()
    expect(page.get_by_text("Planted")).to_have_count(0)
    page.close()


def test_the_dialogs_work_from_the_keyboard(page: Page, server: Server):
    sign_in(page, server, "kim@acme.test")
    page.locator("main").focus()
    for _ in range(40):
        if focused(page) == "create-token-button":
            break
        page.keyboard.press("Tab")
    assert focused(page) == "create-token-button"

    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog", name="Create Token")).to_be_visible()
    assert focused(page) == "dialog-token-description"
    order = []
    for _ in range(3):
        page.keyboard.press("Tab")
        order.append(focused(page))
    assert order == ["dialog-token-scope", "BUTTON:Save", "BUTTON:Cancel"]
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog", name="Create Token")).to_be_hidden()
    assert focused(page) == "create-token-button"

    page.keyboard.press("Enter")
    page.keyboard.type("Keyboard token")
    page.keyboard.press("Enter")
    expect(page.get_by_label("Token value")).to_have_value(TOKEN)
    assert focused(page) == "dialog-secret-title"
    order = []
    for _ in range(3):
        page.keyboard.press("Tab")
        order.append(focused(page))
    assert order == ["dialog-secret-value", "BUTTON:Copy", "BUTTON:Done"]
    page.keyboard.press("Escape")
    page.wait_for_url(re.compile(r"/profile\?created="))

    delete = page.get_by_role("row", name=re.compile("Keyboard token")).get_by_role(
        "link", name="Delete"
    )
    delete.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog", name=re.compile("Delete token"))).to_be_visible()
    assert focused(page) == "BUTTON:Cancel"
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog", name=re.compile("Delete token"))).to_be_hidden()
    assert focused(page).startswith("A:Delete")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert focused(page) == "BUTTON:Delete token"
    page.keyboard.press("Enter")
    expect(page.get_by_text("The token “Keyboard token” is revoked.")).to_be_focused()


def test_everything_but_copy_works_without_javascript(browser: Browser, server: Server):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in(page, server, "lin@acme.test")
        page.get_by_role("link", name="Create Token").click()
        page.wait_for_url(re.compile(r"/profile/tokens/new$"))
        page.get_by_label("Description").fill("No-script token")
        page.get_by_role("button", name="Save").click()

        value = page.get_by_label("Token value").input_value()
        assert TOKEN.match(value)
        expect(page.get_by_text("It will not be shown again.")).to_be_visible()
        expect(page.get_by_role("button", name="Copy")).to_be_hidden()
        assert server.scim_status(value) == 200

        page.get_by_role("link", name="Done").click()
        page.wait_for_url(re.compile(r"/profile\?created="))
        assert value not in page.content()
        go_back_to_the_post_answer(page)
        assert value not in page.content()
        page.goto(f"{server.base_url}/profile")

        page.get_by_role("row", name=re.compile("No-script token")).get_by_role(
            "link", name="Delete"
        ).click()
        expect(page.get_by_role("heading", name="Delete token “No-script token”?")).to_be_visible()
        expect(page.get_by_text("SCIM API calls using it")).to_be_visible()
        page.get_by_role("button", name="Delete token").click()
        expect(page.get_by_text("The token “No-script token” is revoked.")).to_be_visible()
        assert server.scim_status(value) == 401

        page.get_by_role("link", name="People").click()
        page.get_by_label("Search people").fill("grace")
        page.keyboard.press("Enter")
        expect(page.get_by_role("link", name="Grace Hopper")).to_be_visible()
        expect(page.get_by_role("link", name="Linus Torvalds")).to_have_count(0)

        page.locator("summary").click()
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_text("You have signed out.")).to_be_visible()
        page.goto(f"{server.base_url}/profile")
        page.wait_for_url(re.compile(r"/sign-in"))
    finally:
        context.close()


def test_pages_fit_a_phone_and_meet_contrast_and_labelling(browser: Browser, server: Server, shot):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    try:
        sign_in(page, server, "ada@acme.test")
        for path in ("/profile", "/people", "/groups", "/activity", f"/sign-in?site={SITE}"):
            page.goto(f"{server.base_url}{path}")
            overflow = page.evaluate(
                "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, path
            unlabelled = page.evaluate(
                """() => [...document.querySelectorAll('input:not([type=hidden]), select')]
                    .filter(e => e.labels.length === 0 && !e.getAttribute('aria-label'))
                    .map(e => e.name)"""
            )
            assert unlabelled == [], path
        page.goto(f"{server.base_url}/profile")
        shot(page, "profile-phone", full_page=True)
        page.goto(f"{server.base_url}/people")
        shot(page, "people-phone", full_page=True)
    finally:
        context.close()


CONTRAST = """(selectors) => {
    const channel = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    const rgb = (text) => text.match(/[\\d.]+/g).map(Number);
    const luminance = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
    const background = (element) => {
        for (let e = element; e; e = e.parentElement) {
            const color = rgb(getComputedStyle(e).backgroundColor);
            if (color.length < 4 || color[3] > 0) return color.slice(0, 3);
        }
        return [255, 255, 255];
    };
    return selectors.flatMap((selector) => [...document.querySelectorAll(selector)].map((e) => {
        const [a, b] = [luminance(rgb(getComputedStyle(e).color)), luminance(background(e))];
        return [selector, (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)];
    }));
}"""


def test_text_contrast_meets_wcag_aa(context: BrowserContext, server: Server):
    page = context.new_page()
    sign_in(page, server, "alan@acme.test")
    checks = []
    for path in ("/profile", "/people", "/activity"):
        page.goto(f"{server.base_url}{path}")
        checks += page.evaluate(
            CONTRAST,
            [
                "body",
                "h1",
                ".muted",
                ".hint",
                ".days",
                ".badge",
                ".status",
                ".notice",
                ".button",
                "button",
                ".mainnav a",
                ".brand-site",
                "thead th",
                "table a",
            ],
        )
    assert checks
    low = [(selector, round(ratio, 2)) for selector, ratio in checks if ratio < 4.5]
    assert low == []
    page.close()
