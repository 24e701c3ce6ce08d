// The hall around the call: the function menu, the scene (or the plain list), one panel per area
// with its services and what can be done there, the announcements, the rest area's view of the
// wait, and the live line that says where the citizen is. hall.js owns the call; it gives this
// module two callbacks (call about a service, ask the assistant) and tells it the call's phase.
import { currentLang, formatDate, formatHours, getCatalogue, localName, t } from "./common.js";
import { AREAS, HallScene } from "./hall-scene.js";

const VIEW_KEY = "voicedesk.hall_view";
/** Below this width the hall opens as the list (the scene stays one click away). */
const NARROW = "(max-width: 40rem)";

const $ = (id) => document.getElementById(id);

/** An area's name: the catalogue's when it has the area, else ours. */
export function areaName(id) {
  const entry = getCatalogue().areas.find((a) => a.id === id);
  const name = entry && localName(entry);
  return name || t(`area.name.${id}`);
}

function loadView() {
  try {
    const stored = localStorage.getItem(VIEW_KEY);
    if (stored === "list" || stored === "scene") return stored;
  } catch {
    // No storage: decide by the screen.
  }
  return window.matchMedia?.(NARROW).matches ? "list" : "scene";
}

function storeView(view) {
  try {
    localStorage.setItem(VIEW_KEY, view);
  } catch {
    // Not remembered.
  }
}

/**
 * Sets the hall up. `onCallService(serviceId)` starts a call about a service; `onAsk(serviceId)`
 * opens the assistant (with a question about the service when given); `onLeaveMessage()` brings
 * the message form forward; `onChange()` runs after the hall changed by itself (a panel hidden
 * for the queue, a re-render), so hall.js can keep the focus in reach. Returns the hall's handle
 * for hall.js.
 */
