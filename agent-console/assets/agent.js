// The agent console: log in, keep the headset media connection open for the whole session,
// set a state, be offered calls, accept or reject, talk, hang up, log out.
import {
  Signaling,
  StatusLine,
  closeAudioPeer,
  createAudioPeer,
  formatDuration,
  getMicrophone,
  offerWhenGathered,
  serviceName,
  setupLang,
  showError,
  t,
} from "./common.js";

const $ = (id) => document.getElementById(id);
const el = {
  loginSection: $("login-section"),
  loginForm: $("login-form"),
  username: $("login-username"),
  password: $("login-password"),
  loginSubmit: $("login-submit"),
  loginError: $("login-error"),
  consoleSection: $("console-section"),
  userName: $("user-name"),
  logout: $("logout-button"),
  agentState: $("agent-state"),
  stateTimer: $("state-timer"),
  mediaState: $("media-state"),
  available: $("available-button"),
  away: $("away-button"),
  awayReason: $("away-reason"),
  incoming: $("incoming-call"),
  incomingService: $("incoming-service"),
  incomingWaited: $("incoming-waited"),
  incomingCountdown: $("incoming-countdown"),
  accept: $("accept-button"),
  reject: $("reject-button"),
  currentCall: $("current-call"),
  callPeer: $("call-peer"),
  callService: $("call-service"),
  callDuration: $("call-duration"),
  hangup: $("hangup-button"),
  error: $("error-message"),
};
const audios = [$("remote-audio-0"), $("remote-audio-1")];
const status = new StatusLine($("status"));

/** Everything this console knows; reset on logout. Times are this browser's `Date.now()`,
 * except `agentState.sinceMs`, which is the server's. */
const session = {
  user: null,
  signaling: null,
  /** The headset connection kept for the whole session, and its microphone. */
  headset: { pc: null, mic: null, state: "none" },
  /** `{ state, reason, sinceMs }` from the last `agent_state`. */
  agentState: null,
  /** The call ringing here: `{ id, service, waitedMs, ringMs, receivedAt, answering }`;
   * `answering` while an accept or reject is on its way. */
  offer: null,
  /** The call being talked: `{ id, peer, service, since, ending }`; `ending` once hang-up is
   * sent. */
  call: null,
};

setupLang(render);
status.set("login", "status.login_required");
el.loginForm.addEventListener("submit", (event) => {
  event.preventDefault();
  logIn();
});
el.logout.addEventListener("click", logOut);
el.available.addEventListener("click", () => setState("available"));
el.away.addEventListener("click", () => setState("away"));
el.accept.addEventListener("click", () => answerOffer("accept"));
el.reject.addEventListener("click", () => answerOffer("reject"));
el.hangup.addEventListener("click", hangUp);
setInterval(renderClocks, 1000);
restoreSession();

// --- login ------------------------------------------------------------------------------------

async function restoreSession() {
  try {
    const response = await fetch("/api/me", { credentials: "same-origin" });
    if (response.ok) {
      const { user } = await response.json();
      enterConsole(user);
      return;
    }
  } catch {
    // Not reachable: the login form stays.
  }
  showLogin();
}

async function logIn() {
  showError(el.loginError, null);
  el.loginError.hidden = true;
  el.loginSubmit.disabled = true;
  try {
    const response = await fetch("/api/login", {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: el.username.value.trim(), password: el.password.value }),
    });
    if (response.ok) {
      const { user } = await response.json();
      el.password.value = "";
      enterConsole(user);
    } else if (response.status === 401) {
      loginError(t("login.invalid"));
    } else {
      loginError(t("login.failed", { status: response.status }));
    }
  } catch {
    loginError(t("login.unreachable"));
  } finally {
    el.loginSubmit.disabled = false;
  }
}

function loginError(text) {
  el.loginError.textContent = text;
  el.loginError.hidden = false;
  el.password.focus();
  el.password.select();
}

function showLogin() {
  el.loginSection.hidden = false;
  el.consoleSection.hidden = true;
  el.logout.hidden = true;
  el.userName.textContent = "";
  status.set("login", "status.login_required");
}

