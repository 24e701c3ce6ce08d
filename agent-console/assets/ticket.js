// The citizen's ticket page (`/ticket?t=…&c=…`): the ticket number and the secret code from
// the hall's message, the message's state and dates, what the citizen wrote, the staff's reply,
// and a five-level rating of an answered message. A wrong ticket and a wrong code get the same
// answer from the server (404) and the same neutral words here.
import {
  StatusLine,
  chosenLevel,
  fillRatingLevels,
  formatDate,
  formatDuration,
  loadCatalogue,
  ratingName,
  renderText,
  serviceName,
  setupLang,
  t,
} from "./common.js";

const $ = (id) => document.getElementById(id);
const el = {
  form: $("lookup-form"),
  number: $("ticket-number"),
  code: $("ticket-code"),
  submit: $("lookup-submit"),
  error: $("lookup-error"),
  details: $("ticket-details"),
  heading: $("ticket-heading"),
  state: $("ticket-state"),
  service: $("ticket-service"),
  created: $("ticket-created"),
  due: $("ticket-due"),
  body: $("ticket-body"),
  reply: $("ticket-reply"),
  repliedAt: $("ticket-replied-at"),
  ratingForm: $("rating-form"),
  ratingLevels: $("rating-levels"),
  ratingComment: $("rating-comment"),
  ratingSubmit: $("rating-submit"),
  ratingError: $("rating-error"),
  ratingGiven: $("rating-given"),
};
const status = new StatusLine($("status"));

/** The ticket shown (the server's answer) and the code it was read with. */
let shown = null;
let shownCode = null;
/** Drops answers to earlier lookups. */
let seq = 0;
/** Set once this page sent the rating (the thanks are said then). */
let justRated = false;

fillRatingLevels(el.ratingLevels, "rating-level");
setupLang(render);
el.form.addEventListener("submit", (event) => {
  event.preventDefault();
  lookUp(true);
});
el.ratingLevels.addEventListener("change", () => note(el.ratingError, null));
el.ratingForm.addEventListener("submit", (event) => {
  event.preventDefault();
  rate();
});

const query = new URLSearchParams(location.search);
el.number.value = query.get("t") ?? "";
el.code.value = query.get("c") ?? "";
loadCatalogue().then(() => {
  render();
  if (el.number.value && el.code.value) lookUp(false);
});

/** A message in an alert element by string key (re-rendered on a language switch), or none. */
function note(element, key, params = {}) {
  if (!key) {
    element.hidden = true;
    element.textContent = "";
    delete element.dataset.key;
    return;
  }
  element.dataset.key = key;
  element.dataset.params = JSON.stringify(params);
  element.textContent = t(key, params);
  element.hidden = false;
}

async function lookUp(focusResult) {
  const ticket = el.number.value.trim();
  const code = el.code.value.trim();
  note(el.error, null);
  if (!ticket || !code) {
    note(el.error, "ticket.missing");
    (ticket ? el.code : el.number).focus();
    return;
  }
  const mine = ++seq;
  el.submit.disabled = true;
  status.element.hidden = false;
  status.set("looking", "ticket.looking");
  let response;
  try {
    response = await fetch(`/api/tickets/${encodeURIComponent(ticket)}?code=${encodeURIComponent(code)}`, {
      headers: { accept: "application/json" },
    });
  } catch {
    if (mine !== seq) return;
    fail("ticket.unreachable");
    return;
  } finally {
    if (mine === seq) el.submit.disabled = false;
  }
  if (mine !== seq) return;
  if (response.status === 404 || response.status === 400) {
    fail("ticket.not_found");
    return;
  }
  if (!response.ok) {
    fail("ticket.failed", { status: response.status });
    return;
  }
  shown = await response.json();
  shownCode = code;
  status.element.hidden = true;
  status.set("shown", "ticket.looking");
  render();
  if (focusResult) el.heading.focus();
}

function fail(key, params) {
  shown = null;
  shownCode = null;
  status.element.hidden = true;
  status.set("failed", key, params);
  note(el.error, key, params);
  render();
}

function render() {
  if (el.error.dataset.key) {
    el.error.textContent = t(el.error.dataset.key, JSON.parse(el.error.dataset.params || "{}"));
  }
  if (el.ratingError.dataset.key) {
    el.ratingError.textContent = t(el.ratingError.dataset.key, JSON.parse(el.ratingError.dataset.params || "{}"));
  }
  el.details.hidden = !shown;
  if (!shown) return;
  const m = shown;
  el.details.dataset.state = m.state;
  el.heading.textContent = t("ticket.heading", { ticket: m.ticket });
  el.state.textContent = t(`ticket_state.${m.state}`);
  el.state.dataset.state = m.state;
  el.service.textContent = serviceName(m.service);
  el.created.textContent = formatDate(m.created_at_ms);
  el.due.textContent = formatDate(m.due_at_ms);
  if (m.kind === "voice") {
    el.body.textContent = t("ticket.voice_length", { duration: formatDuration(m.voice_ms ?? 0) });
  } else {
    renderText(el.body, m.body ?? "");
  }
  if (m.reply) {
    renderText(el.reply, m.reply);
    el.reply.classList.remove("empty");
    el.repliedAt.textContent = m.replied_at_ms ? t("ticket.replied_at", { when: formatDate(m.replied_at_ms) }) : "";
  } else {
    el.reply.textContent = t("ticket.no_reply");
    el.reply.classList.add("empty");
    el.repliedAt.textContent = "";
  }
  const answered = m.state === "answered" || (m.state === "closed" && m.reply);
  el.ratingForm.hidden = !answered || !!m.rating;
  el.ratingGiven.hidden = !m.rating;
  if (m.rating) {
    el.ratingGiven.textContent = t(justRated ? "rating.thanks_given" : "rating.given", {
      level: ratingName(m.rating.level),
    });
  }
}

async function rate() {
  if (!shown) return;
  const level = chosenLevel(el.ratingLevels);
  if (!level) {
    note(el.ratingError, "rating.choose");
    el.ratingLevels.querySelector("input")?.focus();
    return;
  }
  note(el.ratingError, null);
  const comment = el.ratingComment.value.trim();
  el.ratingSubmit.disabled = true;
  let response;
  try {
    response = await fetch(`/api/tickets/${encodeURIComponent(shown.ticket)}/rating`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ code: shownCode, level, ...(comment ? { comment } : {}) }),
    });
  } catch {
    el.ratingSubmit.disabled = false;
    note(el.ratingError, "ticket.unreachable");
    return;
  }
  el.ratingSubmit.disabled = false;
  if (response.ok) {
    const answer = await response.json().catch(() => ({}));
    shown = { ...shown, rating: answer.rating ?? { level, comment: comment || null } };
    justRated = true;
    render();
    return;
  }
  if (response.status === 409) {
    // Rated already (in another tab, say): show the rating the server has.
    await lookUp(false);
    return;
  }
  if (response.status === 404) {
    note(el.ratingError, "ticket.not_found");
    return;
  }
  note(el.ratingError, "ticket.failed", { status: response.status });
}
