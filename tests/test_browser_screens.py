"""Every role's main pages in a real browser (Debian's chromium through Playwright), as people
use them on a desk, on a phone and zoomed in (issue 15):

- axe-core, served from our own static files (static/vendor/axe-core, no CDN), finds no
  'serious' or 'critical' violation on any of them, on the desk, on the phone and at 200% zoom;
- on a 390 px phone nothing scrolls sideways: the page is no wider than the screen
  (document.scrollingElement.scrollWidth <= clientWidth); a wide table scrolls in its own box;
- each page is kept as a screenshot at 1366 px, at 390 px and at 200% zoom in
  ``var/screenshots/`` (git-ignored; ``SCREENSHOT_DIR`` to put them elsewhere).

200% zoom is emulated as Chrome's zoom does it to a 1366 × 768 window: the CSS viewport halves
(683 × 384 CSS px, so the page's media queries see 683 px) and every CSS pixel is drawn with two
device pixels (deviceScaleFactor 2), giving a 1366 px-wide image. Browser zoom itself cannot be
driven through Playwright; this is the layout it produces, not a screenshot of the zoom UI."""

import pytest
from django.urls import reverse

from claims.models import Jurisdiction
from claims.services import create_claim
from payments.models import PaymentBatch
from workflow.disbursement import build_batch
from workflow.selectors import open_task_of_claim
from workflow.services import submit_claim

from .browser_support import SCREENSHOTS, chromium, playwright_sync, sign_in  # noqa: F401 (a fixture)
from .conftest import TODAY, claim_data, line, resident_id
from .payments_support import approved_claim
from .test_class_filing import filed
from .test_public_notice import on_notice

AXE = "/static/vendor/axe-core/axe.min.js"
DESK = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
ZOOM_200 = {"width": 683, "height": 384}  # a 1366 × 768 window at 200%: see the module's docstring

RUN_AXE = """async () => {
    const result = await axe.run(document, {resultTypes: ["violations"]});
    return result.violations
        .filter((v) => v.impact === "serious" || v.impact === "critical")
        .map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | ")}`);
}"""
SIDEWAYS = """() => {
    const page = document.scrollingElement;
    const clipped = (e) => {
        for (let box = e.parentElement; box && box !== document.body; box = box.parentElement) {
            if (getComputedStyle(box).overflowX !== "visible") return true;
        }
        return false;
    };
    const wide = [...document.body.querySelectorAll("*")]
        .filter((e) => e.getBoundingClientRect().right > page.clientWidth + 1 && !clipped(e))
        .slice(0, 5).map((e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className ? "." + e.className : ""));
    return {scrollWidth: page.scrollWidth, clientWidth: page.clientWidth, wide};
}"""


def large_claim(demo, lines: int = 40):
    """A claim of ``lines`` electricians of 温岭市某职业技能培训学校, the 6th naming the 1st's
    certificate (flagged), submitted: enough lines to fold them by standard and level."""
    rows = [
        line(
            resident_id(100 + n),
            f"学员{n}",
            certificate_number=f"T-2026-{100 + n:04d}",
            level="intermediate" if n % 3 else "senior",
        )
        for n in range(1, lines + 1)
    ]
    rows[5]["certificate_number"] = rows[0]["certificate_number"]
    claim = create_claim(user=demo["provider_clerk"], data=claim_data(lines=rows))
    submit_claim(user=demo["provider_clerk"], claim=claim)
    claim.refresh_from_db()
    return claim


def the_world(demo) -> dict:
    """What each role's main pages show: a large claim under the department's review, a batch
    built by one finance officer awaiting the other's release, a claim on public notice, a filed
    class with a day of attendance to record, the HR bureau's certificate registry imports."""
    claim = large_claim(demo)
    approved_claim(demo, serials=(11, 12))
    approved_claim(demo, serials=(13,))
    batch = build_batch(actor=demo["finance_officer"], jurisdiction=Jurisdiction.objects.get(code="WL"))
    Jurisdiction.objects.filter(code="WL").update(public_notice_from=TODAY)
    on_notice(demo, serials=(21, 22))
    task = open_task_of_claim(claim)
    training_class = filed(demo, 31, 32)
    attendance_day = reverse("approvals:class_attendance_day", args=[training_class.pk, training_class.start.isoformat()])
    return {
        # role → (login, [(name, path)]); None: not signed in
        "provider": (
            "provider_clerk",
            [
                ("portal", "/portal/"),
                ("claim", f"/claims/{claim.pk}/"),
                ("claim_new", reverse("approvals:claim_new")),
                ("classes", reverse("approvals:classes")),
                ("attendance", attendance_day),
            ],
        ),
        "department": ("dept_reviewer", [("inbox", "/inbox/"), ("task", f"/tasks/{task.pk}/")]),
        "finance": (
            "finance_officer2",
            [("finance", reverse("approvals:finance")), ("batch", reverse("payments:batch", args=[batch.pk]))],
        ),
        "hr": ("hr_reviewer", [("registry", reverse("approvals:registry_imports"))]),
        "auditor": ("auditor", [("audit_search", reverse("audit:search") + "?q=" + claim.number)]),
        "public": (None, [("public_notice", reverse("approvals:public_notice"))]),
    }


