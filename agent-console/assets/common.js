// Shared by the hall, the agent console and the staff console: the signaling client (protocol v1 over /ws), the
// audio peer connection with fixed receive slots, and the strings (from i18n/<lang>.json).
//
// The message shapes are those of protocol/src/lib.rs (`ClientMessage` / `ServerMessage`).

/** The handle the browser tests read: `window.voicedesk.pc` is this page's current (or last)
 * RTCPeerConnection; `langReady` turns true once the page has set up its language. Nothing else
 * is global. */
export const testHandle = (window.voicedesk = { pc: null });

// ---------------------------------------------------------------------------------------------
// Strings
//
// Every user-visible text lives in a resource file, one per language: `i18n/<lang>.json`, a flat
// object `{ "key": "text with {param} placeholders" }`. A text needing a plural has the keys
// `<key>.one`, `<key>.other` (and any other Intl.PluralRules category), chosen by
// `params.count`. Keys starting with `catalogue.` name catalogue entries in a language the
// server's catalogue does not carry (see `localName`). The chosen language's file and the
// English one (the fallback for missing keys) are loaded by the top-level `await` below, before
// any page module runs, so `t` is synchronous everywhere.

const LANG_KEY = "voicedesk.lang";
/** The languages there is a resource file for, in the switch's order. */
export const LANGS = ["zh-CN", "en", "es"];
const FALLBACK_LANG = "en";

/** Loaded resource files by language. */
const dictionaries = {};

/** Fetches `i18n/<code>.json` once; an empty dictionary when it cannot be read. */
function loadDictionary(code) {
  dictionaries[code] ??= fetch(new URL(`./i18n/${code}.json`, import.meta.url))
    .then((response) => {
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      return response.json();
    })
    .catch((error) => {
      console.warn(`voicedesk: the ${code} strings are unavailable`, error);
      return {};
    });
  return dictionaries[code];
}

let lang = initialLang();
let strings = {};
let fallback = {};
let plurals = new Intl.PluralRules(lang);
const langListeners = [];

/** Makes `code` the current language once its resource file is loaded. */
async function useLang(code) {
  const [chosen, english] = await Promise.all([loadDictionary(code), loadDictionary(FALLBACK_LANG)]);
  lang = code;
  strings = chosen;
  fallback = english;
  plurals = new Intl.PluralRules(code);
}

await useLang(lang);
// The others in the background, so that switching is immediate.
for (const code of LANGS) loadDictionary(code);

/** The stored choice, else the browser's first language we have (zh* → zh-CN, es* → es),
 * else English. */
function initialLang() {
  let stored = null;
  try {
    stored = localStorage.getItem(LANG_KEY);
  } catch {
    // Storage may be disabled; fall back to the browser's language.
  }
  if (LANGS.includes(stored)) return stored;
  const wanted = navigator.languages?.length ? navigator.languages : [navigator.language || ""];
  for (const tag of wanted) {
    const code = tag.toLowerCase();
    if (code.startsWith("zh")) return "zh-CN";
    if (code.startsWith("es")) return "es";
    if (code.startsWith("en")) return "en";
  }
  return FALLBACK_LANG;
}

/** The raw text of `key` (current language, else English), or undefined. */
function lookup(key) {
  return strings[key] ?? fallback[key];
}

/** Whether `key` has a text (or plural forms). */
export function hasKey(key) {
  return lookup(key) !== undefined || lookup(`${key}.other`) !== undefined;
}

/**
 * The text of `key` in the current language with its `{param}` placeholders filled; unknown keys
 * show as themselves. A parameter may be a function, called now (so a `StatusLine` re-rendering
 * after a language switch gets, say, a translated reason in the new language). When `key` has
 * plural forms, `params.count` picks one.
 */
export function t(key, params = {}) {
  let text = lookup(key);
  if (text === undefined && typeof params.count === "number") {
    text = lookup(`${key}.${plurals.select(params.count)}`) ?? lookup(`${key}.other`);
  }
  if (text === undefined) return key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => {
    if (!(name in params)) return whole;
    const value = params[name];
    return String(typeof value === "function" ? value() : value ?? "");
  });
}

/** The current language, one of `LANGS`. */
export function currentLang() {
  return lang;
}