export function setupHall({ onCallService, onChatService, onAsk, onLeaveMessage, onChange = () => {} }) {
  const el = {
    menu: $("hall-menu"),
    toggle: $("view-toggle"),
    stage: $("hall-stage"),
    scene: $("hall-scene"),
    where: $("scene-where"),
    announcer: $("hall-announcer"),
    panels: [...document.querySelectorAll(".area-panel[data-area]")],
    annList: $("announcement-list"),
    annStatus: $("announcement-status"),
    rest: {
      idle: $("rest-idle"),
      waiting: $("rest-waiting"),
      connected: $("rest-connected"),
      position: $("rest-position"),
      eta: $("rest-eta"),
    },
  };
  const state = {
    view: loadView(),
    area: null,
    announcements: null,
    annError: false,
    wait: { phase: "idle", position: null, minutes: null },
    // The list view's open panels: on a phone they start folded (heading and one line each),
    // on a wider screen open; the menu, the queue and "ask the assistant" open the one they go to.
    open: new Set(window.matchMedia?.(NARROW).matches ? [] : el.panels.map((p) => p.dataset.area)),
  };
  for (const panel of el.panels) foldable(panel);

  const scene = new HallScene(el.scene, {
    names: areaName,
    hallName: () => t("hall.scene_title"),
    onArrive: (id, how) => arrive(id, how),
    onMove: (point, area) => {
      // Where the visitor stands, for styling and tests.
      el.scene.dataset.x = point.x.toFixed(2);
      el.scene.dataset.z = point.z.toFixed(2);
      el.scene.dataset.area = area ?? "";
      renderWhere();
    },
  });

  el.scene.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && state.area) {
      event.preventDefault();
      focusPanel(state.area);
    }
  });

  el.menu.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-area]");
    if (button) goTo(button.dataset.area, { focus: true });
  });
  el.toggle.addEventListener("click", () => {
    setView(state.view === "list" ? "scene" : "list");
    storeView(state.view);
  });
  // Links inside the panels: go to an area, call about a service, ask about it.
  document.addEventListener("click", (event) => {
    const target = event.target.closest?.("[data-goto], [data-call], [data-chat], [data-ask], [data-leave-message]");
    if (!target) return;
    if (target.dataset.goto) goTo(target.dataset.goto, { focus: true });
    else if (target.dataset.call !== undefined) onCallService(target.dataset.call || null);
    else if (target.dataset.chat !== undefined) onChatService(target.dataset.chat || null);
    else if (target.dataset.ask !== undefined) onAsk(target.dataset.ask || null);
    else onLeaveMessage();
  });

  setView(state.view);
  render();
  // Everyone starts at the entrance, in front of the guidance desk: its panel is open.
  showPanel("guidance");
  renderWhere();
  loadAnnouncements();

  function setView(view) {
    state.view = view;
    document.body.dataset.view = view;
    el.stage.hidden = view === "list";
    el.toggle.dataset.i18n = view === "list" ? "hall.view_to_scene" : "hall.view_to_list";
    el.toggle.textContent = t(el.toggle.dataset.i18n);
    showPanel(state.area ?? "guidance");
  }

  /**
   * Makes a panel foldable in the list view: its heading holds a disclosure button (the area's
   * name, `aria-expanded`) that shows or hides everything below the one-line intro. In the
   * scene the heading is plain text and the panel always whole.
   */
  function foldable(panel) {
    const id = panel.dataset.area;
    const heading = $(`area-${id}-heading`);
    const intro = heading.nextElementSibling;
    const body = document.createElement("div");
    body.className = "area-body";
    body.id = `area-${id}-body`;
    while (intro.nextSibling) body.append(intro.nextSibling);
    panel.append(body);
    const title = document.createElement("span");
    title.className = "area-title";
    title.textContent = heading.textContent.trim();
    const toggle = document.createElement("button");
    toggle.type = "button";
    toggle.className = "area-toggle";
    toggle.dataset.testid = `area-${id}-toggle`;
    toggle.setAttribute("aria-controls", body.id);
    const label = title.cloneNode(true);
    const icon = document.createElement("span");
    icon.className = "area-toggle-icon";
    icon.setAttribute("aria-hidden", "true");
    toggle.append(label, icon);
    heading.replaceChildren(title, toggle);
    toggle.addEventListener("click", () => {
      if (state.open.has(id)) state.open.delete(id);
      else state.open.add(id);
      renderFolds();
    });
  }

  function renderFolds() {
    const list = state.view === "list";
    for (const panel of el.panels) {
      const id = panel.dataset.area;
      const open = !list || state.open.has(id);
      const toggle = panel.querySelector(".area-toggle");
      panel.querySelector(".area-body").hidden = !open;
      panel.dataset.open = String(open);
      toggle.hidden = !list;
      toggle.setAttribute("aria-expanded", String(open));
      panel.querySelector("h2 > .area-title").hidden = list;
    }
  }

  /** The visitor entered an area (walking, clicking, the menu, or moved for the queue). */
  function arrive(id, how) {
    showPanel(id);
    renderWhere();
    if (how !== "auto") announce(t("hall.arrived", { area: areaName(id) }));
  }

  /** In the scene only the current area's panel shows; the list shows them all. */
  function showPanel(id) {
    state.area = id;
    for (const panel of el.panels) {
      const current = panel.dataset.area === id;
      panel.classList.toggle("current", current);
      panel.hidden = state.view === "scene" && !current;
    }
    for (const button of el.menu.querySelectorAll("button[data-area]")) {
      if (button.dataset.area === id && state.view === "scene") button.setAttribute("aria-current", "location");
      else button.removeAttribute("aria-current");
    }
    renderFolds();
  }

  function renderWhere() {
    // A walk to an area names it from the start: the panel shows as the walk begins.
    const area = scene.target ?? scene.area;
    el.where.textContent = area ? t("hall.you_are_at", { area: areaName(area) }) : t("hall.on_floor");
  }

  function focusPanel(id) {
    const heading = $(`area-${id}-heading`);
    heading?.focus({ preventScroll: true });
    heading?.closest(".area-panel")?.scrollIntoView({ block: "start", behavior: motion() });
  }

  function motion() {
    return window.matchMedia?.("(prefers-reduced-motion: reduce)").matches ? "auto" : "smooth";
  }

  /** Goes to an area: walks there in the scene, scrolls to it in the list. */
  function goTo(id, { focus = false, how = "menu" } = {}) {
    if (state.view === "list") {
      state.open.add(id);
      showPanel(id);
      if (how !== "auto") announce(t("hall.arrived", { area: areaName(id) }));
      if (focus) focusPanel(id);
      return;
    }
    // The panel opens at once; the visitor walks there.
    showPanel(id);
    if (focus) focusPanel(id);
    scene.goTo(id, how);
    renderWhere();
  }

  /** The polite live line: where the citizen arrived. Cleared first so a repeat is read again. */
  function announce(text) {
    el.announcer.textContent = "";
    requestAnimationFrame(() => {
      el.announcer.textContent = text;
    });
  }

  /** Everything that follows the language or the catalogue. */
  function render() {
    scene.draw();
    renderWhere();
    for (const button of el.menu.querySelectorAll("button[data-area]")) {
      button.querySelector(".menu-name").textContent = areaName(button.dataset.area);
    }
    for (const panel of el.panels) {
      const id = panel.dataset.area;
      for (const title of $(`area-${id}-heading`).querySelectorAll(".area-title")) title.textContent = areaName(id);
      renderServices(id, panel.querySelector("[data-area-services]"));
    }
    renderDirectory();
    renderAnnouncements();
    renderWait();
    el.toggle.textContent = t(el.toggle.dataset.i18n);
    onChange();
  }

  function renderDirectory() {
    const list = $("area-directory");
    if (!list) return;
    list.replaceChildren(
      ...AREAS.filter((a) => a.id !== "guidance").map(({ id }) => {
        const item = document.createElement("li");
        const name = document.createElement("strong");
        name.textContent = areaName(id);
        const what = document.createElement("span");
        what.textContent = t(`area.intro.${id}`);
        const go = document.createElement("button");
        go.type = "button";
        go.className = "link";
        go.dataset.goto = id;
        go.textContent = t("area.go_label", { area: areaName(id) });
        const text = document.createElement("span");
        text.className = "directory-text";
        text.append(name, " ", what);
        item.append(text, go);
        return item;
      }),
    );
  }

  /** An area's services: name, hours, and what to do (call; at self-service also ask). */
  function renderServices(areaId, container) {
    if (!container) return;
    const { services, skills } = getCatalogue();
    const mine = services.filter((s) => s.area === areaId);
    if (!mine.length) {
      const p = document.createElement("p");
      p.className = "hint";
      p.textContent = getCatalogue().loaded ? t("area.no_services") : t("hall.loading_services");
      container.replaceChildren(p);
      return;
    }
    // The counter's many services are grouped by their queue (pension, medical, …).
    const groups = new Map();
    for (const service of mine) {
      const key = areaId === "counter" ? service.skill_id : "";
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(service);
    }
    // Groups keep their open/closed state across re-renders (a language switch).
    const open = new Set([...container.querySelectorAll("details[open]")].map((d) => d.dataset.skill));
    const nodes = [];
    for (const [skillId, list] of groups) {
      const skill = skills.find((k) => k.id === skillId);
      const ul = document.createElement("ul");
      ul.className = "service-list";
      for (const service of list) ul.append(serviceItem(areaId, service, skills));
      if (!skill) {
        nodes.push(ul);
        continue;
      }
      // Collapsed by queue, so the counter's thirty services fit a phone.
      const details = document.createElement("details");
      details.className = "service-group";
      details.dataset.skill = skillId;
      details.open = open.has(skillId);
      const summary = document.createElement("summary");
      summary.textContent = t("area.group", { name: localName(skill), count: list.length });
      details.append(summary, ul);
      nodes.push(details);
    }
    // The focus stays on the same control when the list is drawn again (a language switch).
    const focused = container.contains(document.activeElement) ? document.activeElement : null;
    container.replaceChildren(...nodes);
    if (focused) {
      const again = focused.dataset.call !== undefined
        ? container.querySelector(`[data-call="${focused.dataset.call}"]`)
        : focused.dataset.chat !== undefined
        ? container.querySelector(`[data-chat="${focused.dataset.chat}"]`)
        : focused.dataset.ask !== undefined
          ? container.querySelector(`[data-ask="${focused.dataset.ask}"]`)
          : focused.closest("details")
            ? container.querySelector(`details[data-skill="${focused.closest("details").dataset.skill}"] > summary`)
            : null;
      again?.focus({ preventScroll: true });
    }
  }

  function serviceItem(areaId, service, skills) {
    const item = document.createElement("li");
    item.className = "service-item";
    item.dataset.service = service.id;
    const text = document.createElement("div");
    text.className = "service-text";
    const name = document.createElement("span");
    name.className = "service-name";
    name.textContent = localName(service);
    text.append(name);
    const skill = skills.find((k) => k.id === service.skill_id);
    if (skill) {
      const hours = document.createElement("span");
      hours.className = "service-hours";
      hours.dataset.open = String(Boolean(skill.open_now));
      hours.textContent = t(skill.open_now ? "area.hours_open" : "area.hours_closed", { hours: formatHours(skill.hours) });
      text.append(hours);
    }
    const actions = document.createElement("div");
    actions.className = "service-actions";
    if (areaId === "self_service") {
      const ask = document.createElement("button");
      ask.type = "button";
      ask.dataset.ask = service.id;
      ask.textContent = t("area.ask");
      ask.setAttribute("aria-label", t("area.ask_label", { service: localName(service) }));
      actions.append(ask);
    }
    const call = document.createElement("button");
    call.type = "button";
    call.className = "primary";
    call.dataset.call = service.id;
    call.dataset.testid = "call-service";
    call.textContent = t("area.call");
    call.setAttribute("aria-label", t("area.call_label", { service: localName(service) }));
    const chat = document.createElement("button");
    chat.type = "button";
    chat.dataset.chat = service.id;
    chat.dataset.testid = "chat-service";
    chat.textContent = t("area.chat");
    chat.setAttribute("aria-label", t("area.chat_label", { service: localName(service) }));
    actions.append(call, chat);
    item.append(text, actions);
    return item;
  }

  // --- Announcements ----------------------------------------------------------------------------

  async function loadAnnouncements() {
    if (!el.annList) return;
    el.annStatus.textContent = t("ann.loading");
    try {
      const response = await fetch("/api/announcements", { headers: { accept: "application/json" } });
      if (response.status === 404) {
        // Not offered by this server (yet): nothing to read, not an error.
        state.announcements = [];
      } else if (response.ok) {
        const body = await response.json();
        state.announcements = Array.isArray(body) ? body : (body.announcements ?? []);
      } else {
        state.annError = true;
      }
    } catch (error) {
      console.warn("voicedesk: announcements unavailable", error);
      state.annError = true;
    }
    renderAnnouncements();
  }

  function localField(entry, field) {
    const lang = currentLang();
    const key = lang === "zh-CN" ? "zh" : lang;
    return entry[`${field}_${key}`] || entry[`${field}_en`] || entry[`${field}_zh`] || "";
  }

  function renderAnnouncements() {
    if (!el.annList) return;
    if (state.annError) {
      el.annStatus.textContent = t("ann.unavailable");
      el.annList.replaceChildren();
      return;
    }
    if (!state.announcements) return;
    const now = Date.now();
    const shown = state.announcements
      .filter((a) => !a.expires_at_ms || a.expires_at_ms > now)
      .sort((a, b) => Number(Boolean(b.pinned)) - Number(Boolean(a.pinned)) || (b.published_at_ms ?? 0) - (a.published_at_ms ?? 0));
    el.annStatus.textContent = shown.length ? "" : t("ann.none");
    el.annList.replaceChildren(
      ...shown.map((a) => {
        const item = document.createElement("li");
        item.className = "announcement";
        item.dataset.id = String(a.id);
        if (a.pinned) item.dataset.pinned = "true";
        const article = document.createElement("article");
        const h = document.createElement("h4");
        h.textContent = localField(a, "title");
        if (a.pinned) {
          const badge = document.createElement("span");
          badge.className = "badge";
          badge.textContent = t("ann.pinned");
          h.append(" ", badge);
        }
        const meta = document.createElement("p");
        meta.className = "hint";
        const parts = [];
        if (a.published_at_ms) parts.push(t("ann.published", { date: formatDate(a.published_at_ms) }));
        if (a.expires_at_ms) parts.push(t("ann.expires", { date: formatDate(a.expires_at_ms) }));
        meta.textContent = parts.join(" · ");
        const body = document.createElement("div");
        body.className = "announcement-body";
        for (const paragraph of localField(a, "body").split(/\n+/).filter(Boolean)) {
          const p = document.createElement("p");
          p.textContent = paragraph;
          body.append(p);
        }
        article.append(h, meta, body);
        item.append(article);
        return item;
      }),
    );
  }

  // --- The wait, seen from the rest area --------------------------------------------------------

  function renderWait() {
    const { phase, position, minutes } = state.wait;
    const waiting = phase === "queued";
    el.rest.idle.hidden = waiting || phase === "connected";
    el.rest.waiting.hidden = !waiting;
    el.rest.connected.hidden = phase !== "connected";
    el.rest.position.hidden = position == null;
    if (position != null) el.rest.position.textContent = t("rest.position", { position });
    // No estimate while queued: nobody staffs the queue right now (every agent is away).
    const noAgent = waiting && position != null && minutes == null;
    el.rest.eta.hidden = minutes == null && !noAgent;
    el.rest.eta.dataset.noAgent = String(noAgent);
    if (minutes != null) el.rest.eta.textContent = t("rest.eta", { minutes });
    else if (noAgent) el.rest.eta.textContent = t("rest.no_agent");
  }

  return {
    render,
    goTo,
    get area() {
      return state.area;
    },
    get view() {
      return state.view;
    },
    /** The call's phase and, while queued, the place and the estimate (minutes). Entering the
     * queue takes the visitor to the rest area (without moving the focus). */
    setWait(phase, position = null, minutes = null) {
      // Entering the queue — or a call taken back after a reload, which starts connected —
      // takes the visitor to the rest area: the hall shows where the call is.
      const waiting = (p) => p === "queued" || p === "connected";
      const entering = waiting(phase) && !waiting(state.wait.phase);
      state.wait = { phase, position, minutes };
      renderWait();
      if (entering) goTo("rest", { how: "auto" });
      onChange();
    },
  };
}
