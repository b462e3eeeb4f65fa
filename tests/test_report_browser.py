"""The generated site in a real headless Chromium from file://: no console errors, sorting, hostile names inert."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from report_browser import browser, console_errors, full_page_screenshot
from test_report import HOSTILE, _hostile_copy, make_calibration, make_real_results

from conftest import Workspace


@pytest.fixture(scope="module")
def site(workspace: Workspace, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dexbench.report.collect import load_results
    from dexbench.report.site import SiteOptions, build_site
    from dexbench.report.synthetic_results import write_results

    root = make_real_results(workspace, tmp_path_factory.mktemp("browser"))
    _hostile_copy(root / "metrics" / "synthheads" / "static", root / "metrics" / "synthheads" / "evil")
    shutil.copytree(root / "submissions" / "synthheads" / "static", root / "submissions" / "synthheads" / "evil")
    write_results(root / "metrics-edit", 4, tasks=("pose-only", "expression-only"), n_pairs=8, dataset="synthedit")
    calibration = make_calibration(root / "calibration")
    out = root / "site"
    build_site(
        load_results([root / "metrics", root / "metrics-edit"]), out,
        SiteOptions(root=root, n_resamples=100, calibration_files=[calibration]),
    )  # fmt: skip
    return out


def _row_order(driver, board: str) -> list[str]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('[data-board=\"' + arguments[0] + '\"] tbody tr'))"
        ".map(r => r.getAttribute('data-method'))",
        board,
    )


def test_site_in_chromium(site: Path, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from dexbench import __version__
    from dexbench.report.html import git_commit

    commit = git_commit(Path(__file__).resolve().parent)  # "" outside a git checkout

    with browser() as d:
        for page in sorted(site.glob("*.html")):
            d.get(page.as_uri())
            assert console_errors(d) == [], page.name
            assert d.execute_script("return typeof window.__pwned") == "undefined", page.name
            assert d.find_elements(By.CSS_SELECTOR, "img[src='x']") == [], page.name
            footer = d.find_element(By.CSS_SELECTOR, "footer.prov").text  # provenance on every page
            assert f"Built by dexbench {__version__}" in footer and "Protocol 1.0" in footer, page.name
            assert "Extractor weights (sha256):" in footer and (commit in footer), page.name
        d.get((site / "index.html").as_uri())
        board = "synthheads__self-reenactment"
        values = d.execute_script(
            "const th = document.querySelector('[data-board=\"' + arguments[0] + '\"] th[data-metric=\"psnr\"]');"
            "return Array.from(th.closest('table').tBodies[0].rows).map(r => [r.getAttribute('data-method'),"
            " Number(r.cells[th.cellIndex].getAttribute('data-value'))]);",
            board,
        )
        value = dict(values)
        best_first = [m for m, _ in sorted(values, key=lambda mv: -mv[1])]  # stable: ties keep the page order
        header = d.find_element(By.CSS_SELECTOR, f"[data-board='{board}'] th[data-metric='psnr'] button")
        header.click()
        assert _row_order(d, board) == best_first
        th = d.find_element(By.CSS_SELECTOR, f"[data-board='{board}'] th[data-metric='psnr']")
        assert th.get_attribute("aria-sort") == "descending"
        header.send_keys(Keys.ENTER)  # keyboard: the header is a real button
        assert th.get_attribute("aria-sort") == "ascending"
        ascending = [value[m] for m in _row_order(d, board)]
        assert ascending == sorted(ascending) and ascending[0] < ascending[-1]
        # the hostile name is shown as text, exactly
        names = d.execute_script(
            "return Array.from(document.querySelectorAll('tbody th[scope=row] a')).map(a => a.textContent)"
        )
        assert HOSTILE in names
        assert d.execute_script("return document.querySelectorAll('a[href^=\"javascript\"]').length") == 0
        assert console_errors(d) == []
        shot = tmp_path / "index.png"
        full_page_screenshot(d, shot)
        assert shot.stat().st_size > 20_000
        d.set_window_size(390, 844)  # a phone: the table scrolls inside its box, the page does not
        d.get((site / "index.html").as_uri())
        assert d.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_published_section_and_calibration_page_in_chromium(site: Path, tmp_path: Path) -> None:
    import json

    from selenium.webdriver.common.by import By

    from dexbench.protocol.published import load_published
    from dexbench.report.published import HEADING

    with browser() as d:
        d.get((site / "index.html").as_uri())
        section = d.find_element(By.ID, "published")
        d.execute_script("arguments[0].scrollIntoView()", section)
        assert section.is_displayed()
        assert section.find_element(By.TAG_NAME, "h2").text == HEADING
        assert "to be checked against the paper" in section.text
        shown = section.find_elements(By.CSS_SELECTOR, "tr[data-published-method]")
        assert len(shown) == len(load_published()) and all(r.is_displayed() for r in shown)
        # apart from the leaderboards: nothing in it is sortable, ranked or marked best
        assert (
            d.execute_script(
                "return document.querySelectorAll('#published [data-sortable], #published td.best, #published button')"
                ".length"
            )
            == 0
        )
        assert d.execute_script("return document.querySelector('#published').closest('[data-board]')") is None
        full_page_screenshot(d, tmp_path / "published.png")
        assert console_errors(d) == []

        d.get((site / "calibration.html").as_uri())
        assert console_errors(d) == []
        data = json.loads((site.parent / "calibration" / "metrics" / "calibration" / "synthheads.json").read_text())
        for param, m in data["expression"]["sweep"]["mapping"].items():
            row = d.find_element(By.CSS_SELECTOR, f"table[data-expr-set='sweep'] tr[data-parameter='{param}']")
            assert row.is_displayed() and ("PASS" if m["pass"] else "FAIL") in row.text
        verdicts = {
            e.get_attribute("data-check"): e.find_elements(By.CSS_SELECTOR, "td")[0].text
            for e in d.find_elements(By.CSS_SELECTOR, "tr[data-check]")
        }
        assert verdicts["cal-pose"] == ("PASS" if data["pose"]["pass"] else "FAIL")
        assert verdicts["cal-expression"] == ("PASS" if data["expression"]["pass"] else "FAIL")
        # the page fits a phone: tables scroll inside their boxes
        d.set_window_size(390, 844)
        d.get((site / "calibration.html").as_uri())
        assert d.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1")
        full_page_screenshot(d, tmp_path / "calibration.png", width=390)
        assert (tmp_path / "calibration.png").stat().st_size > 20_000
