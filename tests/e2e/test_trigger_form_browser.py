"""The analysis DAG's trigger form and its MultiQC report, in a real browser (Debian's headless
Chromium through its chromedriver, driven by Selenium) against the real local Airflow.

Airflow's form shows no custom error message at a field: the only error it shows there is
"This field is required"; a value the param's schema rejects comes back from the API server as
a 400 naming the first bad param with the JSON schema's text, which the form shows in an alert
above the fields. seqflow's plugin rewords that answer (seqflow.trigger_form): every bad value
at once, each led by its field's title, in params.py's words; and under each field the form
shows the param's description, which ends with the same rule. So: an empty Run is flagged at the
field before submission, bad values are refused in plain words with the rule beside each field,
a good trigger reaches *analysed*, and the DAG run's "MultiQC report" tab shows that run's
report."""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-browser")]

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--window-size=1400,1400")
DAG_ID = "seqflow_analysis"
#: set SEQFLOW_SCREENSHOTS=DIR to keep what the browser showed
SCREENSHOTS = Path(os.environ["SEQFLOW_SCREENSHOTS"]) if os.environ.get("SEQFLOW_SCREENSHOTS") else None
RUN_DATE = dt.date(2026, 11, 21)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    from local_runs import seqflow_home

    yield from seqflow_home(tmp_path_factory)


@pytest.fixture(scope="module")
def run_folder(home):
    """A one-sample lambda run at 10x, already in raw storage (what the ingest leaves there)."""
    from local_runs import lambda_run_in_raw

    return lambda_run_in_raw(RUN_DATE, seed=11)


@pytest.fixture(scope="module")
def airflow(run_folder):
    from seqflow.local.services import running_airflow

    logging.getLogger("httpx").setLevel(logging.WARNING)
    with running_airflow(dag_ids=(DAG_ID,)) as services:
        yield services


