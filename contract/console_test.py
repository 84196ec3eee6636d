"""Drives the fleet console in real headless Chromium (through Selenium and chromedriver) against
a running local server, as a person would: registers things and a group, creates a CONTINUOUS job
through the form (after an invalid one, whose refusal must show the API's own message), lets a
device (`ops device`, what `cargo xtask device` runs) take an execution to SUCCEEDED while the page
refreshes by itself, cancels the job, uploads and publishes a firmware file. It fails on any
JavaScript error, any request the page sends anywhere but the server, or a layout shift while a
page refreshes. Screenshots of the main pages go to --screenshots for review.

    python console_test.py --url http://127.0.0.1:8080 --device-endpoint http://127.0.0.1:8081 \\
        --ops target/debug/ops --chromium /usr/bin/chromium --chromedriver /usr/bin/chromedriver \\
        --screenshots target/console

`cargo xtask test` starts the server and runs this.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

WAIT_S = 20


class Console:
    def __init__(self, args):
        options = webdriver.ChromeOptions()
        options.binary_location = args.chromium
        for flag in [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,800",
            # Only the server is reachable: the console must need nothing else.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        ]:
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service(executable_path=args.chromedriver), options=options)
        self.url = args.url.rstrip("/")
        self.shots = Path(args.screenshots)
        self.shots.mkdir(parents=True, exist_ok=True)

    def open(self, fragment):
        self.driver.get(f"{self.url}/console#{fragment}")

    def go(self, fragment):
        """Moves within the page, as a click on a link does."""
        self.driver.execute_script("location.hash = arguments[0]", fragment)

    def wait(self, condition, what):
        try:
            return WebDriverWait(self.driver, WAIT_S, poll_frequency=0.1).until(lambda d: condition())
        except TimeoutException:
            raise AssertionError(f"timed out waiting for {what}; the page shows:\n{self.text('main')}") from None

    def find(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def finds(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def text(self, css):
        found = self.finds(css)
        return found[0].text if found else ""

    def wait_text(self, css, wanted):
        return self.wait(lambda: wanted in self.text(css), f"{wanted!r} in {css}")

    def fill(self, css, value):
        field = self.find(css)
        field.clear()
        field.send_keys(value)

    def submit(self, form_css, label):
        self.find(form_css).find_element(By.XPATH, f".//button[normalize-space()='{label}']").click()

    def button_in(self, row_css, label):
        return self.find(row_css).find_element(By.XPATH, f".//button[normalize-space()='{label}']")

    def screenshot(self, name):
        path = self.shots / f"{name}.png"
        self.driver.execute_script("window.scrollTo(0, 0)")
        self.driver.save_screenshot(str(path))
        print(f"  screenshot {path}")

    def errors(self):
        """JavaScript errors and refused requests the browser logged."""
        return [entry["message"] for entry in self.driver.get_log("browser") if entry["level"] == "SEVERE"]

    def watch_layout_shifts(self):
        self.driver.execute_script(
            """window.__shift = 0;
            new PerformanceObserver((list) => {
              for (const e of list.getEntries()) if (!e.hadRecentInput) window.__shift += e.value;
            }).observe({type: 'layout-shift', buffered: false});"""
        )

    def layout_shift(self):
        return self.driver.execute_script("return window.__shift")


def api(url, method, path, body=None):
    """The API's answer to one call, as (status, JSON)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{url}{path}", data=data, method=method)
    if data is not None:
        request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def step(name):
    print(f"- {name}")


