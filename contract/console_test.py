"""Drives the fleet console in real headless Chromium (through Selenium and chromedriver) against
a running local server, as a person would: registers things and a group, creates a CONTINUOUS job
through the form (after an invalid one, whose refusal must show the API's own message), lets a
device (`ops device`, what `cargo xtask device` runs) take an execution to SUCCEEDED while the page
refreshes by itself, cancels the job; creates a job from a template, updates it, deletes an
execution and the job; deprecates a thing type, changes a dynamic group's query, reads a named
shadow, uploads and publishes a firmware file. It fails on any
JavaScript error, any request the page sends anywhere but the server, or a layout shift while a
page refreshes. Screenshots of the main pages go to --screenshots for review.

Then it signs in as a deployed stack's console does, through a Cognito user pool (moto's, at
--moto): a stand-in for API Gateway with a Cognito authorizer serves the console under a stage
(/v1/console, with the page's own files and the configuration the console function gives for a
user pool) and passes API calls to the server only with an ID token of the pool's app client.
The console must refuse a wrong password with Cognito's message, take the first sign-in through
the new-password challenge, call the API with the token, keep the page drawn and say why
when the API is unavailable, and sign out.

    python console_test.py --url http://127.0.0.1:8080 --device-endpoint http://127.0.0.1:8081 \\
        --moto http://127.0.0.1:5000 --ops target/debug/ops --chromium /usr/bin/chromium \\
        --chromedriver /usr/bin/chromedriver --screenshots target/console

`cargo xtask test` starts the server and runs this.
"""

import argparse
import base64
import http.server
import json
import os
import threading
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
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
            # A refresh replaces what the page shows: an element read just as it is replaced
            # is read again on the next poll.
            return WebDriverWait(
                self.driver, WAIT_S, poll_frequency=0.1, ignored_exceptions=[StaleElementReferenceException]
            ).until(lambda d: condition())
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


class Gateway(http.server.ThreadingHTTPServer):
    """What API Gateway does in front of a stack with COGNITO_USER_POOLS and the console: the
    console's routes are open, every other call needs an ID token of the pool's app client in
    Authorization, and the stage is the first segment of the path."""

    def __init__(self, api, moto, client_id):
        super().__init__(("127.0.0.1", 0), GatewayHandler)
        self.api, self.moto, self.client_id = api, moto, client_id
        self.calls_with_token = 0
        # While set, the API behind the gateway is unavailable, as during an outage.
        self.failing = False

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class GatewayHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body, headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def relay(self):
        gateway = self.server
        if not self.path.startswith("/v1/"):
            return self.answer(403, b'{"message":"Missing Authentication Token"}')
        path = self.path[len("/v1"):]
        if path == "/console/config.json":
            # What the console function answers with IOT_API_CONSOLE_USER_POOL_* set (its exact
            # shape is checked in crates/lambda/tests/events.rs), Cognito being moto here.
            config = {"signIn": "COGNITO_USER_POOLS", "clientId": gateway.client_id,
                      "region": "us-east-1", "endpoint": f"{gateway.moto}/", "docs": False}
            return self.answer(200, json.dumps(config).encode(), [("content-type", "application/json")])
        console = path == "/console" or path.startswith("/console/")
        if not console and not self.authorized():
            body = b'{"error": "Unauthorized", "code": "Unauthorized"}'
            return self.answer(401, body, [("content-type", "application/json")])
        if not console and gateway.failing:
            body = b'{"error": "the API is unavailable; retry", "code": "ServiceUnavailable"}'
            return self.answer(503, body, [("content-type", "application/json")])
        length = int(self.headers.get("content-length") or 0)
        data = self.rfile.read(length) if length else None
        request = urllib.request.Request(f"{gateway.api}{path}", data=data, method=self.command)
        if self.headers.get("content-type"):
            request.add_header("content-type", self.headers["content-type"])
        try:
            with urllib.request.urlopen(request) as reply:
                status, headers, body = reply.status, reply.headers, reply.read()
        except urllib.error.HTTPError as e:
            status, headers, body = e.code, e.headers, e.read()
        passed = [(k, v) for k, v in headers.items() if k.lower() in ("content-type", "content-security-policy")]
        if console:
            # The console function allows the page to call the pool's endpoint too.
            passed = [(k, v.replace("connect-src 'self'", f"connect-src 'self' {gateway.moto}")) for k, v in passed]
        self.answer(status, body, passed)

    do_GET = do_POST = do_PUT = do_DELETE = relay

    def authorized(self):
        token = self.headers.get("authorization", "")
        try:
            claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
        except (IndexError, ValueError):
            return False
        if claims.get("token_use") != "id" or claims.get("aud") != self.server.client_id:
            return False
        self.server.calls_with_token += 1
        return True


