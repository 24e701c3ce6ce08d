// The reports page (/reports) in Chromium: a citizen's call that nobody could take (no agent
// signed in, so it is turned away: "nobody staffed") shows in today's report; the period
// picker and grouping work; a CSV downloads with its byte order mark; charts have their tables
// beside them; axe-core finds nothing serious at 1280 and 360 px; the page works by keyboard
// alone. Screenshots: docs/screenshots/reports-*.png (VOICEDESK_SCREENSHOTS=1).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { DEMO_PASSWORD, launchBrowser, openPage, startServer, waitForLang, waitForState } from "./harness.mjs";
import {
  FAILING_IMPACTS,
  VIEWPORTS,
  focusState,
  formatViolations,
  horizontalOverflow,
  runAxe,
  screenshot,
  settle,
} from "./a11y.mjs";

const SERVICE = "medical_reimbursement";
let server;
let browser;

before(async () => {
  server = await startServer("reports");
  browser = await launchBrowser();
  // One call, turned away because no agent is signed in.
  const citizen = await openPage(browser, "reports-citizen", `${server.url}/`, { locale: "zh-CN" });
  try {
    await citizen.page.locator(`#service-select option[value="${SERVICE}"]`).waitFor({ state: "attached" });
    await citizen.page.selectOption("#service-select", SERVICE);
    await citizen.page.click("#call-button");
    await citizen.page.click("#mic-continue");
    await waitForState(citizen.page, "#status", "ended");
  } finally {
    await citizen.context.close();
  }
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function openReports(name, options) {
  const opened = await openPage(browser, name, `${server.url}/reports`, { acceptDownloads: true, ...options });
  const { page } = opened;
  await waitForLang(page);
  await page.fill("#login-username", "staff1");
  await page.fill("#login-password", DEMO_PASSWORD);
  await page.click("#login-submit");
  await waitForState(page, "#status", "shown");
  return opened;
}

async function assertAccessible(page, label) {
  const violations = (await runAxe(page)).filter((v) => FAILING_IMPACTS.has(v.impact));
  assert.equal(violations.length, 0, `${label}:\n${formatViolations(violations)}`);
}

const cellOf = (page, table, key, column) =>
  page.evaluate(
    ([table, key, column]) => {
      const t = document.getElementById(table);
      const index = [...t.tHead.rows[0].cells].findIndex((c) => c.textContent === column);
      return t.querySelector(`tbody tr[data-key="${key}"]`)?.cells[index]?.textContent ?? null;
    },
    [table, key, column],
  );

test("today's report shows the turned-away call; grouping, periods and a CSV download", async () => {
  const { context, page, errors } = await openReports("reports-main", { locale: "en-US" });
  try {
    // The first report is the hall's today (UTC+8 by default), whatever the browser's clock says.
    const hallToday = await page.inputValue("#period-from");
    const utc8 = new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 10);
    assert.equal(hallToday, utc8, "the picker starts at the hall's today");
    assert.equal(await cellOf(page, "calls-figures", "medical", "Turned away: nobody staffed"), "1");
    assert.equal(await cellOf(page, "calls-figures", "total", "Offered"), "0");
    const hours = await page.$$eval("#hours-table tbody tr", (rows) =>
      rows.map((r) => Number(r.cells[1].textContent)).reduce((a, b) => a + b, 0),
    );
    assert.equal(hours, 1, "the call is in one hour of the day");
    assert.equal(await page.locator("#hours-svg rect").count(), 24, "a bar per hour");
    assert.equal(await page.locator("#days-table tbody tr").count(), 1);

    // By channel: one row, voice.
    await page.selectOption("#group", "channel");
    await page.click("#report-submit");
    await page.locator('#calls-figures tbody tr[data-key="voice"]').waitFor();
    // A week: seven days, Monday first.
    await page.selectOption("#period-kind", "week");
    await page.click("#report-submit");
    await page.waitForFunction(() => document.querySelectorAll("#days-table tbody tr").length === 7);
    const monday = await page.textContent("#days-table tbody tr th");
    assert.equal(new Date(`${monday}T00:00:00Z`).getUTCDay(), 1, `${monday} is a Monday`);
    // A custom range ending before it starts is refused clearly.
    await page.selectOption("#period-kind", "custom");
    await page.fill("#period-from", "2026-10-02");
    await page.fill("#period-to", "2026-10-01");
    await page.click("#report-submit");
    await page.locator("#report-error").waitFor({ state: "visible" });
    assert.equal(await page.textContent("#report-error"), "The last day cannot be before the first.");

    // Back to today by channel; the call figures download as CSV with a BOM.
    await page.selectOption("#period-kind", "day");
    await page.fill("#period-from", hallToday);
    await page.click("#report-submit");
    await waitForState(page, "#status", "shown");
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#csv-call-figures")]);
    assert.match(download.suggestedFilename(), /^call-figures_\d{4}-\d\d-\d\d_\d{4}-\d\d-\d\d\.csv$/);
    const bytes = readFileSync(await download.path());
    assert.deepEqual([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf], "a UTF-8 byte order mark");
    const lines = bytes.toString("utf8").slice(1).trim().split("\n");
    assert.ok(lines[0].startsWith("key,name_zh,name_en,arrived,offered,answered,"), lines[0]);
    assert.ok(lines[1].startsWith("voice,,,1,0,0,"), lines[1]);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

for (const [label, viewport] of Object.entries(VIEWPORTS)) {
  test(`axe-core finds nothing serious at ${label}; no sideways scroll`, async () => {
    const { context, page, errors } = await openReports(`reports-axe-${label}`, { viewport, locale: "zh-CN" });
    try {
      await settle(page);
      await assertAccessible(page, `reports at ${label}`);
      const overflow = await horizontalOverflow(page);
      assert.ok(
        overflow.scrollWidth <= overflow.viewport,
        `sideways scroll at ${viewport.width} px: ${JSON.stringify(overflow.offenders)}`,
      );
      await screenshot(page, `reports-${label}`);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });
}

test("by keyboard alone: choose a month grouped by service and show it; focus always visible", async () => {
  const { context, page, errors } = await openReports("reports-keyboard", { locale: "en-US" });
  try {
    const reach = async (id) => {
      for (let i = 0; i < 20; i++) {
        await page.keyboard.press("Tab");
        const focus = await focusState(page);
        // Chromium's date field takes one Tab per part (month, day, year) and one more for its
        // calendar button, inside the field, which the page cannot style or see: the field no
        // longer matches :focus then. Every other stop must show its focus.
        const pickerButton = await page.evaluate(
          () => document.activeElement?.type === "date" && !document.activeElement.matches(":focus"),
        );
        if (!pickerButton) assert.ok(focus?.visible, `focus shows: ${JSON.stringify(focus)}`);
        if (await page.evaluate((id) => document.activeElement?.id === id, id)) return;
      }
      assert.fail(`#${id} not reached by Tab`);
    };
    await page.evaluate(() => document.activeElement?.blur());
    await reach("period-kind");
    // A closed native select takes the option typed (arrow keys would open its popup here).
    await page.keyboard.type("Month");
    assert.equal(await page.inputValue("#period-kind"), "month");
    await reach("group");
    await page.keyboard.type("S");
    assert.equal(await page.inputValue("#group"), "service");
    await reach("report-submit");
    await page.keyboard.press("Enter");
    await page.locator(`#calls-figures tbody tr[data-key="${SERVICE}"]`).waitFor();
    const days = await page.locator("#days-table tbody tr").count();
    assert.ok(days >= 28 && days <= 31, `a month has ${days} days`);
    assert.equal(await page.textContent("#calls-heading"), "Voice calls");
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});