/** `t(prefix + value)` when such a string exists, else the raw value (for server-sent names). */
export function tOr(prefix, value) {
  return hasKey(prefix + value) ? t(prefix + value) : value;
}

// ---------------------------------------------------------------------------------------------
// The hall's catalogue (`GET /api/catalogue`): areas, services, skills (queues), away reasons and
// dispositions, each with a Chinese and an English name (other languages: `catalogue.*` strings).
// Loaded once per page.

const catalogue = { loaded: false, areas: [], services: [], skills: [], away_reasons: [], dispositions: [] };
const byId = { services: new Map(), skills: new Map(), areas: new Map(), away_reasons: new Map(), dispositions: new Map() };

/** Fetches the catalogue; resolves to it (empty lists when the server cannot be reached). */
export async function loadCatalogue() {
  try {
    const response = await fetch("/api/catalogue", { headers: { accept: "application/json" } });
    if (response.ok) Object.assign(catalogue, await response.json(), { loaded: true });
  } catch (error) {
    console.warn("voicedesk: catalogue unavailable", error);
  }
  for (const [list, key] of [
    ["services", "id"],
    ["skills", "id"],
    ["areas", "id"],
    ["away_reasons", "code"],
    ["dispositions", "code"],
  ]) {
    byId[list] = new Map((catalogue[list] ?? []).map((item) => [item[key], item]));
  }
  return catalogue;
}

/** The catalogue as loaded (empty lists before `loadCatalogue`). */
export function getCatalogue() {
  return catalogue;
}

/** The resource-file prefix of each catalogue list's names (`catalogue.service.<id>`). */
const CATALOGUE_KEYS = {
  services: ["service", "id"],
  skills: ["skill", "id"],
  areas: ["area", "id"],
  away_reasons: ["away_reason", "code"],
  dispositions: ["disposition", "code"],
};

/** The name of a catalogue entry in the current language: the server's `name_zh` / `name_en`
 * (admin-edited), for Spanish the server's `name_es` when an admin wrote one (services), and for
 * other languages the resource file's `catalogue.<kind>.<id>` when there is one, else `name_en`. */
export function localName(entry) {
  if (!entry) return "";
  if (lang === "zh-CN") return entry.name_zh;
  if (lang === "es" && entry.name_es) return entry.name_es;
  if (lang !== "en") {
    for (const [list, [kind, idField]] of Object.entries(CATALOGUE_KEYS)) {
      if (byId[list].get(entry[idField]) !== entry) continue;
      const name = strings[`catalogue.${kind}.${entry[idField]}`];
      if (name) return name;
    }
  }
  return entry.name_en;
}

function named(list, id, fallback) {
  if (!id) return fallback;
  return localName(byId[list].get(id)) || id;
}

/** A call's service as shown to people: its catalogue name, else the id as sent. */
export function serviceName(service) {
  return named("services", service, t("agent.no_service"));
}

/** A queue (skill) by its catalogue name. */
export function skillName(skill) {
  return named("skills", skill, "—");
}

/** An away reason by its catalogue name (`null` → "(none)"). */
export function reasonName(code) {
  return named("away_reasons", code, t("reason.none"));
}

/** A wrap-up disposition by its catalogue name. */
export function dispositionName(code) {
  return named("dispositions", code, "—");
}

/** Fills a `<select>` with `items` (`{value, label}`), keeping the current choice if possible. */
export function fillSelect(select, items, { keep = true } = {}) {
  const previous = select.value;
  select.replaceChildren(
    ...items.map(({ value, label, group }) => {
      const option = document.createElement("option");
      option.value = value;
      option.textContent = label;
      if (group) option.dataset.group = group;
      return option;
    }),
  );
  if (keep && items.some((i) => i.value === previous)) select.value = previous;
}

/**
 * Fills every `[data-i18n]` element's text and, for `data-i18n-attr="aria-label:key title:key"`,
 * those attributes; sets `<html lang>`; then re-renders dynamic texts.
 */
export function applyLang() {
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll("[data-i18n]")) {
    el.textContent = t(el.dataset.i18n);
  }
  for (const el of document.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of el.dataset.i18nAttr.trim().split(/\s+/)) {
      const [attr, key] = pair.split(":");
      el.setAttribute(attr, t(key));
    }
  }
  const select = document.getElementById("lang-switch");
  if (select) select.value = lang;
  for (const listener of langListeners) listener();
}

