// Shared by the browser tests: the voicedesk server on port 0, Chromium through playwright-core
// (the system's /usr/bin/chromium; no browser is ever downloaded), polling and page helpers.
import { spawn } from "node:child_process";
import { createWriteStream, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, "../..");
/** Logs of every run (server output, page consoles); kept for reading after a failure. */
export const resultsDir = join(here, "test-results");

export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--use-fake-ui-for-media-stream",
  "--use-fake-device-for-media-stream",
  "--autoplay-policy=no-user-gesture-required",
];

/** The demo accounts `voicedesk --demo` creates. */
export const DEMO_PASSWORD = "demo";

const LISTENING = /^voicedesk listening on (https?:\/\/127\.0\.0\.1:\d+)\s*$/;

/**
 * Starts `voicedesk --demo` on free ports with a fresh data directory and resolves once it
 * prints its listening line. `name` names the log file under test-results/; `extraArgs` are
 * added to the command line.
 * Returns `{ url, stop, child, logPath, lines, nextLine }`: `lines` holds every stdout line so
 * far, `nextLine(re)` resolves with the match of the first later stdout line matching `re`;
 * `stop()` ends the server and removes the data directory.
 */
export async function startServer(name, extraArgs = []) {
  const bin = process.env.VOICEDESK_BIN
    ? resolve(process.env.VOICEDESK_BIN)
    : join(repoRoot, "target/debug/voicedesk");
  const dataDir = mkdtempSync(join(tmpdir(), "voicedesk-browser-"));
  mkdirSync(resultsDir, { recursive: true });
  const logPath = join(resultsDir, `${name}-server.log`);
  const log = createWriteStream(logPath);
  const args = [
    "--demo",
    "--listen", "127.0.0.1:0",
    "--media-listen", "127.0.0.1:0",
    "--public-ip", "127.0.0.1",
    "--data-dir", dataDir,
    // Every page of every test comes from 127.0.0.1, as every client does behind a proxy: the
    // per-address limits are raised (the limits have their own tests in tests/tests/abuse.rs).
    "--address-connections-per-min", "1000000",
    "--address-messages-per-sec", "1000000",
    "--ticket-checks-per-min", "100000",
    ...extraArgs,
  ];
  const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise((resolveExit) => child.once("exit", resolveExit));
  // Should the test process end without stop() (a crash, an interrupt), take the server along.
  const killOnExit = () => {
    child.kill("SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
  };
  process.once("exit", killOnExit);
  child.stderr.on("data", (chunk) => log.write(chunk));
  const lines = [];
  const waiters = [];
  function nextLine(re) {
    return new Promise((resolveLine) => waiters.push({ re, resolveLine }));
  }
  function seeLine(line) {
    lines.push(line);
    for (const waiter of [...waiters]) {
      const match = waiter.re.exec(line);
      if (match) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolveLine(match);
      }
    }
  }

  const url = await new Promise((resolveUrl, reject) => {
    let pending = "";
    const timer = setTimeout(
      () => fail(new Error(`no "voicedesk listening on" line within 30 s; see ${logPath}`)),
      30_000,
    );
    function fail(error) {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(error);
    }
    child.once("error", (error) =>
      fail(new Error(`cannot start ${bin} (build it with \`cargo build -p voicedesk\`): ${error.message}`)),
    );
    const onEarlyExit = (code, signal) =>
      fail(new Error(`${bin} exited (code ${code}, signal ${signal}) before listening; see ${logPath}`));
    child.once("exit", onEarlyExit);
    child.stdout.on("data", (chunk) => {
      log.write(chunk);
      pending += chunk.toString("utf8");
      let newline;
      while ((newline = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        seeLine(line);
        const match = LISTENING.exec(line);
        if (match) {
          clearTimeout(timer);
          child.removeListener("exit", onEarlyExit);
          resolveUrl(match[1]);
        }
      }
    });
  });
  // The stdout listener stays: the rest of the output goes on into the log.

  async function stop() {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    }
    process.removeListener("exit", killOnExit);
    log.end();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return { url, stop, child, logPath, lines, nextLine };
}

/** Chromium with fake microphone and autoplay allowed, headless; `extraArgs` are added. */
export function launchBrowser(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    headless: true,
    args: [...CHROMIUM_ARGS, ...extraArgs],
  });
}

/**
 * Opens a page in a fresh context, writes its console to test-results/<name>.log and collects
 * uncaught exceptions in the returned `errors` array (tests assert it stays empty).
 * `beforeGoto(context, page)`, when given, runs before the page loads (to install routes).
 */
export async function openPage(browser, name, url, contextOptions = {}, beforeGoto = null) {
  const context = await browser.newContext(contextOptions);
  const page = await context.newPage();
  if (beforeGoto) await beforeGoto(context, page);
  mkdirSync(resultsDir, { recursive: true });
  const log = createWriteStream(join(resultsDir, `${name}.log`));
  const errors = [];
  page.on("console", (msg) => log.write(`[${msg.type()}] ${msg.text()}\n`));
  page.on("pageerror", (error) => {
    errors.push(error);
    log.write(`[pageerror] ${error.stack || error}\n`);
  });
  page.on("close", () => log.end());
  await page.goto(url);
  return { context, page, errors };
}

/** Waits until the page has loaded its strings and set up its language (common.js awaits the
 * strings before the page's module runs, so this is later than the `load` event). */
export async function waitForLang(page) {
  await page.waitForFunction(() => window.voicedesk?.langReady === true, null, { timeout: 10_000 });
}