# Elements with the hidden attribute that a stylesheet's display rule shows all the same.
HIDDEN_BUT_SHOWN = """() => [...document.querySelectorAll('[hidden]')]
    .filter(element => element.getClientRects().length > 0)
    .map(element => element.outerHTML.slice(0, 120))"""


def signed_in(page, base: str, username: str) -> None:
    sign_in(page, f"{base}{reverse('login')}", username, by_keyboard=True)  # Enter in the form submits it
    playwright_sync.expect(page.locator(".site-nav")).to_be_visible()


def axe_violations(page) -> list[str]:
    page.add_script_tag(url=AXE)  # from our static files, allowed by the page's CSP (script-src 'self')
    return page.evaluate(RUN_AXE)


@pytest.mark.browser
def test_every_roles_main_pages_pass_axe_and_fit_a_phone_and_200_percent_zoom(transactional_db, live_server, demo, chromium):
    world = the_world(demo)
    assert PaymentBatch.objects.get().status == "built"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    for role, (username, pages) in world.items():
        desk = chromium.new_context(viewport=DESK)
        page = desk.new_page()
        page.set_default_timeout(30_000)
        if username:
            signed_in(page, live_server.url, username)
        for name, path in pages:
            page.set_viewport_size(DESK)
            response = page.goto(f"{live_server.url}{path}")
            assert response.status == 200, (role, path, response.status)
            page.screenshot(path=str(SCREENSHOTS / f"{role}-{name}-1366.png"), full_page=True)
            problems += [f"{role} {name} 1366px: {v}" for v in axe_violations(page)]
            problems += [f"{role} {name}: shown though hidden: {html}" for html in page.evaluate(HIDDEN_BUT_SHOWN)]

            page.set_viewport_size(PHONE)
            page.goto(f"{live_server.url}{path}")
            page.screenshot(path=str(SCREENSHOTS / f"{role}-{name}-390.png"), full_page=True)
            fit = page.evaluate(SIDEWAYS)
            if fit["scrollWidth"] > fit["clientWidth"]:
                problems.append(f"{role} {name} 390px scrolls sideways: {fit}")
            problems += [f"{role} {name} 390px: {v}" for v in axe_violations(page)]

        zoomed = chromium.new_context(viewport=ZOOM_200, device_scale_factor=2, storage_state=desk.storage_state())
        zoom = zoomed.new_page()
        for name, path in pages:
            zoom.goto(f"{live_server.url}{path}")
            zoom.screenshot(path=str(SCREENSHOTS / f"{role}-{name}-zoom200.png"), full_page=True)
            fit = zoom.evaluate(SIDEWAYS)
            if fit["scrollWidth"] > fit["clientWidth"]:
                problems.append(f"{role} {name} 200% scrolls sideways: {fit}")
            problems += [f"{role} {name} 200%: {v}" for v in axe_violations(zoom)]
        zoomed.close()
        desk.close()
    assert problems == [], "\n".join(problems)
    assert len(list(SCREENSHOTS.glob("*-1366.png"))) >= 9


@pytest.mark.browser
def test_enter_in_the_claim_form_saves_the_draft_rather_than_adding_a_row(transactional_db, live_server, demo, chromium):
    """The clerk types the class's name and presses Enter: the form is sent to be saved (and
    refused, the lines being empty), not given another row by the "增加一行" button."""
    page = chromium.new_context(viewport=PHONE).new_page()
    signed_in(page, live_server.url, "provider_clerk")
    page.goto(f"{live_server.url}{reverse('approvals:claim_new')}")
    rows = page.locator("#line-rows tbody tr[id^='row-']").count()
    page.get_by_label("班级名称").fill("低压电工作业 2026 第9期")
    with page.expect_navigation():
        page.get_by_label("班级名称").press("Enter")
    playwright_sync.expect(page.locator(".message.error, .form-errors, .field-error").first).to_be_visible()
    assert page.locator("#line-rows tbody tr[id^='row-']").count() == rows
    assert page.get_by_label("班级名称").input_value() == "低压电工作业 2026 第9期"


@pytest.mark.browser
def test_axe_finds_what_it_is_asked_to_find(transactional_db, live_server, demo, chromium):
    """The check above can fail: an unlabelled field and a skip link's missing target are found."""
    context = chromium.new_context(viewport=DESK)
    page = context.new_page()
    page.goto(f"{live_server.url}{reverse('approvals:public_notice')}")
    page.evaluate("""() => {
        const field = document.createElement("input");
        field.type = "text";
        document.querySelector("main").append(field);
    }""")
    assert any(" label:" in violation for violation in axe_violations(page))
    # The skip link leads to the main content, which takes the focus.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    context.close()
