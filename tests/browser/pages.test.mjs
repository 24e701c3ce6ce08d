// The pages on their own, served from agent-console/assets by a stand-in static server with the
// real server's routes (no signaling behind it): they load without script errors, start in the
// right state, switch language and fit a 360 px screen.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { launchBrowser, openPage, repoRoot } from "./harness.mjs";

const ASSETS = join(repoRoot, "agent-console/assets");
const TYPES = { html: "text/html; charset=utf-8", js: "text/javascript; charset=utf-8", css: "text/css; charset=utf-8" };
const ROUTES = { "/": "hall.html", "/agent": "agent.html" };

let server;
let base;
let browser;

before(async () => {
  server = createServer(async (request, response) => {
    const path = new URL(request.url, "http://localhost").pathname;
    if (path === "/api/me") {
      response.writeHead(401, { "content-type": "application/json" });
      response.end(JSON.stringify({ code: "unauthorized", message: "not logged in" }));
      return;
    }
    const file = ROUTES[path] ?? (/^\/assets\/[a-z]+\.(html|js|css)$/.test(path) ? path.slice(8) : null);
    if (!file) {
      response.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(join(ASSETS, file));
      response.writeHead(200, { "content-type": TYPES[file.split(".").pop()] }).end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  await new Promise((ready) => server.listen(0, "127.0.0.1", ready));
  base = `http://127.0.0.1:${server.address().port}`;
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await new Promise((closed) => server?.close(closed) ?? closed());
});

const PHONE = { viewport: { width: 360, height: 740 } };

test("the hall shows the monitoring notice and asks for nothing before Call", async () => {
  const { context, page, errors } = await openPage(browser, "pages-hall", `${base}/`, { ...PHONE, locale: "zh-CN" });
  try {
    await page.locator("#status").waitFor();
    assert.equal(await page.getAttribute("html", "lang"), "zh-CN");
    assert.ok(await page.locator("#monitoring-notice").isVisible());
    assert.match(await page.locator("#monitoring-notice").textContent(), /监听|录音/);
    assert.equal(await page.getAttribute("#call-button", "aria-describedby"), "monitoring-notice");
    assert.ok(await page.locator("#call-button").isEnabled());
    assert.ok(await page.locator("#hangup-button").isDisabled());
    assert.ok(await page.locator("#mute-button").isDisabled());
    assert.equal(await page.getAttribute("#status", "aria-live"), "polite");
    assert.equal(await page.evaluate(() => window.voicedesk.pc), null, "no media before Call");
    assert.equal(await page.locator("#service-select option").count(), 6);

    await page.click("#lang-switch");
    assert.equal(await page.getAttribute("html", "lang"), "en");
    assert.equal((await page.locator("#call-button").textContent()).trim(), "Call");
    assert.match(await page.locator("#monitoring-notice").textContent(), /monitored/);

    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the hall is ${overflow} px wider than a 360 px screen`);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test("the agent console starts at the login form when there is no session", async () => {
  const { context, page, errors } = await openPage(browser, "pages-agent", `${base}/agent`, { ...PHONE, locale: "en-US" });
  try {
    await page.locator("#login-username").waitFor();
    assert.equal(await page.getAttribute("html", "lang"), "en");
    assert.ok(await page.locator("#login-form").isVisible());
    assert.ok(await page.locator("#console-section").isHidden());
    assert.ok(await page.locator("#incoming-call").isHidden());
    assert.ok(await page.locator("#logout-button").isHidden());
    assert.equal((await page.locator("label[for=login-password]").textContent()).trim(), "Password");
    assert.equal(await page.evaluate(() => window.voicedesk.pc), null);

    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the console is ${overflow} px wider than a 360 px screen`);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});