/** Calls `probe` until it returns a truthy value (which is returned) or `timeoutMs` passes. */
export async function pollUntil(probe, { timeoutMs = 10_000, intervalMs = 200, what = "condition" } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await probe();
    if (last) return last;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((wake) => setTimeout(wake, intervalMs));
  }
}

/** The value of one unlabelled series on the server's `/metrics` page. */
export async function metricValue(server, name) {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`metric ${name} missing from /metrics`);
  return Number(line.slice(name.length + 1));
}

/** Returns once the relay has received `packets` more RTP packets (from any leg): a clock in
 * media time, for windows in which a test proves that nothing arrives somewhere. */
export async function relayReceivedMore(server, packets) {
  const name = "voicedesk_relay_rtp_packets_received_total";
  const start = await metricValue(server, name);
  await pollUntil(async () => (await metricValue(server, name)) >= start + packets, {
    intervalMs: 100,
    what: `${packets} more RTP packets at the relay`,
  });
}

/**
 * The audio bytes received so far on one receive slot of the page's `window.voicedesk.pc`
 * (slot 0 = the first transceiver). `{ closed: true }` once the connection is closed.
 */
export function slotBytesReceived(page, slot) {
  return page.evaluate(async (slot) => {
    const pc = window.voicedesk?.pc;
    if (!pc || pc.signalingState === "closed") return { closed: true, bytes: null };
    const receiver = pc.getTransceivers()[slot]?.receiver;
    if (!receiver) return { closed: false, bytes: 0 };
    let bytes = 0;
    (await receiver.getStats()).forEach((stat) => {
      if (stat.type === "inbound-rtp" && stat.kind === "audio") bytes += stat.bytesReceived ?? 0;
    });
    return { closed: false, bytes };
  }, slot);
}

/**
 * Bytes received so far on every receive slot of the page's `window.voicedesk.pc`, in one
 * getStats() call: each `inbound-rtp` audio report is mapped to its transceiver by `mid`
 * (`pc.getTransceivers()[i].mid` ↔ `report.mid`). A slot that was never fed may have no
 * report at all: 0 bytes. `{ closed: true }` once the connection is closed.
 */
export function slotsBytesReceived(page) {
  return page.evaluate(async () => {
    const pc = window.voicedesk?.pc;
    if (!pc || pc.signalingState === "closed") return { closed: true, bytes: [] };
    const transceivers = pc.getTransceivers();
    const byMid = new Map();
    const stats = await pc.getStats();
    stats.forEach((stat) => {
      if (stat.type !== "inbound-rtp" || stat.kind !== "audio") return;
      byMid.set(stat.mid, (byMid.get(stat.mid) ?? 0) + (stat.bytesReceived ?? 0));
    });
    const bytes = transceivers.map((transceiver) => byMid.get(transceiver.mid) ?? 0);
    return { closed: false, bytes, mids: transceivers.map((tr) => tr.mid), reportMids: [...byMid.keys()] };
  });
}

/**
 * A static server for agent-console/assets with the real server's page routes and nothing
 * else (`/api/me` answers 401): for testing the pages without the server. Returns
 * `{ base, close }`.
 */
export async function startStaticServer() {
  const assets = join(repoRoot, "agent-console/assets");
  const types = {
    html: "text/html; charset=utf-8",
    js: "text/javascript; charset=utf-8",
    css: "text/css; charset=utf-8",
    json: "application/json; charset=utf-8",
    svg: "image/svg+xml",
  };
  const routes = {
    "/": "hall.html",
    "/agent": "agent.html",
    "/staff": "staff.html",
    "/ticket": "ticket.html",
    "/favicon.ico": "favicon.svg",
  };
  const server = createServer(async (request, response) => {
    const path = new URL(request.url, "http://localhost").pathname;
    if (path === "/api/catalogue") {
      // A small catalogue in the shape of the real one (the real one is the database's).
      response.writeHead(200, { "content-type": "application/json" });
      response.end(await readFile(join(repoRoot, "tests/browser/fixtures/catalogue.json")));
      return;
    }
    if (path === "/api/me") {
      response.writeHead(401, { "content-type": "application/json" });
      response.end(JSON.stringify({ code: "unauthorized", message: "not logged in" }));
      return;
    }
    const file =
      routes[path] ?? (/^\/assets\/([a-z-]+\.(html|js|css|svg)|i18n\/[a-zA-Z-]+\.json)$/.test(path) ? path.slice(8) : null);
    if (!file) {
      response.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(join(assets, file));
      response.writeHead(200, { "content-type": types[file.split(".").pop()] }).end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  await new Promise((ready) => server.listen(0, "127.0.0.1", ready));
  return {
    base: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((closed) => server.close(closed)),
  };
}

/** Waits for an element whose `data-state` is one of `states`; returns the state found. */
export async function waitForState(page, selector, states, timeoutMs = 15_000) {
  const wanted = Array.isArray(states) ? states : [states];
  const alternatives = wanted.map((state) => `${selector}[data-state="${state}"]`).join(", ");
  try {
    await page.locator(alternatives).first().waitFor({ state: "attached", timeout: timeoutMs });
  } catch (error) {
    const now = await page.locator(selector).first().evaluate((node) => ({
      state: node.dataset.state,
      text: node.textContent,
    })).catch(() => null);
    throw new Error(
      `${selector} did not reach ${wanted.join("|")} within ${timeoutMs} ms; it is ${JSON.stringify(now)}`,
      { cause: error },
    );
  }
  return page.locator(selector).first().getAttribute("data-state");
}