@pytest.fixture(scope="module")
def browser(airflow):
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.fail("Debian's chromium and chromium-driver are not installed (scripts/setup-system.sh)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in CHROMIUM_ARGS:
        options.add_argument(arg)
    # the Debian driver, given by path: Selenium Manager never looks for (or downloads) another
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(15)
    yield driver
    driver.quit()


def _open_form(browser, url: str):
    from selenium.webdriver.common.by import By

    browser.get(f"{url}/dags/{DAG_ID}")
    browser.find_element(By.CSS_SELECTOR, "button[aria-label='Trigger Dag']").click()
    return browser.find_element(By.ID, "element_run_id")


def _field_row(browser, name: str):
    """The form row of one param (found by its title, as a person finds it): label, field, help, error."""
    from selenium.webdriver.common.by import By

    from seqflow.params import ANALYSIS_PARAM_SCHEMAS

    title = ANALYSIS_PARAM_SCHEMAS[name]["title"]
    return browser.find_element(
        By.XPATH, f"//label[normalize-space(text()[1])='{title}']/ancestor::*[contains(@class, 'field__root')][1]")


def _submit(browser):
    from selenium.webdriver.common.by import By

    [button] = [b for b in browser.find_elements(By.TAG_NAME, "button")
                if b.text.strip() == "Trigger" and b.get_attribute("aria-label") != "Trigger Dag"]
    button.click()


def _wait_until(predicate, timeout_s: float = 30, what: str = "condition"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_an_empty_run_is_flagged_at_the_field_and_optional_fields_are_not_required(browser, airflow):
    from selenium.webdriver.common.by import By

    _open_form(browser, airflow.url)
    run_row = _field_row(browser, "run_id")
    assert "This field is required" in run_row.text  # the form's own check, before any request
    for optional in ("samples", "force", "reference"):
        label = _field_row(browser, optional).find_element(By.TAG_NAME, "label")
        assert "*" not in label.text, f"{optional} is marked required: {label.text!r}"
    assert "*" in run_row.find_element(By.TAG_NAME, "label").text


def test_bad_values_are_refused_in_plain_words_all_at_once_with_the_rule_beside_each_field(browser, airflow,
                                                                                           run_folder):
    from selenium.webdriver.common.by import By

    from seqflow.local.client import AirflowClient
    from seqflow.params import _EXPECTED

    field = _open_form(browser, airflow.url)
    field.send_keys("run;rm -rf /")
    version = browser.find_element(By.ID, "element_pipeline_version")
    version.clear()
    version.send_keys("v2")
    _submit(browser)
    # seqflow.trigger_form words the API server's refusal: every bad value, each by its field's title
    run_rule = _EXPECTED["run_id"].removesuffix(" or null")
    expected = [f"Run: 'run;rm -rf /' is not valid; it must be {run_rule}",
                f"Pipeline version: 'v2' is not valid; it must be {_EXPECTED['pipeline_version']}"]
    alert = _wait_until(lambda: [e for e in browser.find_elements(By.XPATH, "//*[contains(text(), 'Not triggered:')]")
                                 if e.is_displayed()], what="the refusal")[0]
    if SCREENSHOTS:
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", alert)
        time.sleep(1)
        browser.save_screenshot(str(SCREENSHOTS / "refusal.png"))
    for message in expected:
        assert message in alert.text, alert.text
    for raw in ("Invalid input for param", "Failed validating", "does not match", "^"):
        assert raw not in alert.text, raw
    # the rule, in the same words, is shown under each field itself
    assert run_rule in _field_row(browser, "run_id").text
    assert _EXPECTED["pipeline_version"] in _field_row(browser, "pipeline_version").text
    assert AirflowClient(airflow.url).dag_runs(DAG_ID) == []  # nothing was triggered


def test_a_valid_trigger_is_analysed_and_its_multiqc_report_opens_from_the_run_page(browser, airflow, run_folder):
    from selenium.webdriver.common.by import By

    from seqflow.config import local_paths
    from seqflow.local.client import AirflowClient
    from seqflow.local.watch import wait_for
    from seqflow.registry import local_registry

    field = _open_form(browser, airflow.url)
    field.send_keys(run_folder.name)
    browser.find_element(By.ID, "element_reference").send_keys("lambda")
    _submit(browser)
    client = AirflowClient(airflow.url)
    [dag_run] = _wait_until(lambda: client.dag_runs(DAG_ID), what="the triggered DAG run")
    assert dag_run["conf"]["run_id"] == run_folder.name and dag_run["conf"]["reference"] == "lambda"
    assert wait_for(client, DAG_ID, dag_run["dag_run_id"], timeout_s=900) == "success"
    record = local_registry().get(run_folder.name, "1.0.0/lambda/bwa/bcftools")
    assert record.status == "analysed"
    report = local_paths().results / run_folder.name / "1.0.0" / "lambda" / "bwa-bcftools" / "multiqc_report.html"
    assert record.details["multiqc_report"] == str(report) and report.is_file()

    browser.get(f"{airflow.url}/dags/{DAG_ID}/runs/{dag_run['dag_run_id']}")
    tab = browser.find_element(By.XPATH, "//a[contains(., 'MultiQC report')] | //button[contains(., 'MultiQC report')]")
    tab.click()
    frame = browser.find_element(By.CSS_SELECTOR, "iframe[title='MultiQC report']")
    src = frame.get_attribute("src")
    browser.switch_to.frame(frame)
    try:
        heading = _wait_until(lambda: run_folder.name in browser.find_element(By.TAG_NAME, "body").text and
                              browser.find_element(By.TAG_NAME, "body").text, timeout_s=60,
                              what="the report in the tab")
    except AssertionError:
        raise AssertionError(f"the tab's frame ({src}) shows: {browser.page_source[:1500]}") from None
    assert f"seqflow: {run_folder.name}" in heading
    table = browser.find_element(By.ID, "seqflow_samples_table_table")
    assert "LAM-S01" in table.text and "F1" in table.text
    browser.switch_to.default_content()
