// The hall as a place: the five service areas of the online social-insurance hall drawn in
// perspective on one SVG (no WebGL, no images: a floor, walls, counters, kiosks, benches, a
// notice board and a hanging sign over each area), and a visitor who walks it with the arrow keys
// or WASD (when the scene has the focus), walks to where the citizen clicks, or goes straight to
// an area from the function menu. Arriving at an area is reported to `onArrive(areaId, how)`.
//
// The scene is a pinhole camera over a floor 20 m wide (x −10…10) and 20 m deep (z 0…20, the
// entrance at z 0): every point is projected by `project`, and a click on the floor is mapped back
// by `unproject`. Painter's order (far to near) is enough: nothing in the hall overlaps in depth.

/** The SVG namespace (a name, never fetched; spelled in two parts so the page holds no URL). */
const SVG_NS = "http" + "://www.w3.org/2000/svg";

/** The picture's coordinate system (the SVG viewBox). */
const VIEW = { width: 1000, height: 580 };
/** Camera: height, distance behind the entrance, downward pitch, focal length, principal row. */
const CAMERA = { height: 12, back: 9, pitch: (32 * Math.PI) / 180, focal: 640, cx: 500, cy: 290 };
const SIN = Math.sin(CAMERA.pitch);
const COS = Math.cos(CAMERA.pitch);
/** The floor the visitor may walk on (a little inside the walls). */
const WALK = { minX: -9.5, maxX: 9.5, minZ: 0.3, maxZ: 19.5 };
/** The entrance, where the visitor starts. */
export const ENTRANCE = { x: 0, z: 0.6 };
/** Metres per key press (a held key repeats at the keyboard's rate with the shorter step). */
const STEP = 0.6;
const REPEAT_STEP = 0.3;
/** Walking speed for a click or a menu choice, in metres per second. */
const SPEED = 14;

/**
 * The areas on the floor: `rect` [x0, z0, x1, z1] in metres (being inside it is being there),
 * `spot` where the visitor stands on arrival, `tint` the floor colour. Ids are the catalogue's
 * area ids.
 */
export const AREAS = [
  { id: "guidance", rect: [-3.5, 1.6, 3.5, 7], spot: { x: 0, z: 3 }, tint: "#dce8f5" },
  { id: "counter", rect: [-5, 12.5, 5, 20], spot: { x: 0, z: 13.5 }, tint: "#dfecec" },
  { id: "self_service", rect: [-10, 9, -5.5, 18], spot: { x: -6.8, z: 12.5 }, tint: "#e3eee0" },
  { id: "announcements", rect: [5.5, 5, 10, 17], spot: { x: 7, z: 10.5 }, tint: "#f4ecd9" },
  { id: "rest", rect: [-10, 0.3, -5.5, 7], spot: { x: -7.2, z: 4.2 }, tint: "#efe5ec" },
];

/** The area at floor point `p`, or null (the open floor). */
export function areaAt(p) {
  return AREAS.find(({ rect: [x0, z0, x1, z1] }) => p.x >= x0 && p.x <= x1 && p.z >= z0 && p.z <= z1) ?? null;
}

/** A point of the hall (x across, y up, z in) → [sx, sy, depth] in the picture. */
export function project(x, y, z) {
  const w = z + CAMERA.back;
  const h = y - CAMERA.height;
  const depth = -h * SIN + w * COS;
  const up = h * COS + w * SIN;
  return [CAMERA.cx + (CAMERA.focal * x) / depth, CAMERA.cy - (CAMERA.focal * up) / depth, depth];
}

/** A point of the picture → the floor point under it, or null above the horizon. */
export function unproject(sx, sy) {
  const a = (CAMERA.cy - sy) / CAMERA.focal;
  const denominator = SIN - a * COS;
  if (denominator <= 0) return null;
  // On the floor (y = 0): solve up/depth = a for w = z + back.
  const w = (CAMERA.height * (COS + a * SIN)) / denominator;
  const depth = CAMERA.height * SIN + w * COS;
  return { x: ((sx - CAMERA.cx) * depth) / CAMERA.focal, z: w - CAMERA.back };
}