/** Switches to `code` (one of `LANGS`), remembers it, and re-renders the page. */
export async function switchLang(code) {
  if (!LANGS.includes(code)) return;
  await useLang(code);
  try {
    localStorage.setItem(LANG_KEY, code);
  } catch {
    // Not remembered across reloads; still switched.
  }
  applyLang();
}

/** Fills and wires the `<select id="lang-switch">` (each language named in itself) and applies
 * the current language once. */
export function setupLang(onChange) {
  if (onChange) langListeners.push(onChange);
  const select = document.getElementById("lang-switch");
  if (select) {
    select.replaceChildren(
      ...LANGS.map((code) => {
        const option = document.createElement("option");
        option.value = code;
        option.lang = code;
        option.textContent = t(`lang.name.${code}`);
        return option;
      }),
    );
    select.addEventListener("change", () => switchLang(select.value));
  }
  applyLang();
  // For the browser tests: the page's strings are loaded and its module has started.
  testHandle.langReady = true;
}

/** A live region whose text is re-rendered on a language switch. `data-state` carries the
 * machine-readable state (for styling and tests). */
export class StatusLine {
  constructor(element) {
    this.element = element;
    this.key = null;
    this.params = {};
    langListeners.push(() => this.render());
  }

  set(state, key, params = {}) {
    this.element.dataset.state = state;
    this.key = key;
    this.params = params;
    this.render();
  }

  render() {
    if (this.key) this.element.textContent = t(this.key, this.params);
  }
}

/** Shows a server `error` message (or any failure) in a `role=alert` element; `null` hides it. */
export function showError(element, error) {
  // A client note (`data-i18n`) is replaced, not re-rendered on a language switch.
  delete element.dataset.i18n;
  if (!error) {
    element.hidden = true;
    element.textContent = "";
    delete element.dataset.code;
    return;
  }
  element.dataset.code = error.code || "client";
  element.textContent = error.request_type
    ? describeError(error)
    : t("status.error", { message: error.message || String(error), code: error.code || "client" });
  element.hidden = false;
}

/** A client-side note (a missing field, no connection) in an alert element, in words only. */
export function showNote(element, key) {
  element.dataset.code = "client";
  element.dataset.i18n = key;
  element.textContent = t(key);
  element.hidden = false;
}

/** "陈静 Chen Jing — whispering": one staff member on a call, from `support_changed`. */
export function supporterText(supporter) {
  return t("support.supporter", { name: supporter.name, mode: tOr("mode_ing.", supporter.mode) });
}

/** A server `error` as a sentence: what failed and why, then the server's words. */
export function describeError(msg) {
  const what = msg.request_type ? tOr("request.", msg.request_type) : t("status.error", msg);
  if (!msg.request_type) return what;
  return t("status.request_failed", {
    what,
    why: tOr("code.", msg.code),
    message: msg.message || "",
    code: msg.code,
  });
}

/** `HH:MM` (or with `:SS`) for an epoch time, in the page's language. */
export function formatClock(ms, seconds = false) {
  return new Date(ms).toLocaleTimeString(lang, {
    hour: "2-digit",
    minute: "2-digit",
    second: seconds ? "2-digit" : undefined,
    hour12: false,
  });
}

/** Weekday, date and time of an epoch-ms instant, for "opens again …". */
export function formatDateTime(ms) {
  return new Date(ms).toLocaleString(lang, {
    weekday: "short",
    month: "numeric",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    hour12: false,
  });
}

/**
 * A queue's business hours (the catalogue's `hours`: `always`, `never` or e.g.
 * `mon-fri 09:00-12:00,13:00-17:00; sat 09:00-12:00`) in the page's language:
 * "周一至周五 09:00–12:00、13:00–17:00；周六 09:00–12:00". The day names, ranges and separators
 * are the resource file's `day.*` and `hours.*`. Text it cannot read is shown as is.
 */
