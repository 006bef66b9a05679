//! "Your devices": the sessions a person is signed in with right now, so
//! they can spot one they do not recognise and end it, or end them all.
//!
//! A session is named to the browser by a handle, never by its id: the id
//! is what the session cookie carries, so anyone who read it off the page
//! (a shoulder-surfer, a screenshot, a browser extension) could sign in as
//! the person. The handle is a one-way digest of the id, computed by the
//! server, and a form that ends a session sends the handle back.

use crate::AccountId;
use crate::ports::PortError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One signed-in session, as "your devices" lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceSession {
    /// Names the session in forms; not the session id (see the module).
    pub handle: String,
    /// "Chrome on Android", from the browser's User-Agent at sign-in.
    pub description: String,
    pub signed_in_at: DateTime<Utc>,
    /// Kept to the minute: activity is recorded at most once a minute.
    pub last_active_at: DateTime<Utc>,
    pub via_nhs_login: bool,
    /// The session this page was opened with.
    pub this_device: bool,
}

/// How many hex characters of the digest a handle keeps: 128 bits, as
/// many as the session id itself holds, so handles cannot collide in
/// practice and the id cannot be found from one.
pub const HANDLE_HEX_LEN: usize = 32;

/// A handle has the right shape. Anything else is refused before it
/// reaches the database.
pub fn looks_like_handle(text: &str) -> bool {
    text.len() == HANDLE_HEX_LEN
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The ends of sessions worth telling apart later in `security_events`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DevicesEvent {
    /// The person signed out one of their other sessions.
    SignedOutOtherDevice,
    /// The person ended every session, this one included.
    SignedOutEverywhere,
}

impl DevicesEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            DevicesEvent::SignedOutOtherDevice => "signed_out_other_device",
            DevicesEvent::SignedOutEverywhere => "signed_out_everywhere",
        }
    }
}

/// A person's own signed-in sessions. Every method takes the account whose
/// sessions it may touch: a handle belonging to anyone else matches nothing.
#[async_trait]
pub trait Devices: Send + Sync {
    /// The account's live sessions, most recently active first. The one
    /// whose handle is `current_handle` is marked as this device.
    async fn list(
        &self,
        account: AccountId,
        current_handle: Option<&str>,
    ) -> Result<Vec<DeviceSession>, PortError>;
    /// Ends the account's live session with this handle and records who
    /// did it. Returns what the session was ("Chrome on Android"), or None
    /// when the account has no such session (already ended, or not theirs).
    async fn end_one(
        &self,
        account: AccountId,
        handle: &str,
        request_id: &str,
    ) -> Result<Option<String>, PortError>;
    /// Ends every session of the account, the caller's own included, and
    /// records it. Returns how many ended.
    async fn end_all(&self, account: AccountId, request_id: &str) -> Result<u64, PortError>;
}

/// What a person would call the browser behind a User-Agent header:
/// "Chrome on Android", "Safari on iPhone". Only well-known names are ever
/// shown, never the header's own text, which the browser chose.
pub fn describe_user_agent(user_agent: Option<&str>) -> String {
    let Some(agent) = user_agent.map(str::trim).filter(|a| !a.is_empty()) else {
        return UNKNOWN_BROWSER.to_owned();
    };
    match (browser_of(agent), system_of(agent)) {
        (Some(browser), Some(system)) => format!("{browser} on {system}"),
        (Some(browser), None) => browser.to_owned(),
        (None, Some(system)) => format!("{UNKNOWN_BROWSER} on {system}"),
        (None, None) => UNKNOWN_BROWSER.to_owned(),
    }
}

pub const UNKNOWN_BROWSER: &str = "Unknown browser";

/// Most browsers claim to be several others ("Edg/" pages also say
/// "Chrome/" and "Safari/"), so the more particular names are tried first.
fn browser_of(agent: &str) -> Option<&'static str> {
    const BROWSERS: [(&str, &str); 12] = [
        ("Edg/", "Microsoft Edge"),
        ("EdgA/", "Microsoft Edge"),
        ("EdgiOS/", "Microsoft Edge"),
        ("OPR/", "Opera"),
        ("SamsungBrowser/", "Samsung Internet"),
        ("Firefox/", "Firefox"),
        ("FxiOS/", "Firefox"),
        ("CriOS/", "Chrome"),
        ("Chrome/", "Chrome"),
        ("MSIE ", "Internet Explorer"),
        ("Trident/", "Internet Explorer"),
        // Safari says "Version/" before "Safari/"; Chrome-based ones were
        // caught above.
        ("Version/", "Safari"),
    ];
    BROWSERS
        .into_iter()
        .find(|(marker, _)| agent.contains(marker))
        .map(|(_, name)| name)
}

/// iPhones and iPads say "like Mac OS X", and Android says "Linux", so
/// those come before the systems they mention.
fn system_of(agent: &str) -> Option<&'static str> {
    const SYSTEMS: [(&str, &str); 8] = [
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Android", "Android"),
        ("CrOS", "ChromeOS"),
        ("Windows", "Windows"),
        ("Macintosh", "Mac"),
        ("Mac OS X", "Mac"),
        ("Linux", "Linux"),
    ];
    SYSTEMS
        .into_iter()
        .find(|(marker, _)| agent.contains(marker))
        .map(|(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn described(agent: &str) -> String {
        describe_user_agent(Some(agent))
    }

    #[test]
    fn common_browsers_are_named_with_their_system() {
        let cases = [
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
                "Chrome on Android",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
                "Safari on iPhone",
            ),
            (
                "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1",
                "Chrome on iPad",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51",
                "Microsoft Edge on Windows",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:125.0) Gecko/20100101 Firefox/125.0",
                "Firefox on Mac",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
                "Safari on Mac",
            ),
            (
                "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
                "Samsung Internet on Android",
            ),
            (
                "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
                "Chrome on ChromeOS",
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.0.0 Safari/537.36",
                "Chrome on Linux",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 OPR/109.0.0.0",
                "Opera on Windows",
            ),
            (
                "Mozilla/5.0 (Windows NT 6.1; Trident/7.0; rv:11.0) like Gecko",
                "Internet Explorer on Windows",
            ),
        ];
        for (agent, expected) in cases {
            assert_eq!(described(agent), expected, "{agent}");
        }
    }

    #[test]
    fn missing_or_strange_agents_are_unknown_browsers() {
        assert_eq!(describe_user_agent(None), "Unknown browser");
        assert_eq!(describe_user_agent(Some("   ")), "Unknown browser");
        assert_eq!(described("curl/8.5.0"), "Unknown browser");
        assert_eq!(
            described("SomeBot/1.0 (Windows NT 10.0)"),
            "Unknown browser on Windows"
        );
        assert_eq!(described("Mozilla/5.0 Firefox/125.0"), "Firefox");
    }

    #[test]
    fn the_agents_own_text_is_never_shown() {
        let hostile = "<script>alert(1)</script> Chrome/1 (Windows)";
        assert_eq!(described(hostile), "Chrome on Windows");
        assert!(!described("Evil/1.0 <b>hi</b>").contains('<'));
    }

    #[test]
    fn handles_are_32_lower_case_hex_characters() {
        assert!(looks_like_handle("0123456789abcdef0123456789abcdef"));
        assert!(!looks_like_handle("0123456789ABCDEF0123456789ABCDEF"));
        assert!(!looks_like_handle("0123456789abcdef0123456789abcde"));
        assert!(!looks_like_handle("0123456789abcdef0123456789abcdef0"));
        assert!(!looks_like_handle("0123456789abcdef0123456789abcdeg"));
        assert!(!looks_like_handle(""));
    }
}
