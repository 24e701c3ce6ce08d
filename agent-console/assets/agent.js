// The agent console: log in, keep the headset media connection open for the whole session,
// set a state (away with a reason from the catalogue), see the queues of one's skills, be
// offered calls (service, queue, wait so far, ring countdown), accept or reject, talk, ask
// staff for help (and see who supports the call and how), transfer to another service's
// queue, hang up, wrap up (disposition and notes) during after-call work, log out. A call
// outlives a reload or a lost connection of the console (`call_resumed`) or of the citizen
// (`peer_reconnecting`), and a broken headset is offered again by itself. Live chats (offers,
// tabs, composer, transfer, wrap-up) are agent-chat.js.
import {
  Signaling,
  StatusLine,
  fillSelect,
  formatDuration,
  getCatalogue,
  loadCatalogue,
  localName,
  serviceName,
  setupLang,
  showError,
  skillName,
  supporterText,
  t,
  tOr,
} from "./common.js";
import { Headset, Login } from "./console.js";
import { Notifier, Ringer, announce, bindShortcuts } from "./console-care.js";
import { setupAgentChat } from "./agent-chat.js";

const $ = (id) => document.getElementById(id);
/** The shortest time between two headset offers made to recover a broken headset. */
const HEADSET_RETRY_MS = 2000;
const el = {
  agentState: $("agent-state"),
  stateTimer: $("state-timer"),
  mediaState: $("media-state"),
  available: $("available-button"),
  away: $("away-button"),
  awayReason: $("away-reason"),
  incoming: $("incoming-call"),
  incomingService: $("incoming-service"),
  incomingQueue: $("incoming-queue"),
  myQueues: $("my-queues-body"),
  transferService: $("transfer-service"),
  transfer: $("transfer-button"),
  wrapUp: $("wrap-up"),
  wrapUpForm: $("wrap-up-form"),
  wrapUpHeading: $("wrap-up-heading"),
  disposition: $("wrap-up-disposition"),
  notes: $("wrap-up-notes"),
  wrapUpReady: $("wrap-up-ready"),
  wrapUpStatus: $("wrap-up-status"),
  wrapUpReason: $("wrap-up-reason"),
  incomingWaited: $("incoming-waited"),
  incomingCountdown: $("incoming-countdown"),
  accept: $("accept-button"),
  reject: $("reject-button"),
  currentCall: $("current-call"),
  callPeer: $("call-peer"),
  callService: $("call-service"),
  callDuration: $("call-duration"),
  callLink: $("call-link"),
  hangup: $("hangup-button"),
  support: $("support-indicator"),
  helpReason: $("help-reason"),
  helpButton: $("help-button"),
  cancelHelp: $("cancel-help-button"),
  helpStatus: $("help-status"),
  error: $("error-message"),
  stateHeading: $("state-heading"),
  currentHeading: $("current-heading"),
  mute: $("mute-button"),
  micState: $("mic-state"),
  ringerMute: $("ringer-mute"),
  notifyEnable: $("notify-enable"),
  notifyState: $("notify-state"),
  announcer: $("offer-announcer"),
  incomingTranscript: $("incoming-transcript"),
  callTranscript: $("call-transcript"),
};
const audios = [$("remote-audio-0"), $("remote-audio-1")];
const status = new StatusLine($("status"));

/** Everything this console knows; reset on logout. Times are this browser's `Date.now()`,
 * except `agentState.sinceMs`, which is the server's. */
const session = {
  signaling: null,
  /** `{ state, reason, sinceMs, untilMs }` from the last `agent_state`. */
  agentState: null,
  /** The queues of this agent's skills, from the last `queue_status`. */
  queues: [],
  /** The last call this agent handled, to wrap up: `{ id, service, saved, readyAfterSave }`. */
  wrapUp: null,
  /** The call ringing here: `{ id, service, waitedMs, ringMs, receivedAt, answering }`;
   * `answering` while an accept or reject is on its way. */
  offer: null,
  /** The call being talked: `{ id, peer, service, since, ending, link, peerLostUntil }`;
   * `ending` once hang-up is sent; `link` is `reconnecting` while this console's headset is
   * being brought back onto the call (after a reload or a broken headset), else `connected`;
   * `peerLostUntil` is the server's `reconnect_by_ms` while the citizen's connection is lost. */
  call: null,
  /** The call shown when the connection dropped, to take its transcript back on
   * `call_resumed`. */
  lostCall: null,
  /** The headset connection being replaced after a failure (once per failure), the timer of
   * that new offer, and when the last offer was made (`Date.now()`). */
  headsetRecovery: { pc: null, timer: null, lastOfferAt: 0 },
  /** The staff on a call, from the last `support_changed`: `{ callId, supporters }`. */
  support: null,
  /** This agent's help request, from the last `help_status` (or sent, `sending`):
   * `{ callId, state, staffName }`. */
  help: null,
  /** Whether this agent's microphone is muted (during a call; unmuted when a call starts). */
  muted: false,
  /** Where the focus was when an offer took it to Accept, to give it back if the offer goes. */
  focusBefore: null,
};

