// Interim: the hall's new strings until they are merged into i18n/<lang>.json. `t` is common.js's
// `t` with a fallback to i18n/pending-hall.json ({ key: { lang: text } }).
import { currentLang, t as baseT } from "./common.js";

let pending = {};
try {
  const response = await fetch("/assets/i18n/pending-hall.json");
  if (response.ok) pending = await response.json();
} catch {
  pending = {};
}

export function t(key, params = {}) {
  const value = baseT(key, params);
  const entry = pending[key];
  if (value !== key || !entry) return value;
  const text = entry[currentLang()] ?? entry.en;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}
