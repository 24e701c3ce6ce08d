// The admin console's main flows in Chromium: create a user (who then must choose a password in
// the agent console), edit a queue's hours (an overlap refused next to the field), add a
// holiday, edit a knowledge article and try a question; axe-core at 1280 and 360 px, no
// sideways scroll on a phone, and the console used by keyboard alone.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { DEMO_PASSWORD, launchBrowser, openPage, startServer, waitForLang } from "./harness.mjs";
import {
  VIEWPORTS,
  formatViolations,
  horizontalOverflow,
  runAxe,
  screenshot,
  settle,
  FAILING_IMPACTS,
} from "./a11y.mjs";

let server;
let browser;

before(async () => {
  server = await startServer("admin");
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function signIn(page, username = "admin1", password = DEMO_PASSWORD) {
  await waitForLang(page);
  await page.fill("#login-username", username);
  await page.fill("#login-password", password);
  await page.click("#login-submit");
}

async function openAdmin(name, options = { locale: "en-US" }) {
  const opened = await openPage(browser, name, `${server.url}/admin`, options);
  await signIn(opened.page);
  await opened.page.locator("#console-section").waitFor({ state: "visible" });
  await opened.page.locator("#users-table tbody tr").first().waitFor();
  return opened;
}

async function assertAccessible(page, label) {
  const violations = (await runAxe(page)).filter((v) => FAILING_IMPACTS.has(v.impact));
  assert.equal(violations.length, 0, `${label}:\n${formatViolations(violations)}`);
}

test("create a user, who must choose a password at the first sign-in", async () => {
  const { context, page, errors } = await openAdmin("admin-create-user");
  try {
    await page.fill("#user-username", "he.li");
    await page.fill("#user-display-name", "何丽");
    await page.fill("#user-name-latin", "He Li");
    await page.selectOption("#user-role", "agent");
    await page.fill("#skill-level-pension", "6");
    await page.click("#user-submit");
    const result = page.locator("#users-result");
    await result.waitFor({ state: "visible" });
    const text = await result.textContent();
    const password = /password (\S+) \(shown only now/.exec(text)?.[1];
    assert.ok(password, `a generated password in: ${text}`);
    await page.locator('#users-table tr[data-username="he.li"]').waitFor();

    // A duplicate username is refused next to the field, and nothing else is created.
    await page.fill("#user-username", "he.li");
    await page.fill("#user-display-name", "何丽");
    await page.click("#user-submit");
    await page.locator("#user-username-error").waitFor({ state: "visible" });
    assert.equal(await page.getAttribute("#user-username", "aria-invalid"), "true");
    assert.equal(await page.locator('#users-table tr[data-username="he.li"]').count(), 1);

    // The new agent signs in and is asked for a new password before the console opens.
    const agent = await openPage(browser, "admin-new-agent", `${server.url}/agent`, { locale: "en-US" });
    try {
      await signIn(agent.page, "he.li", password);
      await agent.page.locator("#password-section").waitFor({ state: "visible" });
      assert.ok(await agent.page.locator("#console-section").isHidden());
      await agent.page.fill("#password-current", password);
      await agent.page.fill("#password-new", "qwertyuiop");
      await agent.page.fill("#password-repeat", "qwertyuiop");
      await agent.page.click("#password-submit");
      await agent.page.locator("#password-new-error").waitFor({ state: "visible" });
      assert.match(await agent.page.locator("#password-new-error").textContent(), /too common/);
      await agent.page.fill("#password-new", "amber-kite-58-harbour");
      await agent.page.fill("#password-repeat", "amber-kite-58-harbour");
      await agent.page.click("#password-submit");
      await agent.page.locator("#console-section").waitFor({ state: "visible" });
      assert.deepEqual(agent.errors, []);
    } finally {
      await agent.context.close();
    }

    // The audit log shows the creation.
    await page.click("#admin-audit-refresh");
    await page.locator('#admin-audit-table tr[data-action="user.create"]').first().waitFor();
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test("edit a queue's hours; overlapping spans are refused next to the field", async () => {
  const { context, page, errors } = await openAdmin("admin-hours");
  try {
    await page.selectOption("#queue-pick", "pension");
    await page.fill("#hours-mon-0-from", "08:00");
    await page.fill("#hours-mon-0-to", "12:00");
    await page.fill("#hours-mon-1-from", "11:00");
    await page.fill("#hours-mon-1-to", "14:00");
    await page.click("#queue-submit");
    await page.locator("#queue-hours-error").waitFor({ state: "visible" });
    let hours = await page.evaluate(async () => {
      const catalogue = await (await fetch("/api/catalogue")).json();
      return catalogue.skills.find((s) => s.id === "pension").hours;
    });
    assert.equal(hours, "mon-fri 09:00-12:00,13:00-17:00", "nothing changed");

    await page.fill("#hours-mon-1-from", "13:00");
    await page.fill("#hours-mon-1-to", "17:30");
    await page.click("#queue-submit");
    await page.locator("#queue-result").filter({ hasText: "saved" }).waitFor();
    hours = await page.evaluate(async () => {
      const catalogue = await (await fetch("/api/catalogue")).json();
      return catalogue.skills.find((s) => s.id === "pension").hours;
    });
    assert.match(hours, /mon 08:00-12:00,13:00-17:30/);
    assert.match(hours, /tue 09:00-12:00,13:00-17:00/);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test("add a holiday", async () => {
  const { context, page, errors } = await openAdmin("admin-holiday");
  try {
    await page.fill("#holiday-day", "2027-10-08");
    await page.selectOption("#holiday-kind", "holiday");
    await page.fill("#holiday-name-zh", "国庆节");
    await page.fill("#holiday-name-en", "National Day");
    await page.click("#holiday-submit");
    await page.locator("#holidays-table tr", { hasText: "2027-10-08" }).waitFor();
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test("edit an article and try a question as a citizen would ask it", async () => {
  const { context, page, errors } = await openAdmin("admin-kb");
  try {
    await page.locator("#kb-pick option").first().waitFor({ state: "attached" });
    const article = JSON.parse(await page.inputValue("#kb-json"));
    article.zh.keywords = [...(article.zh.keywords ?? []), "测试关键词甲乙"];
    await page.fill("#kb-json", JSON.stringify(article, null, 2));
    await page.click("#kb-submit");
    await page.locator("#kb-result").filter({ hasText: article.id }).waitFor();

    await page.fill("#kb-question", article.zh.title);
    await page.click("#kb-try");
    const head = page.locator("#kb-answers .answers-head");
    await head.waitFor();
    assert.equal(await head.getAttribute("data-confidence"), "high");
    const first = page.locator("#kb-answers li[data-article]").first();
    assert.equal(await first.getAttribute("data-article"), article.id);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test("accessible at 1280 and 360 px, no sideways scroll on a phone", async () => {
  for (const [label, viewport] of Object.entries(VIEWPORTS)) {
    const { context, page, errors } = await openAdmin(`admin-a11y-${label}`, {
      locale: "zh-CN",
      viewport,
    });
    try {
      await settle(page);
      await assertAccessible(page, `admin console at ${viewport.width} px`);
      const overflow = await horizontalOverflow(page);
      if (viewport.width <= 400) {
        assert.ok(
          overflow.scrollWidth <= overflow.viewport,
          `sideways scroll at ${viewport.width} px: ${JSON.stringify(overflow.offenders)}`,
        );
      }
      await screenshot(page, `admin-${label === "desktop" ? "desktop" : "360"}`);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  }
});

test("by keyboard alone: sign in and create a user", async () => {
  const { context, page, errors } = await openPage(browser, "admin-keyboard", `${server.url}/admin`, {
    locale: "en-US",
  });
  try {
    await waitForLang(page);
    await page.focus("#login-username");
    await page.keyboard.type("admin1");
    await page.keyboard.press("Tab");
    await page.keyboard.type(DEMO_PASSWORD);
    await page.keyboard.press("Enter");
    await page.locator("#users-table tbody tr").first().waitFor();
    await page.focus("#user-username");
    await page.keyboard.type("key.board");
    // Username → role → Chinese name → Latin name.
    await page.keyboard.press("Tab");
    await page.keyboard.press("Tab");
    await page.keyboard.type("键盘");
    await page.keyboard.press("Enter");
    await page.locator('#users-table tr[data-username="key.board"]').waitFor();
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});