/** The ring of an offer and the desktop notification when the tab is hidden. */
const ringer = new Ringer();
const notifier = new Notifier({
  button: el.notifyEnable,
  stateElement: el.notifyState,
  onClick: () => {
    if (session.offer) el.accept.focus();
  },
});

/** The headset connection kept for the whole session (slot 0 citizen, slot 1 coach). */
const headset = new Headset({
  audios,
  stateElement: el.mediaState,
  errorElement: el.error,
  send,
  onFailed: recoverHeadset,
});
const login = new Login({
  status,
  allowed: (role) => role === "agent",
  notAllowedKey: "status.not_agent",
  onEnter: enterConsole,
  onLeave: leaveConsole,
});

const chats = setupAgentChat({ send, onOffer: (text) => announce(el.announcer, text) });
setupLang(() => {
  renderChoices();
  render();
});
loadCatalogue().then(() => {
  renderChoices();
  render();
});
status.set("login", "status.login_required");
el.available.addEventListener("click", () => setState("available"));
el.away.addEventListener("click", () => setState("away"));
el.accept.addEventListener("click", () => answerOffer("accept"));
el.mute.addEventListener("click", () => setMuted(!session.muted));
el.ringerMute.addEventListener("click", () => {
  ringer.setMuted(!ringer.muted);
  render();
});
bindShortcuts([
  { code: "KeyA", button: el.accept },
  { code: "KeyR", button: el.reject },
  { code: "KeyM", button: el.mute },
  { code: "KeyH", button: el.hangup },
]);
// Browsers play sound only after a gesture: any click or key press unlocks the ringer's audio.
for (const type of ["pointerdown", "keydown"]) {
  document.addEventListener(type, () => ringer.unlock(), { capture: true });
}
document.addEventListener("visibilitychange", () => {
  if (document.hidden && session.offer && !session.offer.notified) notifyOffer();
});
el.reject.addEventListener("click", () => answerOffer("reject"));
el.hangup.addEventListener("click", hangUp);
el.transfer.addEventListener("click", transfer);
el.wrapUpForm.addEventListener("submit", (event) => {
  event.preventDefault();
  saveWrapUp(false);
});
el.wrapUpReady.addEventListener("click", () => saveWrapUp(true));
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
  stopHeadsetRecovery();
  forgetCall();
  session.lostCall = null;
  session.agentState = null;
  session.queues = [];
  session.wrapUp = null;
  showError(el.error, null);
  notifier.close();
  announce(el.announcer, "");
  render();
}