function enterConsole(user) {
  if (user.role !== "agent") {
    showLogin();
    loginError(t("status.not_agent"));
    return;
  }
  session.user = user;
  el.loginSection.hidden = true;
  el.consoleSection.hidden = false;
  el.logout.hidden = false;
  el.userName.textContent = user.display_name || user.username;
  status.set("logged_in", "status.logged_in", { name: user.display_name || user.username });
  session.signaling = new Signaling({ query: "?role=agent", onMessage, onDrop });
  session.signaling.open();
  render();
}

async function logOut() {
  leaveConsole();
  try {
    await fetch("/api/logout", { method: "POST", credentials: "same-origin" });
  } catch {
    // The cookie is HttpOnly: if the server is gone, it expires on its own.
  }
  showLogin();
  status.set("logged_out", "status.logged_out");
}

/** Closes the signaling and the headset and forgets the session's state. */
function leaveConsole() {
  session.signaling?.close();
  session.signaling = null;
  closeHeadset();
  Object.assign(session, { user: null, agentState: null, offer: null, call: null });
  showError(el.error, null);
  render();
}

// --- signaling --------------------------------------------------------------------------------

function send(msg) {
  if (!session.signaling?.send(msg)) {
    showError(el.error, { code: "offline", message: t("status.offline") });
    return false;
  }
  return true;
}

async function onMessage(msg) {
  switch (msg.type) {
    case "welcome":
      await onWelcome(msg);
      break;
    case "media_answer":
      await onMediaAnswer(msg);
      break;
    case "media_state":
      setMediaState(msg.state);
      break;
    case "agent_state":
      session.agentState = { state: msg.state, reason: msg.reason ?? null, sinceMs: msg.since_ms };
      break;
    case "call_offered":
      session.offer = {
        id: msg.call_id,
        service: msg.service ?? null,
        waitedMs: msg.waited_ms,
        ringMs: msg.ring_timeout_ms,
        receivedAt: Date.now(),
        answering: false,
      };
      status.set("offered", "status.offered", { service: msg.service });
      break;
    case "offer_withdrawn":
      if (session.offer?.id === msg.call_id) {
        session.offer = null;
        status.set("withdrawn", "status.withdrawn", { reason: msg.reason });
      }
      break;
    case "call_connected":
      session.call = {
        id: msg.call_id,
        peer: msg.peer_name,
        service: session.offer?.id === msg.call_id ? session.offer.service : null,
        since: Date.now(),
        ending: false,
      };
      if (session.offer?.id === msg.call_id) session.offer = null;
      status.set("connected", "status.connected", { peer: msg.peer_name });
      break;
    case "call_ended":
      if (session.offer?.id === msg.call_id) session.offer = null;
      if (session.call?.id === msg.call_id) session.call = null;
      status.set("ended", "status.ended", { reason: msg.reason });
      break;
    case "error":
      showError(el.error, msg);
      if (msg.request_type === "media_connect") setMediaState("failed");
      // The request had no effect: its button may be pressed again.
      if (session.offer && ["accept", "reject"].includes(msg.request_type)) {
        session.offer.answering = false;
      }
      if (session.call && msg.request_type === "hang_up") session.call.ending = false;
      break;
    case "pong":
      break;
    default:
      console.warn("voicedesk: unexpected message", msg.type);
  }
  render();
}

async function onWelcome(msg) {
  if (msg.role !== "agent") {
    leaveConsole();
    showLogin();
    loginError(t("status.not_agent"));
    return;
  }
  showError(el.error, null);
  status.set("logged_in", "status.logged_in", { name: session.user?.display_name ?? "" });
  await openHeadset();
}

async function onDrop(retrySeconds, welcomed) {
  // The server drops the media leg, the offer and the call with the connection.
  closeHeadset();
  Object.assign(session, { agentState: null, offer: null, call: null });
  status.set("reconnecting", "status.reconnecting", { seconds: retrySeconds });
  render();
  if (!welcomed) await checkSession();
}

/** After a refused handshake: back to the login form if the session is gone (401) or is not
 * an agent's (403 on /ws); otherwise the server was unreachable and the retry goes on. */
async function checkSession() {
  let response;
  try {
    response = await fetch("/api/me", { credentials: "same-origin" });
  } catch {
    return;
  }
  if (response.status === 401) {
    leaveConsole();
    showLogin();
    loginError(t("status.session_expired"));
  } else if (response.ok) {
    const { user } = await response.json();
    if (user.role !== "agent") {
      leaveConsole();
      showLogin();
      loginError(t("status.not_agent"));
    }
  }
}

