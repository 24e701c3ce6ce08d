// Issue 6 end to end against the real server (`voicedesk --demo`): a citizen leaves a text
// message in the hall and gets a ticket and a code, staff find it in the inbox and reply, the
// citizen reads the reply on the ticket page and rates it; the rating is saved by the server.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { DEMO_PASSWORD, launchBrowser, openPage, pollUntil, startServer } from "./harness.mjs";

const SHOTS = process.env.VOICEDESK_SHOTS || "/tmp";
let server;
let browser;

before(async () => {
  server = await startServer("help-e2e");
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

function text(page, selector) {
  return page.locator(selector).first().textContent().then((s) => s.trim());
}

test("a text message: ticket in the hall, reply from the staff inbox, read and rated on the ticket page", async () => {
  const hall = await openPage(browser, "help-e2e-hall", `${server.url}/`, { locale: "zh-CN" });
  const staff = await openPage(browser, "help-e2e-staff", `${server.url}/staff`, { locale: "zh-CN" });
  try {
    // The hall: a message about the chosen service.
    await hall.page.locator("#service-select optgroup").first().waitFor({ state: "attached" });
    await hall.page.selectOption("#message-service", "pension_transfer");
    await hall.page.fill("#message-name", "张先生");
    await hall.page.fill("#message-phone", "138 0000 0000");
    const body = "我想咨询跨省转移养老保险关系需要多久。";
    await hall.page.fill("#message-body", body);
    await hall.page.click("#message-submit");
    await hall.page.locator("#message-result").waitFor({ state: "visible", timeout: 15_000 });
    const ticket = await text(hall.page, "#result-ticket");
    const code = await text(hall.page, "#result-code");
    assert.match(ticket, /\S/);
    assert.match(code, /\S/);
    const link = await hall.page.getAttribute("#result-link", "href");
    assert.equal(link, `/ticket?${new URLSearchParams({ t: ticket, c: code })}`);

    // The ticket page before the reply: received, no reply, nothing to rate.
    const view = await openPage(browser, "help-e2e-ticket", `${server.url}${link}`, { locale: "zh-CN" });
    try {
      await view.page.locator("#ticket-details").waitFor({ state: "visible", timeout: 15_000 });
      assert.equal(await view.page.getAttribute("#ticket-state", "data-state"), "new");
      assert.equal(await text(view.page, "#ticket-body"), body);
      assert.equal(await view.page.locator("#rating-form").isVisible(), false);

      // Staff: the message is in the inbox; assign, reply.
      await staff.page.fill("#login-username", "staff1");
      await staff.page.fill("#login-password", DEMO_PASSWORD);
      await staff.page.click("#login-submit");
      const open = staff.page.locator(`#inbox-table button.ticket-link:text-is("${ticket}")`);
      await open.waitFor({ timeout: 15_000 });
      await open.click();
      assert.equal(await text(staff.page, "#detail-body"), body);
      assert.equal(await text(staff.page, "#detail-name"), "张先生");
      await staff.page.click("#inbox-assign");
      await pollUntil(async () => (await staff.page.getAttribute("#inbox-detail", "data-state")) === "assigned", { what: "assigned" });
      const reply = "您好,跨省转移分三步:\n1. 向转入地社保经办机构提出申请。\n2. 转出地办理转出。\n3. 转入地办结转入。";
      await staff.page.fill("#inbox-reply", reply);
      await staff.page.click("#inbox-send-reply");
      await pollUntil(async () => (await staff.page.getAttribute("#inbox-detail", "data-state")) === "answered", { what: "answered" });
      assert.equal(await staff.page.locator("#detail-error").isVisible(), false);

      // The citizen looks again: the reply and the rating.
      await view.page.click("#lookup-submit");
      await pollUntil(async () => (await view.page.getAttribute("#ticket-state", "data-state")) === "answered", { what: "the reply on the ticket page" });
      assert.equal(await view.page.locator("#ticket-reply ol li").count(), 3);
      await view.page.check("#rating-level-2");
      await view.page.fill("#rating-comment", "答复太慢");
      await view.page.click("#rating-submit");
      await view.page.locator("#rating-given").waitFor({ state: "visible" });
      assert.match(await text(view.page, "#rating-given"), /不满意/);
      await view.page.screenshot({ path: `${SHOTS}/e2e-ticket-rated.png`, fullPage: true });

      // A second look shows the stored rating; a low one is on the staff's follow-up list.
      await view.page.click("#lookup-submit");
      await pollUntil(async () => /不满意/.test(await text(view.page, "#rating-given")), { what: "the stored rating" });
      await staff.page.click("#inbox-refresh");
      await pollUntil(
        async () => (await staff.page.locator("#followups-table tbody tr[data-key]").count()) >= 1,
        { what: "the follow-up", timeoutMs: 15_000 },
      );
      assert.match(await text(staff.page, "#followups-table tbody tr[data-key]"), /答复太慢/);
      assert.deepEqual(view.errors, []);
    } finally {
      await view.context.close();
    }
    assert.deepEqual(hall.errors, []);
    assert.deepEqual(staff.errors, []);
  } finally {
    await hall.context.close();
    await staff.context.close();
  }
});
