// The pages on their own, served from agent-console/assets by a stand-in static server with the
// real server's routes (no signaling behind it): they load without script errors, start in the
// right state, switch language and fit a 360 px screen.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { readFile } from "node:fs/promises";
import { launchBrowser, openPage, pollUntil, startStaticServer } from "./harness.mjs";

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
    // The services come from the catalogue (the real one's copy), grouped by the hall's areas
    // in the areas' order, every service under its own area.
    await page.locator("#service-select optgroup").first().waitFor({ state: "attached" });
    const fixture = JSON.parse(await readFile(new URL("./fixtures/catalogue.json", import.meta.url)));
    const options = await page.locator("#service-select option").count();
    assert.ok(options >= 32, `${options} services offered`);
    assert.equal(options, fixture.services.length);
    assert.ok(await page.locator("#service-select").isEnabled(), "the list is usable once loaded");
    const groups = () =>
      page.locator("#service-select optgroup").evaluateAll((nodes) =>
        nodes.map((g) => ({ label: g.label, services: [...g.children].map((o) => o.value) })),
      );
    const areas = [...fixture.areas].sort((a, b) => a.sort - b.sort);
    assert.deepEqual(
      (await groups()).map((g) => g.label),
      areas.map((a) => a.name_zh),
      "one group per hall area, in order",
    );
    for (const group of await groups()) {
      const area = areas.find((a) => a.name_zh === group.label);
      assert.deepEqual(
        group.services,
        fixture.services.filter((s) => s.area === area.id).map((s) => s.id),
        `the services of ${area.id}`,
      );
    }
    assert.equal(
      (await page.locator('#service-select option[value="pension_benefit_inquiry"]').textContent()).trim(),
      "养老保险待遇查询",
    );
    // The chosen service's queue hours, and whether it is open now.
    assert.match(await page.locator("#service-hours").textContent(), /^服务时间：周一至周五 08:30–17:30；周六 09:00–12:00（现在可以呼叫）$/);
    // The notice says what the chosen service's queue does with the call: pension records on
    // demand (the citizen is told then), medical records every call, transfer records none.
    const notice = () => page.locator("#monitoring-notice").textContent();
    await page.selectOption("#service-select", "pension_benefit_inquiry");
    assert.match(await notice(), /如工作人员开始录音，会当即告知您/);
    assert.equal(await page.getAttribute("#mic-explain-monitor", "data-recording"), "on_demand");
    await page.selectOption("#service-select", "medical_reimbursement");
    assert.match(await page.locator("#service-hours").textContent(), /^服务时间：周一至周五 09:00–12:00、13:00–17:00（现在不在服务时间内）$/);
    assert.match(await notice(), /本次通话将被录音/);
    assert.equal(await page.getAttribute("#mic-explain-monitor", "data-recording"), "all");
    const unrecorded = fixture.services.find((s) => s.skill_id === "transfer").id;
    await page.selectOption("#service-select", unrecorded);
    assert.match(await notice(), /但不会录音/);
    assert.doesNotMatch(await notice(), /将被录音/);
    await page.selectOption("#service-select", "medical_reimbursement");

    await page.selectOption("#lang-switch", "en");
    await page.locator(`html[lang="en"]`).waitFor({ state: "attached" });
    assert.equal(await page.getAttribute("html", "lang"), "en");
    assert.equal((await page.locator("#call-button").textContent()).trim(), "Call");
    assert.match(await page.locator("#monitoring-notice").textContent(), /monitored/);
    assert.match(await page.locator("#monitoring-notice").textContent(), /this call is recorded/, "the queue's policy, in English");
    // The list follows the language and keeps the choice.
    assert.deepEqual((await groups()).map((g) => g.label), areas.map((a) => a.name_en));
    assert.equal(await page.inputValue("#service-select"), "medical_reimbursement");
    assert.equal(
      (await page.locator('#service-select option[value="pension_benefit_inquiry"]').textContent()).trim(),
      "Pension benefit inquiry",
    );
    assert.match(await page.locator("#service-hours").textContent(), /^Service hours: Mon–Fri 09:00–12:00, 13:00–17:00 \(closed now\)$/);

    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the hall is ${overflow} px wider than a 360 px screen`);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test("without a catalogue the hall still calls: the general enquiries queue, in both languages", async () => {
  let sent = null;
  const { context, page, errors } = await openPage(browser, "pages-hall-nocat", `${base}/`, { locale: "en-US" }, async (ctx) => {
    await ctx.route("**/api/catalogue", (route) => route.fulfill({ status: 503, body: "unavailable" }));
    // A server that only records the call (no answer needed here).
    await ctx.routeWebSocket(/\/ws(\?.*)?$/, (ws) => {
      ws.send(JSON.stringify({ type: "welcome", protocol: 1, role: "citizen", citizen_token: "b".repeat(64) }));
      ws.onMessage((text) => {
        const msg = JSON.parse(text);
        if (msg.type === "call") sent = msg;
      });
    });
  });
  try {
    const option = page.locator('#service-select option[data-i18n="hall.services_unavailable"]');
    await option.waitFor({ state: "attached" });
    assert.equal(await page.locator("#service-select option").count(), 1);
    assert.equal((await option.textContent()).trim(), "General enquiries (the service list cannot be loaded)");
    assert.equal(await page.locator("#service-hours").textContent(), "");
    // The queue's recording policy is unknown: the notice claims no more than "may be recorded".
    assert.equal(await page.getAttribute("#monitoring-notice", "data-recording"), "unknown");
    assert.match(await page.locator("#monitoring-notice").textContent(), /may be monitored or recorded/);
    await page.selectOption("#lang-switch", "zh-CN");
    await page.locator(`html[lang="zh-CN"]`).waitFor({ state: "attached" });
    assert.equal((await option.textContent()).trim(), "综合咨询（业务列表暂时无法加载）");
    assert.ok(await page.locator("#call-button").isEnabled());
    await page.click("#call-button");
    await page.click("#mic-continue");
    await pollUntil(() => sent, { what: "the call message" });
    assert.equal("service" in sent, false, "a call without a service goes to the general queue");
    assert.match(sent.sdp, /^v=0/);
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

    await page.selectOption("#lang-switch", "zh-CN");
    await page.locator(`html[lang="zh-CN"]`).waitFor({ state: "attached" });
    assert.equal(await page.getAttribute("html", "lang"), "zh-CN");
    assert.equal((await page.locator("#login-heading").textContent()).trim(), "后台人员登录");

    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the staff console is ${overflow} px wider than a 360 px screen`);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});