// --- the headset ------------------------------------------------------------------------------

async function openHeadset() {
  closeHeadset();
  setMediaState("connecting");
  let mic;
  try {
    mic = await getMicrophone();
  } catch (error) {
    console.warn("voicedesk: microphone refused", error);
    setMediaState("failed");
    showError(el.error, { code: "microphone", message: t("status.mic_denied") });
    return;
  }
  const pc = createAudioPeer(mic, audios);
  session.headset.pc = pc;
  session.headset.mic = mic;
  pc.addEventListener("connectionstatechange", () => {
    if (pc === session.headset.pc && pc.connectionState === "failed") setMediaState("failed");
  });
  try {
    const sdp = await offerWhenGathered(pc);
    if (session.headset.pc === pc) send({ type: "media_connect", sdp });
  } catch (error) {
    setMediaState("failed");
    showError(el.error, { code: "webrtc", message: String(error) });
  }
}

async function onMediaAnswer(msg) {
  const pc = session.headset.pc;
  if (!pc || pc.signalingState !== "have-local-offer") return;
  try {
    await pc.setRemoteDescription({ type: "answer", sdp: msg.sdp });
  } catch (error) {
    setMediaState("failed");
    showError(el.error, { code: "bad_sdp", message: String(error) });
  }
}

function closeHeadset() {
  closeAudioPeer(session.headset.pc, session.headset.mic, audios);
  session.headset.pc = null;
  session.headset.mic = null;
  setMediaState("none");
}

function setMediaState(state) {
  session.headset.state = state;
  el.mediaState.dataset.state = state;
  el.mediaState.textContent = t(`media.${state}`);
}

// --- actions ----------------------------------------------------------------------------------

function setState(state) {
  const msg = { type: "set_state", state };
  if (state === "away" && el.awayReason.value) msg.reason = el.awayReason.value;
  send(msg);
}

function answerOffer(kind) {
  const offer = session.offer;
  if (!offer || offer.answering) return;
  offer.answering = send({ type: kind, call_id: offer.id });
  render();
}

function hangUp() {
  const call = session.call;
  if (!call || call.ending) return;
  call.ending = send({ type: "hang_up", call_id: call.id });
  render();
}

// --- rendering --------------------------------------------------------------------------------

/** Brings every element in line with `session` (after each message and language switch). */
function render() {
  setMediaState(session.headset.state);
  const activity = session.agentState?.state ?? "unknown";
  el.agentState.dataset.state = activity;
  el.agentState.textContent = t(`activity.${activity}`);
  el.available.setAttribute("aria-pressed", String(activity === "available"));
  el.away.setAttribute("aria-pressed", String(activity === "away"));
  const busy = activity === "ringing" || activity === "on_call";
  // The server makes an agent available only with a connected headset.
  el.available.disabled = busy || !session.agentState || session.headset.state !== "connected";
  el.away.disabled = busy || !session.agentState;

  const wasHidden = el.incoming.hidden;
  el.incoming.hidden = !session.offer;
  if (session.offer) {
    el.incomingService.textContent = serviceName(session.offer.service);
    el.accept.disabled = session.offer.answering;
    el.reject.disabled = session.offer.answering;
    if (wasHidden) el.accept.focus();
  }

  el.currentCall.hidden = !session.call;
  if (session.call) {
    el.callPeer.textContent = session.call.peer;
    el.callService.textContent = serviceName(session.call.service);
    el.hangup.disabled = session.call.ending;
  }
  renderClocks();
}

/** The numbers that change every second. */
function renderClocks() {
  const now = Date.now();
  const state = session.agentState;
  el.stateTimer.textContent = state ? formatDuration(now - state.sinceMs) : "";
  const offer = session.offer;
  if (offer) {
    const elapsed = now - offer.receivedAt;
    el.incomingWaited.textContent = formatDuration(offer.waitedMs + elapsed);
    el.incomingCountdown.textContent = `${Math.max(0, Math.ceil((offer.ringMs - elapsed) / 1000))} s`;
  }
  if (session.call) el.callDuration.textContent = formatDuration(now - session.call.since);
}