/** Forgets the offer, the call and everything about it. */
function forgetCall() {
  Object.assign(session, { offer: null, call: null, support: null, help: null, muted: false });
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
  if (chats.handle(msg)) {
    render();
    return;
  }
  switch (msg.type) {
    case "welcome":
      await onWelcome(msg);
      break;
    case "media_answer":
      await headset.answer(msg.sdp);
      break;
    case "media_state":
      headset.setState(msg.state);
      if (msg.state === "failed") recoverHeadset(headset.pc);
      if (msg.state === "connected" && session.call?.link === "reconnecting") {
        session.call.link = "connected";
        announceCall();
      }
      break;
    case "agent_state":
      session.agentState = {
        state: msg.state,
        reason: msg.reason ?? null,
        sinceMs: msg.since_ms,
        untilMs: msg.until_ms ?? null,
      };
      break;
    case "queue_status":
      session.queues = msg.queues;
      break;
    case "wrap_up_saved":
      if (chats.wrapUpSaved(msg.call_id)) break;
      if (session.wrapUp?.id === msg.call_id) {
        session.wrapUp.saved = true;
        if (session.wrapUp.readyAfterSave) {
          session.wrapUp = null;
          setState("available");
        }
      }
      break;
    case "call_offered":
      session.offer = {
        id: msg.call_id,
        service: msg.service ?? null,
        skill: msg.skill,
        transfers: msg.transfers ?? 0,
        transcript: Array.isArray(msg.transcript) ? msg.transcript : [],
        waitedMs: msg.waited_ms,
        ringMs: msg.ring_timeout_ms,
        receivedAt: Date.now(),
        answering: false,
        notified: false,
      };
      announce(el.announcer, offerText("announce.offer"));
      notifyOffer();
      status.set("offered", "status.offered", { service: () => serviceName(msg.service) });
      break;
    case "offer_withdrawn":
      if (session.offer?.id === msg.call_id) {
        session.offer = null;
        status.set("withdrawn", "status.withdrawn", { reason: () => tOr("withdraw.", msg.reason) });
      }
      break;
    case "call_connected":
      session.call = {
        id: msg.call_id,
        peer: msg.peer_name,
        service: session.offer?.id === msg.call_id ? session.offer.service : null,
        transcript: session.offer?.id === msg.call_id ? session.offer.transcript : [],
        since: Date.now(),
        ending: false,
        link: "connected",
        peerLostUntil: null,
      };
      if (session.offer?.id === msg.call_id) session.offer = null;
      setMuted(false);
      el.helpReason.value = "";
      status.set("connected", "status.connected", { peer: msg.peer_name });
      // The call's text panel (links, lists of documents), as in a chat.
      chats.attachCall(msg.call_id, msg.peer_name, session.call.service);
      break;
    case "call_resumed": {
      // The call went on while this console was away (a reload, a lost connection): it is
      // shown again, its time from the answer; the headset opened at `welcome` carries it once
      // connected.
      const before = session.lostCall?.id === msg.call_id ? session.lostCall : null;
      session.lostCall = null;
      session.offer = null;
      session.call = {
        id: msg.call_id,
        peer: msg.peer_name,
        service: msg.service ?? null,
        transcript: before?.transcript ?? [],
        since: msg.answered_at_ms ?? Date.now(),
        ending: false,
        link: headset.state === "connected" ? "connected" : "reconnecting",
        peerLostUntil: null,
      };
      if (!before) el.helpReason.value = "";
      setMuted(before ? session.muted : false);
      announceCall();
      chats.attachCall(msg.call_id, msg.peer_name, session.call.service);
      break;
    }
    case "peer_reconnecting":
      if (session.call?.id === msg.call_id && msg.peer === "citizen") {
        session.call.peerLostUntil = msg.reconnect_by_ms;
        announceCall();
      }
      break;
    case "peer_reconnected":
      if (session.call?.id === msg.call_id && msg.peer === "citizen" && session.call.peerLostUntil) {
        session.call.peerLostUntil = null;
        announceCall();
      }
      break;
    case "call_ended":
      chats.detachCall(msg.call_id);
      if (session.offer?.id === msg.call_id) session.offer = null;
      if (session.lostCall?.id === msg.call_id) session.lostCall = null;
      if (session.call?.id === msg.call_id) {
        // Who took the call over, said at the top of the wrap-up (not only in the status line).
        const takenBy = session.support?.callId === msg.call_id
          ? session.support.supporters.find((s) => s.mode === "take_over")?.name
          : null;
        session.wrapUp = {
          id: msg.call_id,
          service: session.call.service,
          saved: false,
          readyAfterSave: false,
          reason: msg.reason,
          takenBy: takenBy || null,
        };
        el.notes.value = "";
        el.disposition.value = msg.reason === "transferred" ? "transferred" : el.disposition.value;
        session.call = null;
        setMuted(false);
      }
      if (session.support?.callId === msg.call_id) session.support = null;
      if (session.help?.callId === msg.call_id) session.help = null;
      status.set("ended", "status.ended", { reason: () => tOr("end.", msg.reason) });
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
      if (session.wrapUp && msg.request_type === "wrap_up") session.wrapUp.readyAfterSave = false;
      break;
    case "pong":
      break;
    default:
      console.warn("voicedesk: unexpected message", msg.type);
  }
  render();
}