function clampToFloor(p) {
  return {
    x: Math.min(WALK.maxX, Math.max(WALK.minX, p.x)),
    z: Math.min(WALK.maxZ, Math.max(WALK.minZ, p.z)),
  };
}

function el(name, attrs = {}, parent = null) {
  const node = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  parent?.append(node);
  return node;
}

const points = (list) => list.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" ");

/** A flat quad of four 3D corners. */
function quad(corners, attrs, parent) {
  return el("polygon", { points: points(corners.map(([x, y, z]) => project(x, y, z))), ...attrs }, parent);
}

/** A box standing on the floor: the faces a camera in front of it sees. */
function box([x0, z0, x1, z1], height, colors, parent, attrs = {}) {
  const g = el("g", attrs, parent);
  quad([[x0, height, z0], [x1, height, z0], [x1, height, z1], [x0, height, z1]], { fill: colors.top }, g);
  // The side that faces the middle of the hall is visible.
  if (x0 > 0) quad([[x0, 0, z0], [x0, 0, z1], [x0, height, z1], [x0, height, z0]], { fill: colors.side }, g);
  if (x1 < 0) quad([[x1, 0, z0], [x1, 0, z1], [x1, height, z1], [x1, height, z0]], { fill: colors.side }, g);
  quad([[x0, 0, z0], [x1, 0, z0], [x1, height, z0], [x0, height, z0]], { fill: colors.front }, g);
  return g;
}

/** `text` split at the space nearest its middle, or null when it has no space. */
function splitInTwo(text) {
  const middle = text.length / 2;
  let best = -1;
  for (let i = text.indexOf(" "); i !== -1; i = text.indexOf(" ", i + 1)) {
    if (best === -1 || Math.abs(i - middle) < Math.abs(best - middle)) best = i;
  }
  return best === -1 ? null : [text.slice(0, best), text.slice(best + 1)];
}

/** Text standing upright at a 3D point, sized in metres. */
function label(text, [x, y, z], size, attrs, parent) {
  const [sx, sy, depth] = project(x, y, z);
  const node = el(
    "text",
    { x: sx.toFixed(1), y: sy.toFixed(1), "font-size": ((CAMERA.focal * size) / depth).toFixed(1), "text-anchor": "middle", "dominant-baseline": "central", ...attrs },
    parent,
  );
  node.textContent = text;
  return node;
}

/**
 * The hall. `container` gets the SVG; `names(areaId)` is an area's name in the current language
 * and `hallName` the title on the back wall. `onArrive(areaId, how)` runs when the visitor enters
 * an area (`how`: "walk", "click" or "menu"); `onMove(point)` after every move.
 */
export class HallScene {
  constructor(container, { names, hallName, onArrive, onMove = () => {} }) {
    this.container = container;
    this.names = names;
    this.hallName = hallName;
    this.onArrive = onArrive;
    this.onMove = onMove;
    this.position = { ...ENTRANCE };
    this.area = null;
    this.walk = null;
    /** The area a walk started by goTo is heading for, until the visitor gets there. */
    this.target = null;
    this.reducedMotion = window.matchMedia?.("(prefers-reduced-motion: reduce)") ?? { matches: false };

    this.svg = el("svg", {
      viewBox: `0 0 ${VIEW.width} ${VIEW.height}`,
      class: "hall-svg",
      "aria-hidden": "true",
      focusable: "false",
    });
    this.world = el("g", { class: "hall-world" }, this.svg);
    this.visitor = el("g", { class: "visitor", "data-testid": "visitor" }, this.svg);
    container.append(this.svg);
    this.draw();
    this.drawVisitor();

    container.addEventListener("keydown", (event) => this.onKey(event));
    this.svg.addEventListener("click", (event) => this.onClick(event));
  }