def sign_in_through_a_user_pool(args, c):
    """The console of a stack with COGNITO_USER_POOLS, against moto's Cognito."""
    cognito = boto3.client("cognito-idp", endpoint_url=args.moto, region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
    pool = cognito.create_user_pool(PoolName="console-test")["UserPool"]["Id"]
    client = cognito.create_user_pool_client(
        UserPoolId=pool, ClientName="console", GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    cognito.admin_create_user(UserPoolId=pool, Username="operator", TemporaryPassword="First-Pass-1")
    gateway = Gateway(c.url, args.moto.rstrip("/"), client)
    threading.Thread(target=gateway.serve_forever, daemon=True).start()
    try:
        step("sign in: the page asks for a user of the pool")
        c.driver.get(f"{gateway.url}/console#/jobs")
        c.wait(lambda: c.finds("#sign-in"), "the sign-in form")
        status, _ = api(gateway.url, "GET", "/jobs")
        assert status == 401, f"the stand-in gateway let a call without a token through: {status}"

        step("a wrong password shows the pool's refusal")
        c.fill("#sign-in-user", "operator")
        c.fill("#sign-in-password", "not-the-password")
        c.submit("#sign-in", "Sign in")
        c.wait(lambda: c.text("#sign-in .form-error").strip() != "", "the refusal")
        assert "password" in c.text("#sign-in .form-error").lower(), c.text("#sign-in .form-error")

        step("the first sign-in asks for a new password, then shows the jobs")
        c.fill("#sign-in-password", "First-Pass-1")
        c.submit("#sign-in", "Sign in")
        c.wait(lambda: c.find("#sign-in-new-password").is_displayed(), "the new password field")
        c.fill("#sign-in-new-password", "Second-Pass-2")
        c.submit("#sign-in", "Sign in")
        c.wait_text("#jobs", "console-rollout")
        assert gateway.calls_with_token > 0
        c.wait_text("#account", "operator")
        c.screenshot("signed-in")

        step("a failed request leaves the page and says why")
        gateway.failing = True
        c.go("/things")
        c.wait_text("#status", "the API is unavailable; retry")
        assert c.finds("#things") and c.finds("#new-thing"), "the devices page is not drawn"
        gateway.failing = False
        c.go("/jobs")
        c.wait_text("#jobs", "console-rollout")

        step("sign out")
        c.find("#sign-out").click()
        c.wait(lambda: c.finds("#sign-in"), "the sign-in form again")
    finally:
        gateway.shutdown()


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

        step("a job from a template: created, updated, an execution deleted, then the job")
        status, _ = api(c.url, "POST", "/job-templates",
                        {"jobTemplateId": "console-reboot", "description": "Reboot", "document": '{"op": "reboot"}'})
        assert status == 200, status
        c.go("/jobs/new")
        c.wait(lambda: len(c.finds("#job-template option")) >= 2, "the templates in the job form")
        c.fill("#job-id", "from-template")
        Select(c.find("#job-template")).select_by_visible_text("console-reboot")
        c.wait(lambda: c.find("#job-document-input").get_attribute("value") == "", "the document left to the template")
        Select(c.find("#job-things")).select_by_visible_text("console-lamp-2")
        c.submit("#new-job", "Create job")
        c.wait(lambda: c.driver.current_url.endswith("#/jobs/from-template"), "the new job's page")
        c.wait_text("main", "jobtemplate/console-reboot")
        c.wait_text("#job-document", '"op": "reboot"')
        c.fill("#update-job", '{"description": "Reboot the lab"}')
        c.driver.find_element(By.XPATH, "//button[normalize-space()='Update job']").click()
        c.wait_text("main dl", "Reboot the lab")
        c.wait(lambda: c.finds("#executions tr[data-thing='console-lamp-2']"), "the queued execution")
        c.find("#executions").find_element(By.XPATH, "preceding::input[@type='checkbox'][1]").click()
        c.button_in("#executions tr[data-thing='console-lamp-2']", "Delete").click()
        c.wait(lambda: not c.finds("#executions tr[data-thing='console-lamp-2']"), "the execution deleted")
        c.find("#delete-force").click()
        c.driver.find_element(By.XPATH, "//button[normalize-space()='Delete job']").click()
        c.wait(lambda: c.driver.current_url.endswith("#/jobs"), "the jobs list after the delete")
        c.wait(lambda: api(c.url, "GET", "/jobs/from-template")[0] == 404, "the job gone")

        step("thing types: create, deprecate, undeprecate")
        c.go("/thing-types")
        c.wait(lambda: c.finds("#type-name"), "the thing type form")
        c.fill("#type-name", "console-lamp-type")
        c.find("#type-name").send_keys(Keys.ENTER)
        c.wait(lambda: c.finds("#thing-types tr[data-type='console-lamp-type']"), "the new type")
        c.button_in("#thing-types tr[data-type='console-lamp-type']", "Deprecate").click()
        c.wait_text("#thing-types tr[data-type='console-lamp-type']", "DEPRECATED")
        c.button_in("#thing-types tr[data-type='console-lamp-type']", "Undeprecate").click()
        c.wait_text("#thing-types tr[data-type='console-lamp-type']", "active")

        step("a dynamic group: its members follow its query, which the page changes")
        c.go("/groups")
        c.wait(lambda: c.finds("#group-query"), "the group form")
        c.fill("#group-name", "console-batch-7")
        c.fill("#group-query", "attributes.batch:7")
        c.submit("#new-group", "Create group")
        c.wait_text("#group-tree", "dynamic: attributes.batch:7")
        c.go("/groups/console-batch-7")
        c.wait(lambda: "console-lamp-1" in c.text("main table") and "console-lamp-2" in c.text("main table"),
               "both lamps in the dynamic group")
        c.fill("input[aria-label='Query']", "thingName:console-lamp-1")
        c.submit("main form.card", "Change query")
        c.wait(lambda: "console-lamp-2" not in c.text("main table") and "console-lamp-1" in c.text("main table"),
               "only lamp 1 after the query change")

        step("the thing's page: groups, shadows, executions")
        # A thing with no classic shadow: the API answers 404, which the page shows as such.
        expected_errors.append(("/things/console-lamp-1/shadow", 404))
        status, _ = api(c.url, "PUT", "/things/console-lamp-1/shadows/config", {"desired": {"mode": "eco"}})
        assert status == 200, status
        c.go("/things/console-lamp-1")
        c.wait_text("#thing-jobs", "console-rollout")
        c.wait_text("main", "console-floor")
        c.wait_text("main", 'Shadow "config"')
        c.wait_text("main", '"mode": "eco"')
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

        sign_in_through_a_user_pool(args, c)
        # The stand-in gateway's refusal of a call without a token, and the pool's of a wrong
        # password, are the only other failed requests.
        expected_errors.append(("/v1/jobs", 401))
        expected_errors.append(("/v1/things?maxResults=25", 503))

        errors = [
            e for e in c.errors()
            if not any(e.split(" ")[0].endswith(path) and f"status of {code}" in e for path, code in expected_errors)
            and not (e.startswith(args.moto) and "status of 400" in e)
        ]
        assert not errors, "the browser logged errors:\n" + "\n".join(errors)
    finally:
        c.driver.quit()
    print("console: every step passed")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--device-endpoint", required=True)
    parser.add_argument("--moto", required=True, help="a moto server, whose Cognito the console signs in with")
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
