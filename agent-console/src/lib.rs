//! The web front ends — the citizen's hall, the agent, staff and admin consoles — as static
//! assets compiled into the binary, so running the server needs no Node build and no asset
//! directory.
//!
//! The server maps its routes onto [`asset`]: `/` → `hall.html`, `/agent` → `agent.html`,
//! `/staff` → `staff.html`, `/admin` → `admin.html`, `/reports` → `reports.html`, `/ticket` → `ticket.html`, `/assets/<file>` → `<file>` (which may
//! name a file in a folder: `/assets/i18n/en.json` → `i18n/en.json`). The pages load only from their own origin (no inline scripts,
//! no external URLs), so a strict Content-Security-Policy fits them.

/// One embedded file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asset {
    /// The file's bytes, as committed under `agent-console/assets/`.
    pub body: &'static [u8],
    /// The `Content-Type` header to serve it with.
    pub content_type: &'static str,
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JSON: &str = "application/json; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// Every asset by file name. The browser tests and the unit tests below rely on this being the
/// complete list.
const ASSETS: &[(&str, Asset)] = &[
    ("hall.html", Asset { body: include_bytes!("../assets/hall.html"), content_type: HTML }),
    ("agent.html", Asset { body: include_bytes!("../assets/agent.html"), content_type: HTML }),
    ("staff.html", Asset { body: include_bytes!("../assets/staff.html"), content_type: HTML }),
    ("ticket.html", Asset { body: include_bytes!("../assets/ticket.html"), content_type: HTML }),
    ("admin.html", Asset { body: include_bytes!("../assets/admin.html"), content_type: HTML }),
    ("admin.js", Asset { body: include_bytes!("../assets/admin.js"), content_type: JS }),
    ("reports.html", Asset { body: include_bytes!("../assets/reports.html"), content_type: HTML }),
    ("reports.js", Asset { body: include_bytes!("../assets/reports.js"), content_type: JS }),
    ("password.js", Asset { body: include_bytes!("../assets/password.js"), content_type: JS }),
    ("common.js", Asset { body: include_bytes!("../assets/common.js"), content_type: JS }),
    ("console.js", Asset { body: include_bytes!("../assets/console.js"), content_type: JS }),
    (
        "console-care.js",
        Asset { body: include_bytes!("../assets/console-care.js"), content_type: JS },
    ),
    ("hall.js", Asset { body: include_bytes!("../assets/hall.js"), content_type: JS }),
    ("agent.js", Asset { body: include_bytes!("../assets/agent.js"), content_type: JS }),
    ("staff.js", Asset { body: include_bytes!("../assets/staff.js"), content_type: JS }),
    ("ticket.js", Asset { body: include_bytes!("../assets/ticket.js"), content_type: JS }),
    ("inbox.js", Asset { body: include_bytes!("../assets/inbox.js"), content_type: JS }),
    ("style.css", Asset { body: include_bytes!("../assets/style.css"), content_type: CSS }),
    ("hall.css", Asset { body: include_bytes!("../assets/hall.css"), content_type: CSS }),
    ("hall-scene.js", Asset { body: include_bytes!("../assets/hall-scene.js"), content_type: JS }),
    ("hall-areas.js", Asset { body: include_bytes!("../assets/hall-areas.js"), content_type: JS }),
    ("hall-chat.js", Asset { body: include_bytes!("../assets/hall-chat.js"), content_type: JS }),
    ("chat-log.js", Asset { body: include_bytes!("../assets/chat-log.js"), content_type: JS }),
    ("staff-chat.js", Asset { body: include_bytes!("../assets/staff-chat.js"), content_type: JS }),
    ("agent-chat.js", Asset { body: include_bytes!("../assets/agent-chat.js"), content_type: JS }),
    (
        "audio-controls.js",
        Asset { body: include_bytes!("../assets/audio-controls.js"), content_type: JS },
    ),
    (
        "i18n/zh-CN.json",
        Asset { body: include_bytes!("../assets/i18n/zh-CN.json"), content_type: JSON },
    ),
    ("favicon.svg", Asset { body: include_bytes!("../assets/favicon.svg"), content_type: SVG }),
    ("i18n/en.json", Asset { body: include_bytes!("../assets/i18n/en.json"), content_type: JSON }),
    ("i18n/es.json", Asset { body: include_bytes!("../assets/i18n/es.json"), content_type: JSON }),
];

