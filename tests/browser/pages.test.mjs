// The pages on their own, served from agent-console/assets by a stand-in static server with the
// real server's routes (no signaling behind it): they load without script errors, start in the
// right state, switch language and fit a 360 px screen.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { readFile } from "node:fs/promises";
import { launchBrowser, openPage, startStaticServer } from "./harness.mjs";

let statics;
let base;
let browser;

before(async () => {
  statics = await startStaticServer();
  base = statics.base;
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await statics?.close();
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
    // The services come from the catalogue, grouped by the hall's areas.
    await page.locator("#service-select optgroup").first().waitFor({ state: "attached" });
    const fixture = JSON.parse(await readFile(new URL("./fixtures/catalogue.json", import.meta.url)));
    assert.equal(await page.locator("#service-select option").count(), fixture.services.length);
    assert.equal(await page.locator("#service-select optgroup").count(), 5, "one group per hall area");
    assert.match(await page.locator("#service-hours").textContent(), /服务时间/);

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

test("the staff console starts at the login form when there is no session", async () => {
  const { context, page, errors } = await openPage(browser, "pages-staff", `${base}/staff`, { ...PHONE, locale: "en-US" });
  try {
    await page.locator("#login-username").waitFor();
    assert.equal(await page.getAttribute("html", "lang"), "en");
    assert.ok(await page.locator("#login-form").isVisible());
    assert.equal((await page.locator("#login-heading").textContent()).trim(), "Staff login");
    assert.ok(await page.locator("#console-section").isHidden());
    assert.ok(await page.locator("#wallboard").isHidden());
    assert.equal(await page.evaluate(() => window.voicedesk.pc), null, "no media before login");

    await page.click("#lang-switch");
    assert.equal(await page.getAttribute("html", "lang"), "zh-CN");
    assert.equal((await page.locator("#login-heading").textContent()).trim(), "后台人员登录");

    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the staff console is ${overflow} px wider than a 360 px screen`);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});