  /** Redraws the hall (after a language change). */
  draw() {
    const g = this.world;
    g.replaceChildren();
    // Walls: back, left, right; a blue band at the top like the hall's fascia.
    quad([[-10, 0, 20], [10, 0, 20], [10, 6, 20], [-10, 6, 20]], { class: "wall wall-back" }, g);
    quad([[-10, 0, 0], [-10, 0, 20], [-10, 6, 20], [-10, 6, 0]], { class: "wall wall-side" }, g);
    quad([[10, 0, 0], [10, 0, 20], [10, 6, 20], [10, 6, 0]], { class: "wall wall-side" }, g);
    quad([[-10, 5, 20], [10, 5, 20], [10, 6, 20], [-10, 6, 20]], { class: "fascia" }, g);
    label(this.hallName(), [0, 5.5, 20], 0.62, { class: "fascia-text" }, g);
    // The floor and its tiles.
    quad([[-10, 0, 0], [10, 0, 0], [10, 0, 20], [-10, 0, 20]], { class: "floor", "data-floor": "" }, g);
    const tiles = el("g", { class: "tiles" }, g);
    for (let x = -8; x <= 8; x += 2) {
      const [a, b] = [project(x, 0, 0), project(x, 0, 20)];
      el("line", { x1: a[0], y1: a[1], x2: b[0], y2: b[1] }, tiles);
    }
    for (let z = 2; z < 20; z += 2) {
      const [a, b] = [project(-10, 0, z), project(10, 0, z)];
      el("line", { x1: a[0], y1: a[1], x2: b[0], y2: b[1] }, tiles);
    }
    // The entrance mat.
    quad([[-1.5, 0.01, 0], [1.5, 0.01, 0], [1.5, 0.01, 1], [-1.5, 0.01, 1]], { class: "mat" }, g);

    // Each area: its floor, its furniture, its hanging sign — one clickable group.
    this.areaGroups = new Map();
    const byDepth = [...AREAS].sort((a, b) => b.rect[3] - a.rect[3]);
    for (const area of byDepth) {
      const [x0, z0, x1, z1] = area.rect;
      const group = el("g", { class: "area", "data-area": area.id }, g);
      quad([[x0, 0.02, z0], [x1, 0.02, z0], [x1, 0.02, z1], [x0, 0.02, z1]], { class: "area-floor", fill: area.tint }, group);
      this.furniture(area.id, group);
      this.sign(area, group);
      this.areaGroups.set(area.id, group);
    }
    this.markCurrent();
  }