/** The offer in one sentence (`key` is `announce.offer` or `notify.offer_body`). */
function offerText(key) {
  const offer = session.offer;
  const params = {
    service: serviceName(offer.service),
    waited: formatDuration(offer.waitedMs + (Date.now() - offer.receivedAt)),
    count: offer.transfers,
  };
  return t(offer.transfers ? `${key}_transferred` : key, params);
}

/** A desktop notification of the ringing offer, when the tab is hidden (once per offer). */
function notifyOffer() {
  const offer = session.offer;
  if (!offer || !document.hidden) return;
  const shown = notifier.show({
    title: t("notify.offer_title", { service: serviceName(offer.service) }),
    body: offerText("notify.offer_body"),
    tag: `voicedesk-offer-${offer.id}`,
  });
  if (shown) offer.notified = true;
}

/** Mutes or unmutes this agent's microphone (the headset's track stays, disabled). */
function setMuted(muted) {
  session.muted = muted;
  for (const track of headset.mic?.getAudioTracks() ?? []) track.enabled = !muted;
  render();
}

async function onWelcome(msg) {
  if (msg.role !== "agent") {
    login.refuse("status.not_agent");
    return;
  }
  showError(el.error, null);
  status.set("logged_in", "status.logged_in", { name: login.user?.display_name ?? "" });
  // A call kept while this console was away follows (`call_resumed`): this headset carries it.
  await openHeadset();
}

/** A new headset connection (`media_connect` with a new offer), replacing any other. */
async function openHeadset() {
  session.headsetRecovery.lastOfferAt = Date.now();
  await headset.open();
  setMuted(session.muted);
}

/**
 * The headset broke while the signaling connection is up (the relay's `media_state` `failed`,
 * or the browser's ICE `failed`): a new offer on a new connection, once per failure (`pc` is
 * the connection that failed) and never sooner than `HEADSET_RETRY_MS` after the last offer.
 * The server keeps a call meanwhile and routes it onto the new headset once it connects.
 */
function recoverHeadset(pc) {
  const recovery = session.headsetRecovery;
  if (!pc || pc !== headset.pc || recovery.pc === pc || !session.signaling) return;
  recovery.pc = pc;
  if (session.call && !session.call.ending) {
    session.call.link = "reconnecting";
    announceCall();
  }
  clearTimeout(recovery.timer);
  const wait = Math.max(0, recovery.lastOfferAt + HEADSET_RETRY_MS - Date.now());
  recovery.timer = setTimeout(async () => {
    recovery.timer = null;
    // Replaced meanwhile (a reconnect, a logout): nothing to recover.
    if (headset.pc !== pc || !session.signaling) return;
    await openHeadset();
    render();
  }, wait);
  render();
}

function stopHeadsetRecovery() {
  clearTimeout(session.headsetRecovery.timer);
  session.headsetRecovery.timer = null;
  session.headsetRecovery.pc = null;
}

/** Says in the status line (a live region, so only on a change) how the current call is:
 * this console reconnecting to it, the citizen's connection lost, or connected. */
function announceCall() {
  const call = session.call;
  if (!call) return;
  if (call.link === "reconnecting") {
    status.set("call_reconnecting", "status.call_reconnecting", { peer: call.peer });
  } else if (call.peerLostUntil) {
    status.set("peer_reconnecting", "status.citizen_reconnecting", { seconds: secondsUntil(call.peerLostUntil) });
  } else {
    status.set("connected", "status.connected", { peer: call.peer });
  }
}

/** Whole seconds from now until `atMs` (the server's clock), at least 0. */
function secondsUntil(atMs) {
  return Math.max(0, Math.ceil((atMs - Date.now()) / 1000));
}

