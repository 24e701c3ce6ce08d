// Logging in to the agent console: a wrong password is refused visibly and leaves no session;
// the right one opens the console, and logging out ends the session.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { DEMO_PASSWORD, launchBrowser, openPage, startServer, waitForState } from "./harness.mjs";

let server;
let browser;

before(async () => {
  server = await startServer("login");
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** The status of GET /api/me as this page's session sees it. */
function meStatus(page) {
  return page.evaluate(async () => (await fetch("/api/me")).status);
}

async function sessionCookie(context) {
  return (await context.cookies()).find((cookie) => cookie.name === "vd_session");
}

test("a wrong password shows an error and creates no session", async () => {
  const { context, page, errors } = await openPage(browser, "login-wrong", `${server.url}/agent`, { locale: "en-US" });
  try {
    await page.fill("#login-username", "agent1");
    await page.fill("#login-password", "not-the-password");
    await page.click("#login-submit");

    await page.locator("#login-error").waitFor({ state: "visible" });
    assert.equal((await page.locator("#login-error").textContent()).trim(), "Wrong username or password.");
    assert.equal(await page.getAttribute("#login-error", "role"), "alert");
    assert.ok(await page.locator("#console-section").isHidden());
    assert.equal(await sessionCookie(context), undefined, "no vd_session cookie");
    assert.equal(await meStatus(page), 401);
    assert.equal(await page.evaluate(() => window.voicedesk.pc), null, "no media without a session");
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test("the right password opens the console and logging out ends the session", async () => {
  const { context, page, errors } = await openPage(browser, "login-right", `${server.url}/agent`, { locale: "zh-CN" });
  try {
    await page.fill("#login-username", "agent2");
    await page.fill("#login-password", DEMO_PASSWORD);
    await page.click("#login-submit");

    await page.locator("#console-section").waitFor({ state: "visible" });
    const cookie = await sessionCookie(context);
    assert.ok(cookie, "a vd_session cookie");
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, "Strict");
    assert.equal(await meStatus(page), 200);
    await waitForState(page, "#media-state", "connected", 20_000);

    // A reload keeps the session: the console comes back without the form.
    await page.reload();
    await page.locator("#console-section").waitFor({ state: "visible" });
    await waitForState(page, "#media-state", "connected", 20_000);

    await page.click("#logout-button");
    await page.locator("#login-form").waitFor({ state: "visible" });
    assert.equal(await meStatus(page), 401);
    assert.equal(await page.evaluate(() => window.voicedesk.pc.signalingState), "closed");
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});