  furniture(id, g) {
    const desk = { top: "#f7f3ea", front: "#c9b48a", side: "#b59f74" };
    const grey = { top: "#eceff2", front: "#9aa6b2", side: "#87939f" };
    if (id === "counter") {
      // A glass partition with numbered windows behind the long desk.
      quad([[-4.5, 1.1, 17.4], [4.5, 1.1, 17.4], [4.5, 2.6, 17.4], [-4.5, 2.6, 17.4]], { class: "glass" }, g);
      box([-4.5, 16, 4.5, 17], 1.1, desk, g);
      for (let i = 0; i < 4; i++) {
        const x = -3.4 + i * 2.27;
        // The window's number on the glass, below the area's sign.
        quad([[x - 0.45, 1.95, 17.35], [x + 0.45, 1.95, 17.35], [x + 0.45, 2.5, 17.35], [x - 0.45, 2.5, 17.35]], { class: "window-plate" }, g);
        label(String(i + 1), [x, 2.22, 17.35], 0.42, { class: "window-number" }, g);
        box([x - 0.3, 14.6, x + 0.3, 15.1], 0.5, grey, g);
      }
    } else if (id === "guidance") {
      box([-1.6, 4.6, 1.6, 5.5], 1.05, desk, g);
      quad([[-0.6, 1.05, 5.05], [0.6, 1.05, 5.05], [0.6, 1.5, 5.05], [-0.6, 1.5, 5.05]], { class: "screen" }, g);
    } else if (id === "self_service") {
      for (const z of [15.5, 13, 10.5]) {
        box([-9.4, z, -8.6, z + 0.7], 1.5, grey, g);
        quad([[-8.6, 1.0, z + 0.05], [-8.6, 1.0, z + 0.65], [-8.6, 1.45, z + 0.65], [-8.6, 1.45, z + 0.05]], { class: "screen" }, g);
      }
    } else if (id === "announcements") {
      // A notice board on the right wall, and a standing screen.
      quad([[9.95, 1.0, 7], [9.95, 1.0, 15], [9.95, 3.8, 15], [9.95, 3.8, 7]], { class: "board" }, g);
      for (let i = 0; i < 5; i++) {
        const y = 3.3 - i * 0.5;
        quad([[9.9, y, 7.8], [9.9, y, 14.2 - (i % 2) * 2], [9.9, y - 0.18, 14.2 - (i % 2) * 2], [9.9, y - 0.18, 7.8]], { class: "board-line" }, g);
      }
    } else if (id === "rest") {
      const bench = { top: "#d9cdb8", front: "#a8957a", side: "#8f7d63" };
      box([-9.4, 5, -6.6, 5.6], 0.45, bench, g);
      box([-9.4, 2.4, -6.6, 3], 0.45, bench, g);
      const [px, py, depth] = project(-9.3, 0.9, 6.6);
      el("circle", { cx: px, cy: py, r: ((CAMERA.focal * 0.45) / depth).toFixed(1), class: "plant" }, g);
    }
  }

  /** A sign hanging over the area's spot, facing the entrance, with the area's name. */
  sign(area, g) {
    const { x, z } = area.spot;
    const zs = Math.min(area.rect[3] - 0.5, z + 2.5);
    const width = area.id === "counter" ? 5.5 : 4;
    // Signs near the entrance hang lower, so they do not cover the areas behind them.
    // The counter's hangs higher, clear of the numbered windows behind it.
    const [y0, y1] = area.rect[1] < 5 ? [2.2, 3.1] : area.id === "counter" ? [3.7, 4.75] : [3.5, 4.6];
    quad([[x - width / 2, y0, zs], [x + width / 2, y0, zs], [x + width / 2, y1, zs], [x - width / 2, y1, zs]], { class: "sign" }, g);
    const name = this.names(area.id);
    // The letter fills the sign: a Chinese character is about one em wide, a Latin letter half.
    const emsOf = (text) => [...text].reduce((sum, c) => sum + (c.charCodeAt(0) > 0x2e80 ? 1 : 0.62), 0);
    const height = y1 - y0;
    const size = Math.min(height * 0.62, (width * 0.9) / Math.max(1, emsOf(name)));
    const lines = size < height * 0.36 ? splitInTwo(name) : null;
    if (!lines) {
      label(name, [x, (y0 + y1) / 2, zs], size, { class: "sign-text" }, g);
      return;
    }
    // A long name (Spanish, English) goes on two lines rather than in tiny letters.
    const twoSize = Math.min(height * 0.38, (width * 0.9) / Math.max(1, ...lines.map(emsOf)));
    lines.forEach((line, i) => {
      label(line, [x, y1 - height * (i === 0 ? 0.3 : 0.72), zs], twoSize, { class: "sign-text" }, g);
    });
  }

  drawVisitor() {
    const { x, z } = this.position;
    const g = this.visitor;
    g.replaceChildren();
    const [fx, fy, depth] = project(x, 0, z);
    const unit = CAMERA.focal / depth;
    el("ellipse", { cx: fx, cy: fy, rx: (0.45 * unit).toFixed(1), ry: (0.18 * unit).toFixed(1), class: "visitor-shadow" }, g);
    const [, by] = project(x, 1.3, z);
    el("rect", { x: (fx - 0.28 * unit).toFixed(1), y: by.toFixed(1), width: (0.56 * unit).toFixed(1), height: (fy - by).toFixed(1), rx: (0.2 * unit).toFixed(1), class: "visitor-body" }, g);
    const [, hy] = project(x, 1.6, z);
    el("circle", { cx: fx, cy: hy, r: (0.24 * unit).toFixed(1), class: "visitor-head" }, g);
    g.dataset.x = x.toFixed(2);
    g.dataset.z = z.toFixed(2);
  }

