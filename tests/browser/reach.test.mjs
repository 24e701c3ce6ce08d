// Issue 17 in Chromium: the hall and the console over HTTPS with the server's self-signed
// certificate (trusted by its SPKI pin, nothing else), plain HTTP redirected, a SIGHUP
// certificate reload during a call; and a call forced through a real coturn
// (`iceTransportPolicy: "relay"`) with the server's short-lived TURN credentials, while forged
// and expired credentials are refused by coturn and no credential reaches the server's log.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import {
  DEMO_PASSWORD,
  launchBrowser,
  openPage,
  pollUntil,
  resultsDir,
  slotBytesReceived,
  startServer,
  waitForState,
} from "./harness.mjs";

const FLOWING_BYTES = 2000;
const SERVICE = "pension_benefit_inquiry";
const TURN_SECRET = randomBytes(24).toString("hex");
const TURN_REALM = "voicedesk.test";

let turn;
let server;
let browser;

/** A free TCP port on 127.0.0.1 (coturn listens on UDP and TCP on it). */
function freePort() {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolvePort(port));
    });
  });
}

/** Starts coturn on loopback with `use-auth-secret` and a temporary configuration; resolves
 * once its UDP listener is open. */
async function startCoturn() {
  const dir = mkdtempSync(join(tmpdir(), "voicedesk-coturn-"));
  const port = await freePort();
  // A relay port range of its own, away from the ephemeral ports the OS hands out.
  const minPort = 20000 + Math.floor(Math.random() * 300) * 100;
  const config = [
    `listening-ip=127.0.0.1`,
    `relay-ip=127.0.0.1`,
    `listening-port=${port}`,
    `min-port=${minPort}`,
    `max-port=${minPort + 99}`,
    `use-auth-secret`,
    `static-auth-secret=${TURN_SECRET}`,
    `realm=${TURN_REALM}`,
    `fingerprint`,
    `no-tls`,
    `no-dtls`,
    `no-cli`,
    `no-multicast-peers`,
    // Everything here is on loopback, the relay included (never in production).
    `allow-loopback-peers`,
    `userdb=${join(dir, "turndb")}`,
    `pidfile=${join(dir, "turnserver.pid")}`,
    `log-file=stdout`,
    `simple-log`,
    `verbose`,
  ].join("\n");
  const configPath = join(dir, "turnserver.conf");
  writeFileSync(configPath, `${config}\n`);
  mkdirSync(resultsDir, { recursive: true });
  const log = createWriteStream(join(resultsDir, "reach-coturn.log"));
  const child = spawn("turnserver", ["-c", configPath], { stdio: ["ignore", "pipe", "pipe"] });
  child.stderr.on("data", (chunk) => log.write(chunk));
  await new Promise((ready, reject) => {
    const timer = setTimeout(() => reject(new Error("coturn did not open its UDP listener within 15 s")), 15_000);
    child.once("exit", (code) => reject(new Error(`turnserver exited (${code}); is coturn installed?`)));
    let seen = "";
    child.stdout.on("data", (chunk) => {
      log.write(chunk);
      seen += chunk.toString("utf8");
      if (/UDP listener opened on\s*:?\s*127\.0\.0\.1:/.test(seen)) {
        clearTimeout(timer);
        seen = "";
        ready();
      }
    });
  });
  return {
    uri: `turn:127.0.0.1:${port}?transport=udp`,
    async stop() {
      child.kill("SIGTERM");
      await new Promise((gone) => (child.exitCode !== null ? gone() : child.once("exit", gone)));
      log.end();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The first stdout line of the server matching `re` (already printed or to come). */
async function serverLine(re) {
  for (const line of server.lines) {
    const match = re.exec(line);
    if (match) return match;
  }
  return server.nextLine(re);
}

before(async () => {
  turn = await startCoturn();
  // The secret goes by the environment, as the README advises (a flag shows in process lists).
  process.env.VOICEDESK_TURN_SECRET = TURN_SECRET;
  try {
    server = await startServer("reach", [
      "--tls-self-signed", "127.0.0.1,localhost",
      "--http-redirect-listen", "127.0.0.1:0",
      "--turn-uri", turn.uri,
      "--turn-credential-ttl-secs", "600",
    ]);
  } finally {
    delete process.env.VOICEDESK_TURN_SECRET;
  }
  const [, pin] = await serverLine(/^ {2}certificate SPKI pin: (\S+)$/);
  // Only this certificate is trusted; any other certificate error still fails.
  browser = await launchBrowser([`--ignore-certificate-errors-spki-list=${pin}`]);
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await turn?.stop();
});

/** Waits until slot 0 of the page's connection has received `FLOWING_BYTES` more. */
async function assertVoiceArrives(page, who) {
  const start = await slotBytesReceived(page, 0);
  assert.equal(start.closed, false, `${who}: the connection is closed`);
  await pollUntil(
    async () => (await slotBytesReceived(page, 0)).bytes - start.bytes >= FLOWING_BYTES,
    { timeoutMs: 10_000, what: `${who} to receive ${FLOWING_BYTES} more audio bytes` },
  );
}

/** The selected candidate pair's local and remote candidate types of the page's connection. */
function selectedPath(page) {
  return page.evaluate(async () => {
    const stats = await window.voicedesk.pc.getStats();
    let pair = null;
    stats.forEach((s) => {
      if (s.type === "transport" && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
    });
    if (!pair) return null;
    const local = stats.get(pair.localCandidateId);
    const remote = stats.get(pair.remoteCandidateId);
    return { local: local?.candidateType, remote: remote?.candidateType, relayProtocol: local?.relayProtocol };
  });
}

/** Signs agent1 in on a console page, waits for the headset and makes the agent available. */
async function availableAgent(agent) {
  await agent.page.fill("#login-username", "agent1");
  await agent.page.fill("#login-password", DEMO_PASSWORD);
  await agent.page.click("#login-submit");
  await waitForState(agent.page, "#media-state", "connected", 20_000);
  await waitForState(agent.page, "#agent-state", ["away", "available"]);
  await agent.page.click("#available-button");
  await waitForState(agent.page, "#agent-state", "available");
}

/** The citizen calls, the agent accepts; resolves once both say connected. */
async function connectCall(citizen, agent) {
  await citizen.page.locator(`#service-select option[value="${SERVICE}"]`).waitFor({ state: "attached" });
  await citizen.page.selectOption("#service-select", SERVICE);
  await citizen.page.click("#call-button");
  await citizen.page.click("#mic-continue");
  await agent.page.locator("#incoming-call").waitFor({ state: "visible", timeout: 20_000 });
  await agent.page.click("#accept-button");
  await waitForState(citizen.page, "#status", "connected", 20_000);
  await waitForState(agent.page, "#agent-state", "on_call");
}

/** Hangs up from the hall and waits for both sides to see the end. */
async function hangUp(citizen, agent) {
  await citizen.page.click("#hangup-button");
  await waitForState(citizen.page, "#status", "ended");
  await waitForState(agent.page, "#agent-state", ["after_call_work", "available"]);
}

test("the hall and the console work over HTTPS, plain HTTP redirects, and a SIGHUP reload keeps the call", async () => {
  assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const [, redirect] = await serverLine(/^ {2}HTTP redirect: (http:\/\/\S+) -> HTTPS$/);
  const agent = await openPage(browser, "reach-tls-agent", `${redirect}/agent`, { locale: "en-US" });
  const citizen = await openPage(browser, "reach-tls-citizen", `${server.url}/`, { locale: "en-US" });
  try {
    // The plain-HTTP address sent the console to the HTTPS one; both pages are secure contexts.
    assert.equal(agent.page.url(), `${server.url}/agent`);
    assert.equal(await agent.page.evaluate(() => window.isSecureContext), true);
    assert.equal(await citizen.page.evaluate(() => location.protocol), "https:");
    await availableAgent(agent);
    await connectCall(citizen, agent);
    await assertVoiceArrives(citizen.page, "citizen");
    await assertVoiceArrives(agent.page, "agent");
    // The hall's quality indicator names the path: straight to the relay over UDP.
    await citizen.page.locator('#call-quality[data-path="udp"]').waitFor({ state: "visible", timeout: 10_000 });
    assert.match(await citizen.page.locator("#call-quality-text").textContent(), /Direct connection \(UDP\)\./);

    // SIGHUP: the certificate is read again; the call (its WebSockets and media) stays up.
    const reloaded = server.nextLine(/^TLS certificate reloaded$/);
    server.child.kill("SIGHUP");
    await reloaded;
    await assertVoiceArrives(citizen.page, "citizen after the reload");
    await assertVoiceArrives(agent.page, "agent after the reload");
    assert.equal(await citizen.page.getAttribute("#status", "data-state"), "connected");
    // A new page load after the reload is served as before.
    const again = await citizen.context.newPage();
    await again.goto(`${server.url}/ticket`);
    assert.equal(await again.evaluate(() => location.protocol), "https:");
    await again.close();

    await hangUp(citizen, agent);
    assert.deepEqual(agent.errors, []);
    assert.deepEqual(citizen.errors, []);
  } finally {
    await agent.context.close();
    await citizen.context.close();
  }
});

/** Forces every peer connection of a page through TURN, as a network that blocks all direct
 * paths would. */
async function relayOnly(context) {
  await context.addInitScript(() => {
    const Native = window.RTCPeerConnection;
    window.RTCPeerConnection = class extends Native {
      constructor(config = {}) {
        super({ ...config, iceTransportPolicy: "relay" });
      }
      setConfiguration(config = {}) {
        return super.setConfiguration({ ...config, iceTransportPolicy: "relay" });
      }
    };
  });
}

test("with iceTransportPolicy relay the call goes through coturn on the server's TURN credentials, voice both ways", async () => {
  const agent = await openPage(browser, "reach-turn-agent", `${server.url}/agent`, { locale: "en-US" }, relayOnly);
  const citizen = await openPage(browser, "reach-turn-citizen", `${server.url}/`, { locale: "en-US" }, relayOnly);
  try {
    await availableAgent(agent);
    await connectCall(citizen, agent);
    await assertVoiceArrives(citizen.page, "citizen");
    await assertVoiceArrives(agent.page, "agent");
    for (const [who, page] of [["citizen", citizen.page], ["agent", agent.page]]) {
      const path = await selectedPath(page);
      assert.equal(path?.local, "relay", `${who}'s selected pair: ${JSON.stringify(path)}`);
      assert.equal(path.relayProtocol, "udp");
    }
    await citizen.page.locator('#call-quality[data-path="turn"]').waitFor({ state: "visible", timeout: 10_000 });
    assert.match(await citizen.page.locator("#call-quality-text").textContent(), /Through a relay server \(TURN\)\./);
    await hangUp(citizen, agent);
    assert.deepEqual(agent.errors, []);
    assert.deepEqual(citizen.errors, []);
  } finally {
    await agent.context.close();
    await citizen.context.close();
  }
});

/** In a page: gathers relay candidates with `server` and reports what coturn said. */
function gatherRelay(page, iceServer) {
  return page.evaluate(async (iceServer) => {
    const pc = new RTCPeerConnection({ iceServers: [iceServer], iceTransportPolicy: "relay" });
    const relays = [];
    const errors = [];
    pc.addEventListener("icecandidate", (e) => e.candidate && relays.push(e.candidate.type));
    pc.addEventListener("icecandidateerror", (e) => errors.push(e.errorCode));
    pc.addTransceiver("audio");
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((done) => {
      if (pc.iceGatheringState === "complete") return done();
      pc.addEventListener("icegatheringstatechange", () => pc.iceGatheringState === "complete" && done());
    });
    pc.close();
    return { relays, errors };
  }, iceServer);
}

test("coturn refuses forged and expired credentials and accepts the server's; no credential is logged", async () => {
  const page = await openPage(browser, "reach-turn-credentials", `${server.url}/`, { locale: "en-US" });
  try {
    // A citizen's credentials, by the token from `welcome` (the hall keeps it in sessionStorage).
    const token = await pollUntil(
      () => page.page.evaluate(() => sessionStorage.getItem("voicedesk.citizen_token")),
      { what: "the citizen token" },
    );
    const issued = await page.page.evaluate(async (token) => {
      const response = await fetch("/api/ice-servers", { headers: { authorization: `Bearer ${token}` } });
      return { status: response.status, body: await response.json() };
    }, token);
    assert.equal(issued.status, 200);
    const [good] = issued.body.iceServers;
    assert.deepEqual(good.urls, [turn.uri]);
    const [expiry, id] = good.username.split(":");
    const now = Date.now() / 1000;
    assert.ok(Number(expiry) > now + 590 && Number(expiry) <= now + 601, `expiry ${expiry}`);
    assert.match(id, /^[0-9a-f]{16}$/);
    assert.equal(issued.body.expiresAtMs, Number(expiry) * 1000);
    // Without a session: refused.
    const anonymous = await page.page.evaluate(async () => (await fetch("/api/ice-servers")).status);
    assert.equal(anonymous, 401);

    const accepted = await gatherRelay(page.page, good);
    assert.ok(accepted.relays.includes("relay"), `no relay candidate: ${JSON.stringify(accepted)}`);

    const forged = await gatherRelay(page.page, { ...good, credential: Buffer.from("forged").toString("base64") });
    assert.deepEqual(forged.relays, [], "a forged credential got an allocation");
    assert.ok(forged.errors.includes(401), `coturn's answer to a forged credential: ${JSON.stringify(forged)}`);

    const past = `${Math.floor(now) - 60}:${id}`;
    const expired = {
      urls: good.urls,
      username: past,
      credential: createHmac("sha1", TURN_SECRET).update(past).digest("base64"),
    };
    const refused = await gatherRelay(page.page, expired);
    assert.deepEqual(refused.relays, [], "an expired credential got an allocation");
    assert.ok(refused.errors.includes(401), `coturn's answer to an expired credential: ${JSON.stringify(refused)}`);

    // Nothing secret in the server's output (RUST_LOG as the test runs it).
    const log = readFileSync(server.logPath, "utf8");
    assert.ok(!log.includes(TURN_SECRET), "the TURN secret is in the server's log");
    assert.ok(!log.includes(good.credential), "a TURN credential is in the server's log");
    assert.deepEqual(page.errors, []);
  } finally {
    await page.context.close();
  }
});