/// The languages there is a string resource file (`i18n/<lang>.json`) for, as `LANGS` in
/// `common.js`.
pub const LANGS: &[&str] = &["zh-CN", "en", "es"];

/// The asset with this file name (`"hall.js"`, not `"/assets/hall.js"`), or `None`. Only exact
/// names match, so no request path can reach anything but the files listed here.
pub fn asset(path: &str) -> Option<Asset> {
    ASSETS.iter().find(|(name, _)| *name == path).map(|(_, asset)| *asset)
}

/// The names of all embedded assets, for listings and cache headers.
pub fn asset_names() -> impl Iterator<Item = &'static str> {
    ASSETS.iter().map(|(name, _)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(name: &str) -> &'static str {
        std::str::from_utf8(asset(name).expect(name).body).expect("assets are UTF-8")
    }

    #[test]
    fn pages_and_their_files_are_served_with_their_types() {
        assert_eq!(asset("hall.html").unwrap().content_type, HTML);
        assert_eq!(asset("agent.html").unwrap().content_type, HTML);
        assert_eq!(asset("staff.html").unwrap().content_type, HTML);
        assert_eq!(asset("common.js").unwrap().content_type, JS);
        assert_eq!(asset("staff.js").unwrap().content_type, JS);
        assert_eq!(asset("console.js").unwrap().content_type, JS);
        assert_eq!(asset("style.css").unwrap().content_type, CSS);
        assert_eq!(asset("i18n/es.json").unwrap().content_type, JSON);
        for name in asset_names() {
            assert!(!asset(name).unwrap().body.is_empty(), "{name} is empty");
        }
    }

    #[test]
    fn only_exact_names_resolve() {
        for path in [
            "",
            "/",
            "/hall.html",
            "assets/hall.js",
            "../Cargo.toml",
            "hall.js/",
            "HALL.HTML",
            "i18n",
            "i18n/",
            "/i18n/en.json",
            "i18n/../hall.js",
            "i18n/fr.json",
        ] {
            assert_eq!(asset(path), None, "{path:?}");
        }
    }

    /// Every `/assets/…` reference and every relative module import names an embedded file.
    #[test]
    fn every_reference_between_assets_resolves() {
        for name in asset_names() {
            let body = text(name);
            for (marker, end) in [("\"/assets/", '"'), ("from \"./", '"')] {
                for (at, _) in body.match_indices(marker) {
                    let rest = &body[at + marker.len()..];
                    let target = &rest[..rest.find(end).expect("closed quote")];
                    assert!(asset(target).is_some(), "{name} refers to missing {target}");
                }
            }
        }
    }

    /// CSP-friendly and offline: no inline script or handler, nothing from another origin.
    #[test]
    fn pages_load_nothing_inline_or_external() {
        for name in asset_names() {
            // An SVG's namespace name is a URL that nothing loads.
            let body = text(name).replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
            assert!(!body.contains("http://") && !body.contains("https://"), "{name} has a URL");
            if name.ends_with(".html") {
                for (at, _) in body.match_indices("<script") {
                    let tag = &body[at..at + body[at..].find('>').unwrap()];
                    assert!(tag.contains(" src="), "{name} has an inline script: {tag}");
                }
                assert!(!body.contains(" onclick=") && !body.contains(" onload="), "{name}");
                assert!(!body.contains(" style="), "{name} has an inline style");
            }
        }
    }

    /// The ids the browser tests and the server's routes depend on.
    #[test]
    fn pages_carry_the_ids_the_tests_use() {
        let hall = text("hall.html");
        for id in [
            "call-button",
            "hangup-button",
            "mute-button",
            "status",
            "service-select",
            "monitoring-notice",
            "error-message",
            "remote-audio-0",
            "remote-audio-1",
        ] {
            assert!(hall.contains(&format!("id=\"{id}\"")), "hall.html lacks #{id}");
        }
        let agent = text("agent.html");
        for id in [
            "login-username",
            "login-password",
            "login-submit",
            "login-error",
            "agent-state",
            "media-state",
            "available-button",
            "away-button",
            "incoming-call",
            "accept-button",
            "reject-button",
            "current-call",
            "hangup-button",
            "logout-button",
            "status",
            "remote-audio-0",
            "remote-audio-1",
            "support-indicator",
            "help-reason",
            "help-button",
            "cancel-help-button",
            "help-status",
        ] {
            assert!(agent.contains(&format!("id=\"{id}\"")), "agent.html lacks #{id}");
        }
        let staff = text("staff.html");
        for id in [
            "login-username",
            "login-password",
            "login-submit",
            "login-error",
            "logout-button",
            "status",
            "error-message",
            "media-state",
            "current-mode",
            "wallboard",
            "queue-table",
            "agents-table",
            "calls-table",
            "history-chart",
            "history-table",
            "help-requests",
            "audit-table",
            "remote-audio-0",
            "remote-audio-1",
        ] {
            assert!(staff.contains(&format!("id=\"{id}\"")), "staff.html lacks #{id}");
        }
        let ticket = text("ticket.html");
        for id in ["ticket-number", "ticket-code", "lookup-submit", "ticket-state", "ticket-reply"]
        {
            assert!(ticket.contains(&format!("id=\"{id}\"")), "ticket.html lacks #{id}");
        }
        for id in ["other-ways", "message-body", "voice-start", "assistant-log", "rating-form"] {
            assert!(hall.contains(&format!("id=\"{id}\"")), "hall.html lacks #{id}");
        }
        for page in [hall, agent, staff, ticket] {
            assert!(page.contains("<html lang=\"zh-CN\">"));
            assert!(page.contains("aria-live=\"polite\""));
        }
    }

    /// The value of `name="…"` inside one tag.
    fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
        let marker = format!(" {name}=\"");
        let start = tag.find(&marker)? + marker.len();
        Some(&tag[start..start + tag[start..].find('"')?])
    }

    /// An element with a `data-testid` has the same `id`, so tests can use either.
    #[test]
    fn test_ids_match_element_ids() {
        for name in asset_names().filter(|name| name.ends_with(".html")) {
            let body = text(name);
            let mut tagged = 0;
            for (at, _) in body.match_indices('<') {
                let tag = &body[at..at + body[at..].find('>').expect("closed tag")];
                let tag = tag.replace(['\n', '\r'], " ");
                if let Some(test_id) = attribute(&tag, "data-testid") {
                    assert_eq!(attribute(&tag, "id"), Some(test_id), "{name}: {tag}");
                    tagged += 1;
                }
            }
            assert!(tagged > 0, "{name} has no data-testid");
        }
    }

    /// One language's strings (`i18n/<lang>.json`): a flat object of texts.
    fn strings(lang: &str) -> std::collections::BTreeMap<String, String> {
        let name = format!("i18n/{lang}.json");
        serde_json::from_str(text(&name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// The `{param}` placeholders of a text, sorted.
    fn placeholders(text: &str) -> Vec<&str> {
        let mut names: Vec<&str> = text
            .match_indices('{')
            .filter_map(|(at, _)| {
                let rest = &text[at + 1..];
                let name = &rest[..rest.find('}')?];
                name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_').then_some(name)
            })
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// Every language has the same keys (apart from `catalogue.*`, the names of catalogue
    /// entries in languages the server's catalogue does not carry) with the same placeholders.
    #[test]
    fn every_language_has_every_string_with_the_same_placeholders() {
        let english = strings("en");
        assert!(english.len() > 300, "en.json has only {} strings", english.len());
        for lang in LANGS {
            let other = strings(lang);
            let keys = |map: &std::collections::BTreeMap<String, String>| -> Vec<String> {
                map.keys().filter(|k| !k.starts_with("catalogue.")).cloned().collect()
            };
            let (mine, theirs) = (keys(&other), keys(&english));
            let missing: Vec<_> = theirs.iter().filter(|k| !other.contains_key(*k)).collect();
            let extra: Vec<_> = mine.iter().filter(|k| !english.contains_key(*k)).collect();
            assert!(missing.is_empty(), "{lang}.json lacks {missing:?}");
            assert!(extra.is_empty(), "{lang}.json has keys en.json lacks: {extra:?}");
            for (key, value) in &other {
                assert!(!value.trim().is_empty(), "{lang}.json: {key} is empty");
                if let Some(en) = english.get(key) {
                    // A plural form may say the number in words ("once"): `{count}` is optional.
                    let plural = ["zero", "one", "two", "few", "many", "other"]
                        .iter()
                        .any(|form| key.ends_with(&format!(".{form}")));
                    let names = |text: &str| -> Vec<String> {
                        placeholders(text)
                            .into_iter()
                            .filter(|n| !plural || *n != "count")
                            .map(str::to_owned)
                            .collect()
                    };
                    assert_eq!(
                        names(value),
                        names(en),
                        "{lang}.json: {key} has other placeholders than in en.json"
                    );
                } else {
                    assert!(placeholders(value).is_empty(), "{lang}.json: {key} has placeholders");
                }
            }
        }
    }

    /// Every string key named literally in the pages exists: `t("key")`, `.set(state, "key")`
    /// (a `StatusLine`), `data-i18n="key"`, `data-i18n-attr="attr:key"`, and for
    /// `` t(`prefix.${…}`) `` at least one key with that prefix.
    #[test]
    fn every_key_the_pages_use_exists() {
        let english = strings("en");
        let exists =
            |key: &str| english.contains_key(key) || english.contains_key(&format!("{key}.other"));
        let is_key = |s: &str| {
            s.contains('.')
                && !s.starts_with('.')
                && s.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        };
        let mut checked = 0;
        for name in asset_names().filter(|n| n.ends_with(".js") || n.ends_with(".html")) {
            let body = text(name);
            let literal = |rest: &str, quote: char| -> Option<String> {
                let rest = rest.strip_prefix(quote)?;
                Some(rest[..rest.find(quote)?].to_owned())
            };
            let mut keys = Vec::new();
            for (at, _) in body.match_indices("t(") {
                let before = body[..at].chars().next_back();
                if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
                    continue;
                }
                let rest = &body[at + 2..];
                if let Some(key) = literal(rest, '"') {
                    keys.push(key);
                } else if let Some(template) = literal(rest, '`') {
                    let prefix = &template[..template.find("${").unwrap_or(template.len())];
                    assert!(
                        english.keys().any(|k| k.starts_with(prefix)),
                        "{name}: no string starts with {prefix:?}"
                    );
                    checked += 1;
                }
            }
            for (at, _) in body.match_indices(".set(\"") {
                let rest = &body[at + 5..];
                let Some(first) = literal(rest, '"') else { continue };
                let rest = rest[first.len() + 2..].trim_start_matches([',', ' ', '\n']);
                if let Some(key) = literal(rest, '"').filter(|k| is_key(k)) {
                    keys.push(key);
                }
            }
            for (at, _) in body.match_indices(" data-i18n=\"") {
                keys.extend(literal(&body[at + 11..], '"'));
            }
            for (at, _) in body.match_indices(" data-i18n-attr=\"") {
                let pairs = literal(&body[at + 16..], '"').unwrap_or_default();
                for pair in pairs.split_whitespace() {
                    keys.push(pair.split_once(':').expect("attr:key").1.to_owned());
                }
            }
            for key in keys {
                // `"request." + type`: a prefix.
                let found = if key.ends_with('.') {
                    english.keys().any(|k| k.starts_with(&key))
                } else {
                    exists(&key)
                };
                assert!(found, "{name} uses {key:?}, which en.json lacks");
                checked += 1;
            }
        }
        assert!(checked > 300, "only {checked} keys found in the pages");
    }

    /// The staff console speaks the staff side of the protocol and opens the staff socket.
    #[test]
    fn the_staff_console_sends_the_staff_messages() {
        let staff = text("staff.js");
        for needle in [
            "\"?role=staff\"",
            "\"join_call\"",
            "\"set_mode\"",
            "\"leave_call\"",
            "\"accept_help\"",
            "/api/audit?",
        ] {
            assert!(staff.contains(needle), "staff.js lacks {needle}");
        }
        let agent = text("agent.js");
        for needle in
            ["\"request_help\"", "\"cancel_help\"", "\"support_changed\"", "\"help_status\""]
        {
            assert!(agent.contains(needle), "agent.js lacks {needle}");
        }
        assert!(text("hall.js").contains("\"support_changed\""));
    }
}