def run(args):
    c = Console(args)
    expected_errors = []
    try:
        step("devices: register two things through the form")
        c.open("/things")
        c.wait(lambda: c.finds("#new-thing"), "the thing form")
        for name in ["console-lamp-1", "console-lamp-2"]:
            c.fill("#thing-name", name)
            c.fill("#thing-attributes", "model=L100, batch=7")
            c.submit("#new-thing", "Create thing")
            c.wait_text("#things", name)

        step("a refused thing shows the API's message")
        c.fill("#thing-name", "console-lamp-1")
        c.fill("#thing-attributes", "")
        c.submit("#new-thing", "Create thing")
        status, refusal = api(c.url, "POST", "/things", {"thingName": "console-lamp-1"})
        assert status == 409, (status, refusal)
        c.wait_text("#new-thing .form-error", refusal["error"])
        expected_errors.append(("/things", 409))

        step("search by attribute")
        c.fill("#thing-query", "attributes.model:L100")
        c.find("#thing-query").send_keys(Keys.ENTER)
        c.wait(lambda: len(c.finds("#things tr[data-thing]")) == 2, "both things found by search")
        c.screenshot("devices")

        step("groups: create a group and put both things in it")
        c.go("/groups")
        c.wait(lambda: c.finds("#new-group"), "the group form")
        c.fill("#group-name", "console-floor")
        c.submit("#new-group", "Create group")
        c.wait_text("#group-tree", "console-floor")
        c.find("#group-tree a").click()
        c.wait_text("h1", "console-floor")
        c.wait(lambda: "No members." in c.text("main"), "the group's empty member list")
        for name in ["console-lamp-1", "console-lamp-2"]:
            field = c.find("input[aria-label='Thing to add']")
            field.clear()
            field.send_keys(name, Keys.ENTER)
            c.wait_text("main table", name)
        c.screenshot("group")

        step("an invalid job shows the API's message")
        c.go("/jobs/new")
        c.wait(lambda: len(c.finds("#job-groups option")) >= 1, "the group list in the job form")
        c.fill("#job-id", "not a valid id!")
        Select(c.find("#job-groups")).select_by_visible_text("console-floor")
        c.submit("#new-job", "Create job")
        status, refusal = api(
            c.url,
            "POST",
            "/jobs",
            {"jobId": "not a valid id!", "targets": ["arn:aws:iot:us-east-1:000000000000:thinggroup/console-floor"],
             "targetSelection": "SNAPSHOT", "document": '{"operation": "update"}'},
        )
        assert status == 422 and "jobId" in refusal["error"], (status, refusal)
        c.wait_text("#new-job .form-error", refusal["error"])
        expected_errors.append(("/jobs", 422))
        c.screenshot("job-form-refused")

        step("create a CONTINUOUS job through the form")
        c.fill("#job-id", "console-rollout")
        c.fill("#job-description", "Lamp firmware 2.1")
        Select(c.find("#job-selection")).select_by_visible_text("CONTINUOUS")
        c.fill("#job-document-input", '{"operation": "update", "version": "2.1"}')
        c.submit("#new-job", "Create job")
        c.wait(lambda: c.driver.current_url.endswith("#/jobs/console-rollout"), "the new job's page")
        c.wait_text("h1", "IN_PROGRESS")
        c.wait_text(".bar-legend", "0 of 2 finished")
        c.wait(lambda: len(c.finds("#executions tr[data-thing]")) == 2, "two queued executions")
        c.wait_text("#job-document", '"version": "2.1"')

        step("the page refreshes without moving anything")
        c.watch_layout_shifts()
        time.sleep(4)
        shift = c.layout_shift()
        assert shift < 0.001, f"the job page moved by {shift} while refreshing"

        step("a device takes its execution to SUCCEEDED; the page follows by itself")
        subprocess.run(
            [args.ops, "device", "console-lamp-1", "--endpoint", args.device_endpoint, "--progress-steps", "1",
             "--downloads", tempfile.mkdtemp(prefix="console-device-")],
            check=True,
        )
        c.wait_text(".bar-legend", "1 of 2 finished")
        c.wait_text("#executions tr[data-thing='console-lamp-1']", "SUCCEEDED")
        c.wait_text("#executions tr[data-thing='console-lamp-2']", "QUEUED")
        c.wait(lambda: c.find("svg.chart").get_attribute("aria-label").startswith("executions by state"), "the chart")
        c.screenshot("job")

        step("filter the executions by status")
        Select(c.find("select[aria-label='Execution status']")).select_by_visible_text("SUCCEEDED")
        c.wait(lambda: len(c.finds("#executions tr[data-thing]")) == 1, "only the succeeded execution")
        Select(c.find("select[aria-label='Execution status']")).select_by_visible_text("Any status")
        c.wait(lambda: len(c.finds("#executions tr[data-thing]")) == 2, "both executions again")

        step("the jobs list shows the job's progress")
        c.go("/jobs")
        c.wait_text("#jobs tr[data-job='console-rollout']", "1 of 2 finished")
        c.screenshot("jobs")

        step("cancel the job")
        c.go("/jobs/console-rollout")
        c.wait(lambda: c.finds("#cancel-job"), "the cancel form")
        c.fill("#cancel-comment", "superseded")
        c.submit("#cancel-job", "Cancel job")
        c.wait_text("h1", "CANCELED")
        c.wait_text("#executions tr[data-thing='console-lamp-2']", "CANCELED")
        status, job = api(c.url, "GET", "/jobs/console-rollout")
        assert job["job"]["status"] == "CANCELED" and job["job"]["comment"] == "superseded", job

        step("the thing's page: groups, shadow, executions")
        # A thing with no classic shadow: the API answers 404, which the page shows as such.
        expected_errors.append(("/things/console-lamp-1/shadow", 404))
        c.go("/things/console-lamp-1")
        c.wait_text("#thing-jobs", "console-rollout")
        c.wait_text("main", "console-floor")
        c.screenshot("thing")

        step("firmware: a category, an upload with progress, publish, deploy to")
        c.go("/files")
        c.wait(lambda: c.finds("#category-name"), "the category form")
        c.fill("#category-name", "console-lamps")
        c.find("#category-name").send_keys(Keys.ENTER)
        c.wait_text("#categories", "console-lamps")
        firmware = Path(tempfile.mkdtemp(prefix="console-firmware-")) / "lamp-2.1.bin"
        firmware.write_bytes(os.urandom(256 * 1024))
        c.fill("#file-version", "2.1.0")
        c.find("#file-bytes").send_keys(str(firmware))
        c.submit("#upload", "Upload")
        c.wait_text("#upload", "uploaded and verified")
        c.wait_text("#files", "DRAFT")
        c.button_in("#files tr[data-file]", "Publish").click()
        c.wait_text("#files", "PUBLISHED")
        c.screenshot("firmware")
        c.button_in("#files tr[data-file]", "Deploy to…").click()
        c.wait(lambda: [o.text for o in Select(c.find("#job-files")).all_selected_options] == ["2.1.0 en-US (PUBLISHED)"],
               "the file chosen in the job form")

        step("a phone-sized screen")
        c.driver.set_window_size(390, 844)
        c.go("/jobs")
        c.wait_text("#jobs", "console-rollout")
        width = c.driver.execute_script("return document.documentElement.scrollWidth")
        assert width <= 390, f"the jobs page is {width} px wide on a 390 px screen"
        c.screenshot("jobs-phone")

        step("keyboard: the sections are reachable with Tab")
        c.driver.set_window_size(1280, 800)
        c.open("/jobs")
        c.wait_text("#jobs", "console-rollout")
        reached = []
        for _ in range(20):
            ActionChains(c.driver).send_keys(Keys.TAB).perform()
            reached.append(c.driver.switch_to.active_element.text)
        assert "Devices" in reached and "Firmware" in reached, reached

        errors = [
            e for e in c.errors()
            if not any(e.startswith(f"{c.url}{path} ") and f"status of {code}" in e for path, code in expected_errors)
        ]
        assert not errors, "the browser logged errors:\n" + "\n".join(errors)
    finally:
        c.driver.quit()
    print("console: every step passed")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--device-endpoint", required=True)
    parser.add_argument("--ops", required=True)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    parser.add_argument("--screenshots", required=True)
    args = parser.parse_args()
    # Selenium must not look for drivers or browsers on the network.
    os.environ["SE_OFFLINE"] = "true"
    try:
        run(args)
    except AssertionError as e:
        print(f"console: FAILED: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