  markCurrent() {
    for (const [id, group] of this.areaGroups ?? []) group.classList.toggle("current", id === this.area);
  }

  /** Moves the visitor to `p` at once and reports an arrival. */
  place(p, how) {
    this.position = clampToFloor(p);
    this.drawVisitor();
    const area = areaAt(this.position);
    if (area && area.id !== this.area) {
      this.area = area.id;
      this.markCurrent();
      this.onArrive(area.id, how);
    } else if (!area && this.area) {
      // Left the area for the open floor: the area stays the last one visited, unmarked.
      this.area = null;
      this.markCurrent();
    }
    this.onMove(this.position, this.area);
  }

  /** Walks to `target` (animated unless the citizen prefers less motion); `then` on arrival. */
  walkTo(target, how, then = null) {
    cancelAnimationFrame(this.walk);
    this.walk = null;
    this.target = null;
    const to = clampToFloor(target);
    const from = { ...this.position };
    const distance = Math.hypot(to.x - from.x, to.z - from.z);
    const duration = Math.min(900, (distance / SPEED) * 1000);
    if (this.reducedMotion.matches || duration < 16) {
      this.place(to, how);
      then?.();
      return;
    }
    const start = performance.now();
    const stepFrame = (now) => {
      const k = Math.min(1, (now - start) / duration);
      const ease = k < 0.5 ? 2 * k * k : 1 - (-2 * k + 2) ** 2 / 2;
      this.position = { x: from.x + (to.x - from.x) * ease, z: from.z + (to.z - from.z) * ease };
      this.drawVisitor();
      if (k < 1) {
        this.walk = requestAnimationFrame(stepFrame);
      } else {
        this.walk = null;
        this.target = null;
        this.place(to, how);
        then?.();
      }
    };
    this.walk = requestAnimationFrame(stepFrame);
  }

  /** Goes to an area's spot (the function menu, a link). */
  goTo(areaId, how = "menu", then = null) {
    const area = AREAS.find((a) => a.id === areaId);
    if (!area) return;
    if (this.area === areaId) {
      // Already there: report it again (the menu shows the panel).
      this.onArrive(areaId, how);
      then?.();
      return;
    }
    // Arriving is the spot's area, whatever the path crosses on the way.
    this.walkTo(area.spot, how, then);
    // Still walking: the area the visitor is heading for (the line under the scene names it).
    if (this.walk) this.target = areaId;
  }

  onKey(event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const moves = {
      ArrowUp: [0, 1], KeyW: [0, 1],
      ArrowDown: [0, -1], KeyS: [0, -1],
      ArrowLeft: [-1, 0], KeyA: [-1, 0],
      ArrowRight: [1, 0], KeyD: [1, 0],
    };
    const move = moves[event.code] ?? moves[event.key];
    if (!move) return;
    event.preventDefault();
    if (this.walk) {
      cancelAnimationFrame(this.walk);
      this.walk = null;
      this.target = null;
    }
    const step = event.repeat ? REPEAT_STEP : STEP;
    this.place({ x: this.position.x + move[0] * step, z: this.position.z + move[1] * step }, "walk");
  }

  onClick(event) {
    const group = event.target.closest?.("g.area[data-area]");
    if (group) {
      this.goTo(group.dataset.area, "click");
      return;
    }
    const matrix = this.svg.getScreenCTM();
    if (!matrix) return;
    const point = new DOMPoint(event.clientX, event.clientY).matrixTransform(matrix.inverse());
    const floor = unproject(point.x, point.y);
    if (floor) this.walkTo(floor, "click");
  }
}