export function formatHours(hours) {
  const spec = String(hours ?? "").trim();
  if (spec === "always") return t("hours.always");
  if (spec === "never") return t("hours.never");
  const day = (name) => (/^[a-z]{3}$/.test(name ?? "") && hasKey(`day.${name}`) ? t(`day.${name}`) : null);
  const clauses = spec.split(";").map((clause) => {
    const match = /^([a-z,-]+)\s+(.+)$/.exec(clause.trim());
    if (!match) return null;
    const days = match[1].split(",").map((part) => {
      const [from, to] = part.split("-");
      if (!day(from) || (to !== undefined && !day(to))) return null;
      return to === undefined ? day(from) : t("hours.day_range", { from: day(from), to: day(to) });
    });
    if (days.includes(null)) return null;
    const times = match[2].split(",").map((range) => {
      const [from, to] = range.trim().split("-");
      return to === undefined ? from : t("hours.time_range", { from, to });
    });
    return t("hours.clause", {
      days: days.join(t("hours.list_separator")),
      times: times.join(t("hours.list_separator")),
    });
  });
  if (!spec || clauses.includes(null)) return spec;
  return clauses.join(t("hours.clause_separator"));
}

/** A number in the page's language, with exactly `fractionDigits` decimals when given. */
export function formatNumber(value, fractionDigits) {
  const digits = fractionDigits ?? undefined;
  return new Intl.NumberFormat(lang, { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(value);
}

/** `m:ss` for a duration in milliseconds. */
export function formatDuration(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const minutes = Math.floor(total / 60);
  const seconds = String(total % 60).padStart(2, "0");
  return `${minutes}:${seconds}`;
}

// ---------------------------------------------------------------------------------------------
// Signaling

/** The `/ws` URL on this page's origin; `query` is `""` (citizen) or `"?role=agent"`. */
function signalingUrl(query) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws${query}`;
}

/**
 * One WebSocket to `/ws` (`query` `"?role=agent"` for the agent console, which the server
 * authenticates by the session cookie), reopened with a growing delay after it drops (until
 * `close()`). Handlers: `onMessage(msg)` for every server message, `onOpen()`,
 * `onDrop(retryInSeconds, welcomed)` — `welcomed` is false when the connection never got its
 * `welcome`, as when the server refuses the handshake (HTTP 401/403, which a browser cannot
 * see).
 * Messages are handled one at a time in arrival order: an async `onMessage` (one that awaits
 * `setRemoteDescription`, say) finishes before the next message is looked at.
 */
export class Signaling {
  constructor({ query = "", onMessage, onOpen = () => {}, onDrop = () => {} }) {
    this.query = query;
    this.onMessage = onMessage;
    this.onOpen = onOpen;
    this.onDrop = onDrop;
    this.socket = null;
    this.closed = false;
    this.retryMs = 1000;
    this.retryTimer = null;
    /** The end of the chain of message handlers, so they run in order. */
    this.handled = Promise.resolve();
  }

  open() {
    this.closed = false;
    const socket = new WebSocket(signalingUrl(this.query));
    this.socket = socket;
    let welcomed = false;
    socket.addEventListener("open", () => {
      this.retryMs = 1000;
      this.onOpen();
    });
    socket.addEventListener("message", (event) => {
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch {
        console.warn("voicedesk: ignoring a frame that is not JSON");
        return;
      }
      if (msg.type === "welcome") welcomed = true;
      this.handled = this.handled
        .then(() => this.onMessage(msg))
        // A bug in a handler surfaces as an uncaught error; the next message is still handled.
        .catch((error) => reportError(error));
    });
    socket.addEventListener("close", () => {
      if (this.socket !== socket || this.closed) return;
      this.socket = null;
      const delay = this.retryMs;
      this.retryMs = Math.min(this.retryMs * 2, 30000);
      this.onDrop(Math.round(delay / 1000), welcomed);
      this.retryTimer = setTimeout(() => this.open(), delay);
    });
  }

  /** Sends one client message; returns false when the socket is not open. */
  send(msg) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(msg));
    return true;
  }

  /** Closes for good (no reconnect). */
  close() {
    this.closed = true;
    clearTimeout(this.retryTimer);
    const socket = this.socket;
    this.socket = null;
    socket?.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Media

/** Receive slots per leg (protocol `Role::receive_slots`): the first transceiver also sends. */
export const RECEIVE_SLOTS = 2;

/** Asks for the microphone. Rejects with the browser's error (NotAllowedError, …). */
export function getMicrophone() {
  return navigator.mediaDevices.getUserMedia({ audio: true, video: false });
}

/**
 * The ICE servers to use now (`GET /api/ice-servers`): TURN servers with short-lived
 * credentials when the server hands them out, none otherwise. Members are known by their
 * cookie, citizens by `citizenToken` (from `welcome`). Never fails: without an answer the call
 * goes without TURN, which is enough wherever the relay's own ports are reachable.
 * Returns `{ iceServers, expiresAtMs, renew }`; `renew()` fetches fresh ones the same way.
 */
export async function iceConfiguration(citizenToken = null) {
  const renew = () => iceConfiguration(citizenToken);
  try {
    const headers = { accept: "application/json" };
    if (citizenToken) headers.authorization = `Bearer ${citizenToken}`;
    const response = await fetch("/api/ice-servers", { headers, credentials: "same-origin" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const body = await response.json();
    return { iceServers: body.iceServers ?? [], expiresAtMs: body.expiresAtMs ?? null, renew };
  } catch (error) {
    console.warn("voicedesk: no ICE servers, calling without TURN", String(error));
    return { iceServers: [], expiresAtMs: null, renew };
  }
}

/** Renews a connection's TURN credentials at four fifths of their lifetime, again and again,
 * until the connection closes (a long call keeps valid ones for an ICE restart). */
function keepIceFresh(pc, ice) {
  if (!ice.expiresAtMs) return;
  const delay = Math.max(10_000, (ice.expiresAtMs - Date.now()) * 0.8);
  pc.voicedeskIceTimer = setTimeout(async () => {
    if (pc.signalingState === "closed") return;
    const fresh = await ice.renew();
    if (pc.signalingState === "closed") return;
    pc.setConfiguration({ ...pc.getConfiguration(), iceServers: fresh.iceServers });
    keepIceFresh(pc, fresh);
  }, delay);
}

/**
 * An audio peer connection with `RECEIVE_SLOTS` transceivers: slot 0 is `sendrecv` and carries
 * the microphone, the others are `recvonly`. Every remote track plays through
 * `audioElements[slot]`. `ice` is what `iceConfiguration` gave (TURN servers, renewed before
 * they expire); the relay itself is ICE-lite and does not trickle. The connection becomes
 * `window.voicedesk.pc`.
 */
export function createAudioPeer(micStream, audioElements, ice = { iceServers: [] }) {
  const pc = new RTCPeerConnection({ iceServers: ice.iceServers });
  keepIceFresh(pc, ice);
  const [micTrack] = micStream.getAudioTracks();
  pc.addTransceiver(micTrack, { direction: "sendrecv", streams: [micStream] });
  for (let slot = 1; slot < RECEIVE_SLOTS; slot++) {
    pc.addTransceiver("audio", { direction: "recvonly" });
  }
  pc.addEventListener("track", (event) => {
    const slot = pc.getTransceivers().indexOf(event.transceiver);
    const element = audioElements[slot];
    if (!element) return;
    element.srcObject = new MediaStream([event.track]);
    element.play().catch(() => {
      // Autoplay may be refused until the user interacts; the element keeps its stream and
      // its controls let the user start it.
    });
  });
  testHandle.pc = pc;
  return pc;
}

/**
 * Creates the offer, sets it locally and waits until ICE gathering completes (the server does
 * not take trickled candidates), at most `timeoutMs`. Returns the SDP to send.
 */
export async function offerWhenGathered(pc, timeoutMs = 5000) {
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  if (pc.iceGatheringState !== "complete") {
    await new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done() {
        clearTimeout(timer);
        pc.removeEventListener("icegatheringstatechange", check);
        resolve();
      }
      function check() {
        if (pc.iceGatheringState === "complete") done();
      }
      pc.addEventListener("icegatheringstatechange", check);
    });
  }
  return pc.localDescription.sdp;
}

/** Closes a peer connection and stops the microphone. Safe to call with nulls. */
export function closeAudioPeer(pc, micStream, audioElements = []) {
  for (const track of micStream?.getTracks() ?? []) track.stop();
  if (pc) clearTimeout(pc.voicedeskIceTimer);
  if (pc && pc.signalingState !== "closed") pc.close();
  for (const element of audioElements) element.srcObject = null;
}

// ---------------------------------------------------------------------------------------------
// Ratings and messages (issue 6), shared by the hall and the ticket page

/** The five levels of the government service-rating norm, best first. */
export const RATING_LEVELS = [5, 4, 3, 2, 1];

/** The longest text message and reply. */
export const MESSAGE_MAX = 2000;

/** Fills `container` with one radio button per level (`name` is the group's name and the ids'
 * prefix); the labels follow the language. */
export function fillRatingLevels(container, name) {
  container.replaceChildren(
    ...RATING_LEVELS.map((level) => {
      const label = document.createElement("label");
      label.className = "rating-option";
      label.dataset.level = String(level);
      const input = document.createElement("input");
      input.type = "radio";
      input.name = name;
      input.value = String(level);
      input.id = `${name}-${level}`;
      input.dataset.testid = `${name}-${level}`;
      const text = document.createElement("span");
      text.dataset.i18n = `rating.level.${level}`;
      text.textContent = t(text.dataset.i18n);
      label.append(input, text);
      return label;
    }),
  );
}

/** The level chosen in a radio group, or null. */
export function chosenLevel(container) {
  const input = container.querySelector("input[type=radio]:checked");
  return input ? Number(input.value) : null;
}

/** "非常满意" for 5. */
export function ratingName(level) {
  return t(`rating.level.${level}`);
}

/** Date and time of an epoch-ms instant with the year, for tickets and the inbox. */
export function formatDate(ms) {
  return new Date(ms).toLocaleString(lang, {
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    hour12: false,
  });
}

/**
 * An article's or a reply's text as paragraphs and numbered lists, line breaks kept: lines that
 * start with "1." / "2、" / "3)" become the items of one `<ol>`, the others a `<p>` each.
 */
export function renderText(container, text) {
  const nodes = [];
  let list = null;
  for (const line of String(text ?? "").split(/\r?\n/)) {
    const step = /^\s*(\d+)\s*[.、)）]\s*(.*)$/.exec(line);
    if (step) {
      if (!list) {
        list = document.createElement("ol");
        list.start = Number(step[1]);
        nodes.push(list);
      }
      const item = document.createElement("li");
      item.textContent = step[2];
      list.append(item);
    } else if (line.trim()) {
      list = null;
      const paragraph = document.createElement("p");
      paragraph.textContent = line;
      nodes.push(paragraph);
    }
  }
  container.replaceChildren(...nodes);
}

/** Web addresses in a chat text: made links (http and https only, nothing else). */
const CHAT_LINK = /\bhttps?:\/\/[^\s<>"'()（）【】，。；！？]+[^\s<>"'()（）【】，。；！？.,;:!?]/gi;

/**
 * A chat text (issue 16) as DOM text nodes, never markup: lines starting with `1.` / `1、` make
 * an ordered list, lines starting with `-`, `*`, `•` or `·` a bulleted list (the materials an
 * agent sends), other lines paragraphs; web addresses become links that open in a new tab.
 * Whatever the text holds (`<b>`, `<script>`), it is shown as the characters typed.
 */
export function renderChatText(container, text) {
  const nodes = [];
  let list = null;
  for (const line of String(text ?? "").split(/\r?\n/)) {
    const step = /^\s*(\d+)\s*[.、)）]\s*(.*)$/.exec(line);
    const bullet = step ? null : /^\s*[-*•·]\s+(.*)$/.exec(line);
    if (step || bullet) {
      const kind = step ? "OL" : "UL";
      if (list?.tagName !== kind) {
        list = document.createElement(kind.toLowerCase());
        if (step) list.start = Number(step[1]);
        nodes.push(list);
      }
      const item = document.createElement("li");
      appendLinked(item, step ? step[2] : bullet[1]);
      list.append(item);
    } else if (line.trim()) {
      list = null;
      const paragraph = document.createElement("p");
      appendLinked(paragraph, line);
      nodes.push(paragraph);
    }
  }
  container.replaceChildren(...nodes);
}

/** `text` into `element` as text nodes, its web addresses as links. */
function appendLinked(element, text) {
  let at = 0;
  for (const match of text.matchAll(CHAT_LINK)) {
    if (match.index > at) element.append(document.createTextNode(text.slice(at, match.index)));
    const link = document.createElement("a");
    link.href = match[0];
    link.textContent = match[0];
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    element.append(link);
    at = match.index + match[0].length;
  }
  if (at < text.length) element.append(document.createTextNode(text.slice(at)));
}
