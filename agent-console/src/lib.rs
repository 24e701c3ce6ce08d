//! The web front ends — the citizen's hall, the agent console and the staff console — as static
//! assets compiled into the binary, so running the server needs no Node build and no asset
//! directory.
//!
//! The server maps its routes onto [`asset`]: `/` → `hall.html`, `/agent` → `agent.html`,
//! `/staff` → `staff.html`, `/ticket` → `ticket.html`, `/assets/<file>` → `<file>`. The pages load only from their own origin (no inline scripts,
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

/// Every asset by file name. The browser tests and the unit tests below rely on this being the
/// complete list.
const ASSETS: &[(&str, Asset)] = &[
    ("hall.html", Asset { body: include_bytes!("../assets/hall.html"), content_type: HTML }),
    ("agent.html", Asset { body: include_bytes!("../assets/agent.html"), content_type: HTML }),
    ("staff.html", Asset { body: include_bytes!("../assets/staff.html"), content_type: HTML }),
    ("ticket.html", Asset { body: include_bytes!("../assets/ticket.html"), content_type: HTML }),
    ("common.js", Asset { body: include_bytes!("../assets/common.js"), content_type: JS }),
    ("console.js", Asset { body: include_bytes!("../assets/console.js"), content_type: JS }),
    ("hall.js", Asset { body: include_bytes!("../assets/hall.js"), content_type: JS }),
    ("agent.js", Asset { body: include_bytes!("../assets/agent.js"), content_type: JS }),
    ("staff.js", Asset { body: include_bytes!("../assets/staff.js"), content_type: JS }),
    ("ticket.js", Asset { body: include_bytes!("../assets/ticket.js"), content_type: JS }),
    ("inbox.js", Asset { body: include_bytes!("../assets/inbox.js"), content_type: JS }),
    ("style.css", Asset { body: include_bytes!("../assets/style.css"), content_type: CSS }),
];

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
        for name in asset_names() {
            assert!(!asset(name).unwrap().body.is_empty(), "{name} is empty");
        }
    }

    #[test]
    fn only_exact_names_resolve() {
        for path in
            ["", "/", "/hall.html", "assets/hall.js", "../Cargo.toml", "hall.js/", "HALL.HTML"]
        {
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
            let body = text(name);
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
