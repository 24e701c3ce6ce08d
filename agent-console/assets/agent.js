// The agent console: log in, keep the headset media connection open for the whole session,
// set a state, be offered calls, accept or reject, talk, ask staff for help (and see who
// supports the call and how), hang up, log out.
import {
  Signaling,
  StatusLine,
  formatDuration,
  serviceName,
  setupLang,
  showError,
  supporterText,
  t,
} from "./common.js";
import { Headset, Login } from "./console.js";

const $ = (id) => document.getElementById(id);
const el = {
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
  support: $("support-indicator"),
  helpReason: $("help-reason"),
  helpButton: $("help-button"),
  cancelHelp: $("cancel-help-button"),
  helpStatus: $("help-status"),
  error: $("error-message"),
};
const audios = [$("remote-audio-0"), $("remote-audio-1")];
const status = new StatusLine($("status"));

/** Everything this console knows; reset on logout. Times are this browser's `Date.now()`,
 * except `agentState.sinceMs`, which is the server's. */
const session = {
  signaling: null,
  /** `{ state, reason, sinceMs }` from the last `agent_state`. */
  agentState: null,
  /** The call ringing here: `{ id, service, waitedMs, ringMs, receivedAt, answering }`;
   * `answering` while an accept or reject is on its way. */
  offer: null,
  /** The call being talked: `{ id, peer, service, since, ending }`; `ending` once hang-up is
   * sent. */
  call: null,
  /** The staff on a call, from the last `support_changed`: `{ callId, supporters }`. */
  support: null,
  /** This agent's help request, from the last `help_status` (or sent, `sending`):
   * `{ callId, state, staffName }`. */
  help: null,
};

/** The headset connection kept for the whole session (slot 0 citizen, slot 1 coach). */
const headset = new Headset({
  audios,
  stateElement: el.mediaState,
  errorElement: el.error,
  send,
});
const login = new Login({
  status,
  allowed: (role) => role === "agent",
  notAllowedKey: "status.not_agent",
  onEnter: enterConsole,
  onLeave: leaveConsole,
});

setupLang(render);
status.set("login", "status.login_required");
el.available.addEventListener("click", () => setState("available"));
el.away.addEventListener("click", () => setState("away"));
el.accept.addEventListener("click", () => answerOffer("accept"));
el.reject.addEventListener("click", () => answerOffer("reject"));
el.hangup.addEventListener("click", hangUp);
el.helpButton.addEventListener("click", requestHelp);
el.cancelHelp.addEventListener("click", cancelHelp);
el.helpReason.addEventListener("keydown", (event) => {
  if (event.key === "Enter") {
    event.preventDefault();
    requestHelp();
  }
});
setInterval(renderClocks, 1000);
login.restore();

// --- login ------------------------------------------------------------------------------------

function enterConsole() {
  session.signaling = new Signaling({ query: "?role=agent", onMessage, onDrop });
  session.signaling.open();
  render();
}

/** Closes the signaling and the headset and forgets the session's state. */
function leaveConsole() {
  session.signaling?.close();
  session.signaling = null;
  headset.close();
  forgetCall();
  session.agentState = null;
  showError(el.error, null);
  render();
}

/** Forgets the offer, the call and everything about it. */
function forgetCall() {
  Object.assign(session, { offer: null, call: null, support: null, help: null });
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
      await headset.answer(msg.sdp);
      break;
    case "media_state":
      headset.setState(msg.state);
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
      el.helpReason.value = "";
      status.set("connected", "status.connected", { peer: msg.peer_name });
      break;
    case "call_ended":
      if (session.offer?.id === msg.call_id) session.offer = null;
      if (session.call?.id === msg.call_id) session.call = null;
      if (session.support?.callId === msg.call_id) session.support = null;
      if (session.help?.callId === msg.call_id) session.help = null;
      status.set("ended", "status.ended", { reason: msg.reason });
      break;
    case "support_changed":
      session.support = { callId: msg.call_id, supporters: msg.supporters };
      break;
    case "help_status":
      session.help = { callId: msg.call_id, state: msg.state, staffName: msg.staff_name ?? null };
      break;
    case "error":
      showError(el.error, msg);
      if (msg.request_type === "media_connect") headset.setState("failed");
      // A refused request for help leaves the request as it was before.
      if (session.help?.state === "sending" && msg.request_type === "request_help") {
        session.help = null;
      }
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
    login.refuse("status.not_agent");
    return;
  }
  showError(el.error, null);
  status.set("logged_in", "status.logged_in", { name: login.user?.display_name ?? "" });
  await headset.open();
}

async function onDrop(retrySeconds, welcomed) {
  // The server drops the media leg, the offer and the call with the connection.
  headset.close();
  forgetCall();
  session.agentState = null;
  status.set("reconnecting", "status.reconnecting", { seconds: retrySeconds });
  render();
  if (!welcomed) await login.check();
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

/** Whether a new request for help can be sent for the current call: none open, and nobody
 * already supporting after an accepted one. */
function canRequestHelp() {
  if (!session.call || session.call.ending) return false;
  const help = currentHelp();
  if (!help || help.state === "cancelled") return true;
  return help.state === "accepted" && currentSupporters().length === 0;
}

function requestHelp() {
  if (!canRequestHelp()) return;
  const callId = session.call.id;
  const reason = el.helpReason.value.trim();
  if (send({ type: "request_help", call_id: callId, reason })) {
    session.help = { callId, state: "sending", staffName: null };
    showError(el.error, null);
  }
  render();
}

function cancelHelp() {
  const help = currentHelp();
  if (!help || help.state !== "pending") return;
  send({ type: "cancel_help", call_id: help.callId });
}

/** The help request for the current call, if any. */
function currentHelp() {
  return session.help && session.help.callId === session.call?.id ? session.help : null;
}

/** The staff on the current call. */
function currentSupporters() {
  return session.support && session.support.callId === session.call?.id
    ? session.support.supporters
    : [];
}

// --- rendering --------------------------------------------------------------------------------

/** Brings every element in line with `session` (after each message and language switch). */
function render() {
  headset.render();
  const activity = session.agentState?.state ?? "unknown";
  el.agentState.dataset.state = activity;
  el.agentState.textContent = t(`activity.${activity}`);
  el.available.setAttribute("aria-pressed", String(activity === "available"));
  el.away.setAttribute("aria-pressed", String(activity === "away"));
  const busy = activity === "ringing" || activity === "on_call";
  // The server makes an agent available only with a connected headset.
  el.available.disabled = busy || !session.agentState || headset.state !== "connected";
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
  renderSupport();
  renderClocks();
}

/** Who supports the current call and how, and this agent's help request. */
function renderSupport() {
  const supporters = currentSupporters();
  el.support.dataset.mode = supporters.length ? supporters.map((s) => s.mode).join(" ") : "none";
  el.support.textContent = supporters.length
    ? supporters.map(supporterText).join(t("list.separator"))
    : t("support.none");

  const help = currentHelp();
  const state = help?.state ?? "none";
  el.helpStatus.dataset.state = state;
  el.helpStatus.textContent =
    state === "none" ? "" : t(`help.${state}`, { name: help.staffName ?? "" });
  el.helpStatus.hidden = state === "none";
  el.helpButton.disabled = !canRequestHelp();
  el.helpReason.disabled = !canRequestHelp();
  el.cancelHelp.hidden = state !== "pending";
  el.cancelHelp.disabled = state !== "pending";
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