async function onDrop(retrySeconds, welcomed) {
  // The server drops the media leg and the offer with the connection; an answered call waits
  // for this console to come back (`call_resumed` after the next `welcome`).
  headset.close();
  stopHeadsetRecovery();
  if (session.call) session.lostCall = session.call;
  forgetCall();
  chats.onDrop();
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

function transfer() {
  const call = session.call;
  if (!call || call.ending || !el.transferService.value) return;
  // The server refuses to transfer a call whose citizen is being waited for.
  if (call.peerLostUntil || call.link === "reconnecting") return;
  send({ type: "transfer", call_id: call.id, service: el.transferService.value });
}

function saveWrapUp(ready) {
  const wrap = session.wrapUp;
  if (!wrap) return;
  if (!el.disposition.value) {
    el.disposition.focus();
    return;
  }
  wrap.readyAfterSave = ready;
  send({
    type: "wrap_up",
    call_id: wrap.id,
    disposition: el.disposition.value,
    notes: el.notes.value,
  });
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

/** The choices that come from the catalogue: away reasons, dispositions, transfer targets. */
function renderChoices() {
  chats.renderChoices();
  const { away_reasons, dispositions, services } = getCatalogue();
  fillSelect(el.awayReason, [
    { value: "", label: t("reason.none") },
    ...away_reasons.filter((r) => !r.system).map((r) => ({ value: r.code, label: localName(r) })),
  ]);
  fillSelect(el.disposition, dispositions.map((d) => ({ value: d.code, label: localName(d) })));
  fillSelect(
    el.transferService,
    services.map((s) => ({ value: s.id, label: t("list.pair", { first: localName(s), second: skillName(s.skill_id) }) })),
  );
}

/** The queues of this agent's skills. */
function renderQueues() {
  const rows = session.queues.map((q) => {
    const row = document.createElement("tr");
    row.dataset.skill = q.skill;
    for (const text of [
      skillName(q.skill),
      String(q.waiting),
      q.waiting ? formatDuration(q.longest_wait_ms) : "—",
      `${q.available_agents} / ${q.staffed_agents}`,
    ]) {
      const cell = document.createElement("td");
      cell.textContent = text;
      row.append(cell);
    }
    return row;
  });
  if (!rows.length && session.agentState) {
    const row = document.createElement("tr");
    const cell = document.createElement("td");
    cell.colSpan = 4;
    cell.textContent = t("queues.none_for_me");
    row.append(cell);
    rows.push(row);
  }
  el.myQueues.replaceChildren(...rows);
}

/** Brings every element in line with `session` (after each message and language switch). */
function render() {
  headset.render();
  chats.render();
  const activity = session.agentState?.state ?? "unknown";
  el.agentState.dataset.state = activity;
  el.agentState.textContent = t(`activity.${activity}`);
  el.available.setAttribute("aria-pressed", String(activity === "available"));
  el.away.setAttribute("aria-pressed", String(activity === "away"));
  if (activity === "away" && session.agentState.reason) {
    el.agentState.textContent = t("list.pair", {
      first: el.agentState.textContent,
      second: reasonLabel(session.agentState.reason),
    });
  }
  const busy = activity === "ringing" || activity === "on_call";
  // The server makes an agent available only with a connected headset.
  el.available.disabled = busy || !session.agentState || headset.state !== "connected";
  el.away.disabled = busy || !session.agentState;

  const wasHidden = el.incoming.hidden;
  el.incoming.hidden = !session.offer;
  if (session.offer) {
    el.incomingService.textContent = serviceName(session.offer.service);
    el.incomingQueue.textContent = session.offer.transfers
      ? t("list.pair", {
          first: skillName(session.offer.skill),
          second: t("agent.transfers", { count: session.offer.transfers }),
        })
      : skillName(session.offer.skill);
    el.accept.disabled = session.offer.answering;
    el.reject.disabled = session.offer.answering;
    if (wasHidden) {
      session.focusBefore = document.activeElement;
      el.accept.focus();
    }
  } else if (!wasHidden) {
    notifier.close();
    announce(el.announcer, "");
  }
  renderTranscript(el.incomingTranscript, session.offer?.transcript);
  // The ring goes on until the offer is answered, taken back or times out.
  if ((session.offer && !session.offer.answering) || chats.ringing()) ringer.start();
  else ringer.stop();
  el.incoming.dataset.ringing = String(ringer.playing);
  el.ringerMute.setAttribute("aria-pressed", String(ringer.muted));
  notifier.render();

  const callWasHidden = el.currentCall.hidden;
  el.currentCall.hidden = !session.call;
  renderTranscript(el.callTranscript, session.call?.transcript);
  el.mute.setAttribute("aria-pressed", String(session.muted));
  el.micState.dataset.state = session.muted ? "muted" : "live";
  el.micState.textContent = t(session.muted ? "agent.mic_muted" : "agent.mic_live");
  el.mute.disabled = !session.call;
  if (session.call && callWasHidden) {
    el.currentHeading.focus();
  } else if (!session.call && !session.offer && !wasHidden && session.focusBefore) {
    // The offer went without a call (rejected, taken back, timed out): focus goes back.
    const before = session.focusBefore;
    if (before.isConnected && !before.closest("[hidden]") && !before.disabled) before.focus();
    else el.stateHeading.focus();
  }
  if (!session.offer) session.focusBefore = null;
  if (session.call) {
    el.callPeer.textContent = session.call.peer;
    el.callService.textContent = serviceName(session.call.service);
    el.hangup.disabled = session.call.ending;
    el.transfer.disabled =
      session.call.ending || Boolean(session.call.peerLostUntil) || session.call.link === "reconnecting";
  }
  renderCallLink();
  const wrap = session.wrapUp;
  const wrapWasHidden = el.wrapUp.hidden;
  el.wrapUp.hidden = !wrap;
  // After the call, the wrap-up form is next: its first field takes the focus.
  if (wrap && wrapWasHidden) el.disposition.focus();
  if (wrap) {
    el.wrapUpHeading.textContent = t("list.pair", {
      first: t("agent.wrap_up"),
      second: t("agent.wrap_up_for", { service: serviceName(wrap.service) }),
    });
    el.wrapUpStatus.textContent = wrap.saved ? t("agent.wrap_up_saved") : "";
    // Why the call ended, first thing in the wrap-up: a take over most of all, which the agent
    // did not choose.
    el.wrapUpReason.dataset.reason = wrap.reason ?? "";
    el.wrapUpReason.textContent =
      wrap.reason === "taken_over"
        ? wrap.takenBy
          ? t("agent.taken_over_by", { name: wrap.takenBy })
          : t("agent.taken_over")
        : t("agent.wrap_up_ended", { reason: tOr("end.", wrap.reason) });
  }
  renderQueues();
  renderSupport();
  renderClocks();
}

/** The citizen's conversation with the self-service assistant, if any, in `section`'s list. */
function renderTranscript(section, transcript) {
  const lines = transcript ?? [];
  section.hidden = lines.length === 0;
  const list = section.querySelector("ol");
  const key = JSON.stringify(lines) + document.documentElement.lang;
  if (list.dataset.key === key) return;
  list.dataset.key = key;
  list.replaceChildren(
    ...lines.map((line) => {
      const item = document.createElement("li");
      item.dataset.from = line.from;
      const who = document.createElement("span");
      who.className = "transcript-who";
      who.textContent = t(line.from === "assistant" ? "transcript.assistant" : "transcript.citizen");
      const text = document.createElement("span");
      text.textContent = line.text;
      item.append(who, " ", text);
      return item;
    }),
  );
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
  if (state?.untilMs) {
    const seconds = Math.max(0, Math.ceil((state.untilMs - now) / 1000));
    el.stateTimer.textContent = t("agent.state_timer_acw", { time: el.stateTimer.textContent, seconds });
  }
  const offer = session.offer;
  if (offer) {
    const elapsed = now - offer.receivedAt;
    el.incomingWaited.textContent = formatDuration(offer.waitedMs + elapsed);
    el.incomingCountdown.textContent = t("agent.ring_seconds", {
      seconds: Math.max(0, Math.ceil((offer.ringMs - elapsed) / 1000)),
    });
  }
  if (session.call) el.callDuration.textContent = formatDuration(now - session.call.since);
  if (session.call?.peerLostUntil) renderCallLink();
}

/** The call's connection in the call banner (not a live region: the countdown ticks here,
 * the status line said it once): `data-state` `reconnecting` (this console's headset),
 * `peer_reconnecting` (the citizen's connection) or `connected` (hidden). */
function renderCallLink() {
  const call = session.call;
  let state = "connected";
  let text = "";
  if (call?.link === "reconnecting") {
    state = "reconnecting";
    text = t("status.call_reconnecting", { peer: call.peer });
  } else if (call?.peerLostUntil) {
    state = "peer_reconnecting";
    text = t("status.citizen_reconnecting", { seconds: secondsUntil(call.peerLostUntil) });
  }
  el.callLink.dataset.state = state;
  el.callLink.hidden = state === "connected";
  if (el.callLink.textContent !== text) el.callLink.textContent = text;
}

/** An away reason's label (system reasons such as missed calls included). */
function reasonLabel(code) {
  const reason = getCatalogue().away_reasons.find((r) => r.code === code);
  return reason ? localName(reason) : code;
}
