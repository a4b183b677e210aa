"""The web page in a real browser (headless Chromium through Selenium) against ``sdn
serve`` on the guestbook: sign in, expand a Tier-1, run a traceflow that is dropped, see
its path drawn and the rule that dropped it named; the inspector, the DFW search and
IPAM tabs; the audit user sees no write control.

The screenshot of the traced page is kept under the test's tmp dir and, when CI sets
``$SDN_TEST_ARTIFACTS`` (``.ci/run`` does: ``.ci/artifacts/``), copied there as
``ui-traceflow-dropped.png``. Skips locally without the browser, fails under CI=true.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.support import browser
from tests.support.served import ADMIN, AUDIT, Served

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

DEFAULT_T1 = "/infra/tier-1s/t1_k8s-cluster_default"
SEGMENT = "/infra/segments/seg_k8s-cluster_default"
SLAVE = f"{SEGMENT}/ports/redis-slave-0"
MASTER = f"{SEGMENT}/ports/redis-master-0"
#: The guestbook's deliberate deny (topologies/guestbook/policy.yaml): replication from a
#: redis slave to the master is dropped by the policy's isolation rule.
ISOLATION_RULE = ("/infra/domains/default/security-policies/"
                  "np_k8s-cluster_default_redis-allow-frontend_isolation/rules/ingress-isolation")
#: Words a write control would carry; the page must show none of them to anybody.
WRITE_WORDS = re.compile(r"\b(delete|edit|save|create|apply|update|remove)\b", re.I)


@pytest.fixture
def page() -> Iterator[WebDriver]:
    browser.require()
    with browser.chromium() as driver:
        yield driver


def _wait(driver: WebDriver, until: Callable[[WebDriver], Any], seconds: float = 20) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, seconds).until(until)


def _css(driver: WebDriver, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def _sign_in(driver: WebDriver, url: str, user: tuple[str, str]) -> None:
    driver.get(url)
    _wait(driver, lambda d: _css(d, "#login")[0].is_displayed())
    _css(driver, "#username")[0].send_keys(user[0])
    _css(driver, "#password")[0].send_keys(user[1])
    _css(driver, "#login-submit")[0].click()
    _wait(driver, lambda d: d.find_element("tag name", "body").get_attribute("data-ready")
          == "topology")


def _on_path(driver: WebDriver) -> list[str]:
    return [e.get_attribute("data-path") for e in _css(driver, "#topology .node.on-path")]


def test_dropped_traceflow_is_drawn_and_names_the_rule(
        page: WebDriver, guestbook_api: Served, tmp_path: Path) -> None:
    with guestbook_api.client(AUDIT) as client:
        rule_id = client.get(f"/policy/api/v1{ISOLATION_RULE}").json()["rule_id"]
    _sign_in(page, guestbook_api.url, AUDIT)
    assert _css(page, "#who-role")[0].text == "read-only"
    assert not _css(page, "#login")[0].is_displayed()

    # collapse every Tier-1, then expand the default namespace's: its ports appear
    from selenium.webdriver.support.ui import Select

    Select(_css(page, "#collapse")[0]).select_by_value("all")
    _wait(page, lambda d: not _css(d, "#topology .node.port"))
    _css(page, f'[data-toggle="{DEFAULT_T1}"]')[0].click()
    _wait(page, lambda d: len(_css(d, "#topology .node.port")) == 6)
    assert _css(page, f'[data-toggle="{DEFAULT_T1}"]')[0].get_attribute("aria-expanded") == "true"

    _css(page, "#tf-src")[0].send_keys("default/redis-slave-0")
    _css(page, "#tf-dst")[0].send_keys("default/redis-master-0")
    _css(page, "#tf-port")[0].send_keys("6379")
    _css(page, "#tf-run")[0].click()
    _wait(page, lambda d: "DROPPED" in _css(d, "#tf-verdict")[0].text)

    verdict = _css(page, "#tf-verdict")[0]
    assert f"rule {rule_id}" in verdict.text
    assert _css(page, "#tf-verdict .rule-link")[0].get_attribute("data-rule-path") \
        == ISOLATION_RULE
    # the path, hop by hop: the slave's port, the segment, the master's port (dropped)
    assert sorted(_on_path(page)) == sorted([SLAVE, SEGMENT, MASTER])
    points = _css(page, "#path-layer polyline")[0].get_attribute("points").split()
    assert len(points) == 3 == len(_css(page, "#path-layer g.hop"))
    dropped = _css(page, "#topology .node.dropped")
    assert [e.get_attribute("data-path") for e in dropped] == [MASTER]
    rows = _css(page, "#tf-observations tbody tr")
    assert len(rows) == 6
    assert "DROPPED" in rows[-1].text and f"rule {rule_id}" in rows[-1].text

    shot = tmp_path / "ui-traceflow-dropped.png"
    assert page.save_screenshot(str(shot)) and shot.stat().st_size > 0
    browser.keep_artifact(shot)

    # the inspector: the dropped port's NSX JSON and tags
    _css(page, f'#topology .node[data-path="{MASTER}"]')[0].click()
    _wait(page, lambda d: '"id": "redis-master-0"' in _css(d, "#inspector-json")[0].text)
    tags = [r.text for r in _css(page, "#inspector-tags tbody tr")]
    assert "ncp/pod redis-master-0" in tags
    assert not WRITE_WORDS.search(page.find_element("tag name", "body").text)


def test_dfw_search_and_ipam_tabs(page: WebDriver, guestbook_api: Served) -> None:
    with guestbook_api.client(ADMIN) as client:
        blocks = client.get("/ui/api/ipam").json()["blocks"]
    _sign_in(page, guestbook_api.url, ADMIN)
    assert _css(page, "#who-role")[0].text == "read-write"

    _css(page, '[data-tab="dfw"]')[0].click()
    _wait(page, lambda d: _css(d, "#dfw-list tr[data-path]"))
    _css(page, "#dfw-text")[0].send_keys("default/redis-master-0")
    _css(page, "#dfw-form button")[0].click()
    _wait(page, lambda d: "for pod default/redis-master-0" in _css(d, "#dfw-summary")[0].text)
    shown = [r.get_attribute("data-path") for r in _css(page, "#dfw-list tr[data-path]")]
    assert ISOLATION_RULE in shown

    _css(page, '[data-tab="ipam"]')[0].click()
    _wait(page, lambda d: len(_css(d, "#ipam-blocks tbody tr")) == len(blocks))
    assert [r.get_attribute("data-path") for r in _css(page, "#ipam-blocks tbody tr")] \
        == [b["path"] for b in blocks]


def test_a_wrong_password_keeps_the_sign_in_form(page: WebDriver, guestbook_api: Served) -> None:
    page.get(guestbook_api.url)
    _wait(page, lambda d: _css(d, "#login")[0].is_displayed())
    _css(page, "#username")[0].send_keys("audit")
    _css(page, "#password")[0].send_keys("not-the-password")
    _css(page, "#login-submit")[0].click()
    _wait(page, lambda d: _css(d, "#login-error")[0].text)
    assert "Wrong user or password" in _css(page, "#login-error")[0].text
    assert not _css(page, "#app")[0].is_displayed()
