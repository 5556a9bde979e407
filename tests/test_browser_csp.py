"""The pages under the Content-Security-Policy in a real browser (Debian's chromium through
Playwright): every page's script comes from our static files, so the policy allows no inline
script and no inline style, and the pages still work (the inbox filter submits itself, the
roster status page polls, the admin site and Swagger UI render) with no violation reported."""

import urllib.request

import pytest
from django.urls import reverse
from django.utils import timezone

from claims.models import RosterUpload, RosterUploadStatus
from claims.services import create_claim
from workflow.services import submit_claim

from .browser_support import chromium, playwright_sync, select_that_submits, sign_in  # noqa: F401 (a fixture)
from .conftest import claim_data

# Runs before any page script (injected by the browser, not by the page, so the policy does not
# apply to it): keeps every violation the page reports.
RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(event.violatedDirective + " " + (event.blockedURI || "inline"));
});
"""


class Browser:
    """One chromium; a page per user, each recording the CSP violations and console errors it sees."""

    def __init__(self, browser, base_url: str):
        self.browser = browser
        self.base_url = base_url
        self.console: list[str] = []
        self.pages = []

    def page_as(self, username: str, next_path: str):
        context = self.browser.new_context(viewport={"width": 1400, "height": 1000})
        context.add_init_script(RECORD_VIOLATIONS)
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.on("console", lambda message: self.console.append(f"{message.type}: {message.text}"))
        self.pages.append(page)
        sign_in(page, f"{self.base_url}{next_path}", username, by_keyboard=True)
        return page

    @staticmethod
    def violations(page) -> list[str]:
        return page.evaluate("window.cspViolations")

    def csp_console_messages(self) -> list[str]:
        return [text for text in self.console if "Content Security Policy" in text or "Content-Security-Policy" in text]


@pytest.fixture
def browser(chromium, live_server):
    return Browser(chromium, live_server.url)


@pytest.mark.browser
def test_pages_work_under_the_content_security_policy_with_no_violation(transactional_db, live_server, demo, browser):
    expect = playwright_sync.expect
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    submit_claim(user=demo["provider_clerk"], claim=claim)
    provider = demo["provider_clerk"].groups.get(provider__isnull=False).provider
    upload = RosterUpload.objects.create(
        provider=provider, created_by=demo["provider_clerk"], header={}, filename="r.xlsx", content=b"", sha256="x",
        row_count=1200, processed_rows=500, status=RosterUploadStatus.PROCESSING, started_at=timezone.now(),
    )  # fmt: skip

    # Every page carries the policy: scripts and styles from our origin only, nothing inline.
    response = urllib.request.urlopen(live_server.url + reverse("login"), timeout=30)
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy and "object-src 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy

    # The inbox's flags filter submits its form from a static script (no onchange="").
    reviewer = browser.page_as("dept_reviewer", "/inbox/")
    expect(reviewer.locator("h1")).to_contain_text("收件箱")
    expect(reviewer.locator("#my-tasks")).to_contain_text(claim.number)
    select_that_submits(reviewer, 'select[name="flags"]', "clean")
    expect(reviewer).to_have_url(f"{live_server.url}/inbox/?flags=clean")
    reviewer.goto(f"{live_server.url}/claims/{claim.pk}/")
    expect(reviewer.locator("h1")).to_contain_text(claim.number)

    # The roster status page's script polls the status endpoint (connect-src 'self').
    clerk = browser.page_as("provider_clerk", "/inbox/")
    expect(clerk.locator("h1")).to_contain_text("收件箱")
    with clerk.expect_response(lambda answer: f"/api/v1/claims/import/{upload.pk}/" in answer.url) as polled:
        clerk.goto(f"{live_server.url}/claims/import/{upload.pk}/")
    assert polled.value.status == 200
    expect(clerk.locator("#roster-status progress")).to_have_attribute("value", "500")

    # The admin site (at its configured path) and Swagger UI (its assets served by us) render.
    admin = browser.page_as("admin", reverse("admin:index"))
    expect(admin.locator("#site-name")).to_be_visible()
    admin.goto(f"{live_server.url}{reverse('admin:auth_user_changelist')}")
    expect(admin.locator("#result_list")).to_be_visible()
    admin.goto(f"{live_server.url}{reverse('api-docs')}")
    expect(admin.locator(".swagger-ui .opblock").first).to_be_visible()
    expect(admin.locator(".swagger-ui .info .title")).to_contain_text("Skills subsidy claims API")

    for page in browser.pages:
        assert browser.violations(page) == [], page.url
    assert browser.csp_console_messages() == []

    # The check above can fail: an injected inline script is refused, and reported.
    admin.evaluate("""() => {
        const injected = document.createElement("script");
        injected.textContent = "window.injectedRan = true";
        document.body.append(injected);
    }""")
    admin.wait_for_function("window.cspViolations.length > 0")
    assert admin.evaluate("window.injectedRan") is None
    assert browser.violations(admin) == ["script-src-elem inline"]
