# SPDX-License-Identifier: GPL-2.0-or-later
"""The console's pages in a real headless Chromium (Debian chromium + chromium-driver, driven through
ChromeDriver by python3-selenium) against a real collector over real HTTPS, its database seeded through
real enrollment and ingest. The browser trusts the collector's CA the proper way: the CA is added to an NSS
database in the browser's own HOME (certutil, Debian libnss3-tools); no certificate errors are ignored.

Covered: an unauthenticated browser is refused data and shown the sign-in form; the host list renders
(versions, policy serials, silent hosts highlighted, sorting); a host's timeline, newest first, filtered by
action shows only those records and expands one; the evidence export downloads and verifies with
`mnguardctl --journal FILE verify`; device links lead to the cross-host view; the access log shows what
was looked at; an auditor's publish from the page is refused; no Content-Security-Policy violation. Screenshots
of the host list and a timeline are saved (path printed)."""

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import consoletest as cs  # noqa: E402

BACKEND = sys.argv.pop(1) if len(sys.argv) > 1 else "sqlite"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT = 30

try:
    from selenium import webdriver
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:
    webdriver = None


def missing():
    if webdriver is None:
        return "python3-selenium is not installed"
    for path, pkg in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            return f"{path} missing (Debian package {pkg})"
    if not shutil.which("certutil"):
        return "certutil missing (Debian package libnss3-tools): needed to trust the collector's CA"
    return None


class ConsoleBrowserTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="mnguard-console-browser-")
        base = cls.tmp.name
        cls.con = cs.Console(base, BACKEND)
        cls.driver = None
        try:
            for name, role in (("alice", "auditor"), ("kanri", "admin")):
                p = cls.con.operator_add(name, role, cs.PASSWORDS[name])
                assert p.returncode == 0, p.stderr
            cls.con.trust_signing_key()
            cls.con.start()
            cls.hosts = cls.con.seed()
            cls.con.publish(2026112601, "取手市 マイナンバー利用事務系 標準")
            cls.url = "https://localhost:%d" % cls.con.c.port
            cls.downloads = os.path.join(base, "downloads")
            os.makedirs(cls.downloads)
            cls.driver = cls.start_browser(base)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def start_browser(cls, base):
        # the collector's CA in an NSS database of the browser's own HOME: trusted for servers, nothing else
        home = os.path.join(base, "home")
        nssdb = os.path.join(home, ".pki", "nssdb")
        os.makedirs(nssdb)
        cs.ct.run(["certutil", "-N", "-d", "sql:" + nssdb, "--empty-password"])
        cs.ct.run(["certutil", "-A", "-d", "sql:" + nssdb, "-n", "mnguard collector CA", "-t", "C,,", "-i", cls.con.c.ca])
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--window-size=1400,1000",
                  "--lang=ja", "--user-data-dir=" + os.path.join(base, "profile")):
            opts.add_argument(a)
        opts.add_experimental_option("prefs", {"download.default_directory": cls.downloads,
                                               "download.prompt_for_download": False,
                                               "safebrowsing.enabled": False})
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        env = dict(os.environ, HOME=home)
        service = Service(CHROMEDRIVER, env=env, log_path=os.path.join(base, "chromedriver.log"))
        driver = webdriver.Chrome(service=service, options=opts)
        driver.set_page_load_timeout(WAIT)
        driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": cls.downloads})
        return driver

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.driver:
                cls.driver.quit()
        finally:
            cls.con.stop()
            cls.tmp.cleanup()

    # ---- helpers ----

    def wait(self, cond, what):
        try:
            return WebDriverWait(self.driver, WAIT, poll_frequency=0.1).until(lambda d: cond(d), what)
        except TimeoutException:
            self.shot("failed-" + self._testMethodName)
            raise

    def shot(self, name):
        path = os.path.join(cs.artifacts_dir(), name + ".png")
        self.driver.save_screenshot(path)
        print(f"\nscreenshot: {path}", flush=True)
        return path

    def settled(self, d):
        """The view for the current URL is drawn (app.js sets body[data-shown] to the hash it drew)."""
        return d.execute_script("return location.hash !== '' && document.body.dataset.shown === location.hash")

    def visible(self, element_id):
        e = self.driver.find_elements(By.ID, element_id)
        return bool(e) and e[0].is_displayed()

    def rows(self, table):
        return self.driver.find_elements(By.CSS_SELECTOR, f"#{table} tbody tr:not(.detail)")

    def sign_in(self, name):
        d = self.driver
        d.get(self.url + "/console/")
        self.wait(lambda d: self.visible("view-login") or self.visible("view-hosts"), "a page")
        if self.visible("view-hosts"):
            d.find_element(By.ID, "logout").click()
            self.wait(lambda d: self.visible("view-login"), "the sign-in form")
        d.find_element(By.ID, "login-name").send_keys(name)
        d.find_element(By.ID, "login-password").send_keys(cs.PASSWORDS[name])
        d.find_element(By.ID, "login-submit").click()
        self.wait(lambda d: self.settled(d) and self.visible("view-hosts"), "the host list")

    def fetch(self, path, method="GET", body=None, csrf=True):
        """fetch() from the page itself: the browser's own cookie, origin and headers."""
        return self.driver.execute_async_script("""
            const [path, method, body, csrf, done] = arguments;
            (async () => {
              const headers = {'Content-Type': 'application/json'};
              if (csrf) {
                const me = await fetch('/v1/console/session', {credentials: 'same-origin'});
                if (me.ok) headers['X-CSRF-Token'] = (await me.json()).csrf;
              }
              const r = await fetch(path, {method, credentials: 'same-origin', headers,
                                           body: method === 'GET' ? undefined : body});
              done({status: r.status, body: await r.text()});
            })().catch(e => done({status: -1, body: String(e)}));
        """, path, method, body, csrf)

    def csp_violations(self):
        return [e for e in self.driver.get_log("browser") if "Content Security Policy" in e.get("message", "")]

    # ---- the tests, in order ----

    def test_1_unauthenticated_is_refused(self):
        d = self.driver
        d.get(self.url + "/v1/console/hosts")
        body = d.find_element(By.TAG_NAME, "body").text
        self.assertIn("client-certificate-required", body)
        self.assertNotIn(self.hosts[1]["id"], body)
        d.get(self.url + "/console/")
        self.wait(lambda d: self.visible("view-login"), "the sign-in form")
        self.assertFalse(self.visible("nav"))
        self.assertFalse(self.visible("view-hosts"))
        # the connection is trusted (the CA from the NSS database), so the page is a secure context
        self.assertTrue(d.execute_script("return window.isSecureContext"))
        r = self.fetch("/v1/events", csrf=False)
        self.assertEqual(r["status"], 403)
        # a wrong password is refused on the page
        d.find_element(By.ID, "login-name").send_keys("alice")
        d.find_element(By.ID, "login-password").send_keys("not-the-password")
        d.find_element(By.ID, "login-submit").click()
        self.wait(lambda d: d.find_element(By.ID, "login-error").text != "", "the login error")
        self.assertIn("Wrong name or password", d.find_element(By.ID, "login-error").text)

    def test_2_host_list_renders(self):
        self.sign_in("alice")
        d = self.driver
        rows = self.rows("hosts-table")
        self.assertEqual(len(rows), len(cs.HOSTS))
        cells = {r.find_element(By.CSS_SELECTOR, "td.id").text: r for r in rows}
        r1 = cells[self.hosts[1]["id"]]
        text1 = [c.text for c in r1.find_elements(By.TAG_NAME, "td")]
        self.assertTrue(text1[0].startswith("mn-pc-0001"))
        self.assertEqual(text1[3:5], ["0.1.0", "2026112601"])
        self.assertIn("intact", text1[5])
        # the host that never reported stands out
        r4 = cells[self.hosts[4]["id"]]
        self.assertIn("silent", r4.get_attribute("class"))
        self.assertIn("silent", r4.text)
        self.assertNotIn("silent", r1.get_attribute("class"))
        self.assertIn("gap", cells[self.hosts[3]["id"]].text)
        self.assertIn("Responder console", d.title)
        self.shot("console-hosts")
        # sorting by events, descending: the busiest host first
        d.find_element(By.CSS_SELECTOR, "#hosts-table th[data-sort=events]").click()
        self.wait(lambda d: "sort=events" in d.current_url and self.settled(d), "the list sorted by events")
        self.assertEqual(self.rows("hosts-table")[0].find_element(By.CSS_SELECTOR, "td.id").text, self.hosts[1]["id"])
        # filtering: silent hosts only
        d.find_element(By.ID, "h-silent").click()
        d.find_element(By.ID, "h-apply").click()
        self.wait(lambda d: "silent=1" in d.current_url and self.settled(d), "the silent hosts")
        self.assertEqual(len(self.rows("hosts-table")), 1)
        self.assertEqual(self.rows("hosts-table")[0].find_element(By.CSS_SELECTOR, "td.id").text, self.hosts[4]["id"])

    def open_timeline(self, n):
        d = self.driver
        d.get(self.url + "/console/#/hosts")
        self.wait(lambda d: d.execute_script("return location.hash") == "#/hosts" and self.settled(d), "the host list")
        self.assertEqual(len(self.rows("hosts-table")), len(cs.HOSTS))
        d.find_element(By.LINK_TEXT, self.hosts[n]["name"]).click()
        self.wait(lambda d: "#/host/" in d.current_url and self.settled(d), "the timeline")
        self.assertEqual(d.find_element(By.ID, "host-title").text, self.hosts[n]["name"])

    def test_3_timeline_filter_by_action(self):
        self.open_timeline(1)
        d = self.driver
        rows = self.rows("timeline-table")
        self.assertEqual(len(rows), len(self.hosts[1]["lines"]))          # 62 records: one page
        times = [r.find_element(By.CSS_SELECTOR, "td.time").get_attribute("title") for r in rows]
        self.assertEqual(times, sorted(times, reverse=True))              # newest first
        facts = d.find_element(By.ID, "host-facts").text
        self.assertIn("0.1.0", facts)
        self.assertIn("2026112601", facts)
        action = d.find_element(By.ID, "t-action")
        action.clear()
        action.send_keys("device-blocked")
        d.find_element(By.ID, "t-apply").click()
        expect = sum(1 for l in self.hosts[1]["lines"] if json.loads(l)["event"]["action"] == "device-blocked")
        self.assertGreater(expect, 0)
        self.wait(lambda d: "action=device-blocked" in d.current_url and self.settled(d), "the filtered timeline")
        self.assertEqual(len(self.rows("timeline-table")), expect)
        actions = [r.find_elements(By.TAG_NAME, "td")[2].text for r in self.rows("timeline-table")]
        self.assertEqual(set(actions), {"device-blocked"})
        self.shot("console-timeline")
        # a record expands to the whole record
        first = self.rows("timeline-table")[0]
        first.find_elements(By.TAG_NAME, "td")[3].click()
        detail = d.find_element(By.CSS_SELECTOR, "#timeline-table tr.detail:not([hidden]) pre")
        record = json.loads(detail.text)
        self.assertEqual(record["event"]["action"], "device-blocked")
        self.assertEqual(record["host"]["id"], self.hosts[1]["id"])
        self.shot("console-timeline-record")

    def test_4_export_downloads_and_verifies(self):
        d = self.driver
        if "action=device-blocked" not in d.current_url:
            self.open_timeline(1)
            d.get(d.current_url.split("?")[0] + "?action=device-blocked")
            self.wait(lambda d: self.settled(d), "the filtered timeline")
        d.find_element(By.ID, "t-export").click()
        pattern = os.path.join(self.downloads, "mnguard-%s-*.ndjson" % self.hosts[1]["id"])
        self.wait(lambda d: glob.glob(pattern) and not glob.glob(os.path.join(self.downloads, "*.crdownload")),
                  "the downloaded export")
        path = glob.glob(pattern)[0]
        with open(path) as f:
            text = f.read()
        m = cs.manifest(text)
        self.assertEqual(m["host_id"], self.hosts[1]["id"])
        self.assertEqual(m["collector"]["filter"], {"action": "device-blocked"})
        self.assertEqual(m["collector"]["exported_by"], "alice")
        rc, result = cs.verify_export(path)
        self.assertEqual(rc, 0, result)
        self.assertTrue(result["intact"])
        self.assertEqual(result["records"], m["count"])
        print(f"\nexport: {path}: {m['count']} records, {m['collector']['matching']} device-blocked, verified", flush=True)

    def test_5_device_link_shows_every_host(self):
        self.open_timeline(2)
        d = self.driver
        link = d.find_element(By.CSS_SELECTOR, "#timeline-table a.device-link")
        serial = link.text
        link.click()
        self.wait(lambda d: "#/events" in d.current_url and self.settled(d), "the device view")
        self.assertEqual(d.find_element(By.ID, "events-title").text, serial)
        rows = self.rows("events-table")
        devices = {r.find_elements(By.TAG_NAME, "td")[5].text for r in rows}
        hosts = {r.find_elements(By.TAG_NAME, "td")[1].text for r in rows}
        self.assertEqual(devices, {serial})
        self.assertGreaterEqual(len(hosts), 2, hosts)

    def test_6_policies_and_access_log(self):
        d = self.driver
        d.get(self.url + "/console/#/policies")
        self.wait(lambda d: "#/policies" in d.current_url and self.settled(d), "the policies page")
        text = d.find_element(By.ID, "serials-table").text
        self.assertIn("2026112601", text)
        self.assertIn("2026112602", text)
        published = self.rows("policies-table")
        self.assertEqual(len(published), 1)
        cells = [c.text for c in published[0].find_elements(By.TAG_NAME, "td")]
        self.assertEqual((cells[0], cells[1], cells[2], cells[6]), ("default", "2026112601", "取手市 マイナンバー利用事務系 標準", "1"))
        self.shot("console-policies")
        d.get(self.url + "/console/#/access?host=" + self.hosts[1]["id"])
        self.wait(lambda d: "#/access" in d.current_url and self.settled(d), "the access log")
        entries = [r.text for r in self.rows("access-table")]
        self.assertTrue(any("alice" in e and "GET /v1/events" in e and "device-blocked" in e for e in entries), entries)
        self.assertTrue(any("GET /v1/console/export" in e for e in entries), entries)

    def test_7_auditor_cannot_publish(self):
        body = json.dumps({"group": "default", "data": "", "signature": ""})
        r = self.fetch("/v1/policy", "POST", body)
        self.assertEqual(r["status"], 403, r)
        self.assertEqual(json.loads(r["body"])["error"], "wrong-role")
        self.assertEqual(self.con.sql("SELECT count(*) FROM policies"), [("1",)])     # IT's, from setUpClass
        # an admin's session gets past the role check (the empty policy itself is refused), with its token only
        self.sign_in("kanri")
        r = self.fetch("/v1/policy", "POST", body, csrf=False)
        self.assertEqual((r["status"], json.loads(r["body"])["error"]), (403, "csrf-token"))
        r = self.fetch("/v1/policy", "POST", body)
        self.assertNotIn(r["status"], (401, 403), r)

    def test_8_sign_out(self):
        d = self.driver
        d.get(self.url + "/console/#/hosts")
        self.wait(lambda d: d.execute_script("return location.hash") == "#/hosts" and self.settled(d), "the host list")
        d.find_element(By.ID, "logout").click()
        self.wait(lambda d: self.visible("view-login"), "the sign-in form")
        r = self.fetch("/v1/console/hosts", csrf=False)
        self.assertEqual(r["status"], 403)
        self.assertEqual(self.csp_violations(), [])


if __name__ == "__main__":
    why = missing()
    if why:
        print(f"SKIP: {why}")
        sys.exit(77)
    unittest.main(verbosity=2)
