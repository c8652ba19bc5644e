//! Who may use the console: the operator's token, browser sessions and their CSRF tokens.
//!
//! Scripts send `Authorization: Bearer <token>`. Browsers post the token once to `/login` and
//! get a session cookie (HttpOnly, SameSite=Strict) naming a random session id; every form
//! POST of a session carries that session's CSRF token. Nothing here touches the network or
//! the database.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "mq_console_session";

/// The shortest token the console accepts in `MQ_CONSOLE_TOKEN`.
pub const MIN_TOKEN_LEN: usize = 16;

/// Compares two byte strings in time that depends only on their lengths, not on where they
/// differ, so that a caller cannot find a token byte by byte by timing the answers.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u64::from(a.len() != b.len());
    let len = a.len().max(b.len());
    for i in 0..len {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= u64::from(x ^ y);
    }
    std::hint::black_box(diff) == 0
}

/// 32 random bytes from the operating system, as 64 hex digits.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random number generator failed");
    hex(&bytes)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

/// The token from an `Authorization: Bearer <token>` header value, if it is one.
pub fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim())
        .filter(|t| !t.is_empty())
}

/// The value of cookie `name` in a `Cookie` request header.
pub fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key.trim() == name).then(|| value.trim())
    })
}

/// The `Set-Cookie` value that stores session `id` in the browser.
pub fn session_cookie(id: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict{secure}")
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_session_cookie(secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}")
}

/// What a request found under its session cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionView {
    pub id: String,
    pub csrf: String,
    /// True once the token was given at /login (or when the console runs without a token).
    pub authenticated: bool,
}

#[derive(Debug)]
struct Session {
    csrf: String,
    authenticated: bool,
    created: Instant,
    last_seen: Instant,
}

/// How long sessions live.
#[derive(Debug, Clone, Copy)]
pub struct SessionLimits {
    /// A logged-in session ends after this long without a request.
    pub idle: Duration,
    /// ... and after this long in any case.
    pub absolute: Duration,
    /// A session that has not logged in (the login form's) ends after this long.
    pub anonymous: Duration,
    /// At most this many sessions are kept; the least recently used go first.
    pub max_sessions: usize,
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits {
            idle: Duration::from_secs(8 * 3600),
            absolute: Duration::from_secs(24 * 3600),
            anonymous: Duration::from_secs(30 * 60),
            max_sessions: 10_000,
        }
    }
}

/// Sessions in memory: a restart logs everyone out, which is fine for an operator console.
#[derive(Debug)]
pub struct SessionStore {
    limits: SessionLimits,
    sessions: Mutex<HashMap<String, Session>>,
}

impl SessionStore {
    pub fn new(limits: SessionLimits) -> SessionStore {
        SessionStore {
            limits,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        // A panic while holding the lock leaves the map usable: recover it.
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a session with a fresh id and CSRF token.
    pub fn create(&self, authenticated: bool) -> SessionView {
        self.create_at(authenticated, Instant::now())
    }

    fn create_at(&self, authenticated: bool, now: Instant) -> SessionView {
        let view = SessionView {
            id: random_token(),
            csrf: random_token(),
            authenticated,
        };
        let mut sessions = self.lock();
        if sessions.len() >= self.limits.max_sessions {
            sessions.retain(|_, s| !self.expired(s, now));
        }
        while sessions.len() >= self.limits.max_sessions {
            // Evict the least recently used, anonymous ones before logged-in ones.
            let victim = sessions
                .iter()
                .min_by_key(|(_, s)| (s.authenticated, s.last_seen))
                .map(|(id, _)| id.clone());
            match victim {
                Some(id) => sessions.remove(&id),
                None => break,
            };
        }
        sessions.insert(
            view.id.clone(),
            Session {
                csrf: view.csrf.clone(),
                authenticated,
                created: now,
                last_seen: now,
            },
        );
        view
    }

    fn expired(&self, s: &Session, now: Instant) -> bool {
        let idle = now.saturating_duration_since(s.last_seen);
        let age = now.saturating_duration_since(s.created);
        if s.authenticated {
            idle > self.limits.idle || age > self.limits.absolute
        } else {
            age > self.limits.anonymous
        }
    }

    /// The live session `id`, marked as used now.
    pub fn get(&self, id: &str) -> Option<SessionView> {
        self.get_at(id, Instant::now())
    }

    fn get_at(&self, id: &str, now: Instant) -> Option<SessionView> {
        let mut sessions = self.lock();
        let session = sessions.get_mut(id)?;
        if self.expired(session, now) {
            sessions.remove(id);
            return None;
        }
        session.last_seen = now;
        Some(SessionView {
            id: id.to_owned(),
            csrf: session.csrf.clone(),
            authenticated: session.authenticated,
        })
    }

    /// Ends session `old` (if any) and starts a logged-in one with a new id and CSRF token,
    /// so that an id planted before the login is worth nothing after it.
    pub fn login(&self, old: Option<&str>) -> SessionView {
        if let Some(id) = old {
            self.remove(id);
        }
        self.create(true)
    }

    pub fn remove(&self, id: &str) {
        self.lock().remove(id);
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Whether the CSRF token a request submitted is the session's.
pub fn csrf_matches(session: &SessionView, submitted: Option<&str>) -> bool {
    match submitted {
        Some(token) if !token.is_empty() => {
            constant_time_eq(session.csrf.as_bytes(), token.as_bytes())
        }
        _ => false,
    }
}

/// Where to go after logging in: a path of this site, else `/`. Keeps the login form from
/// sending people to another site (`//evil.example`, `/\\evil.example`, `https://...`).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && n.len() <= 2000
                && !n.chars().any(|c| c.is_control() || c == '\\') =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_strings_compare_equal() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"secret-token-123", b"secret-token-123"));
    }

    #[test]
    fn different_strings_compare_different() {
        assert!(!constant_time_eq(b"secret-token-123", b"secret-token-124"));
        assert!(!constant_time_eq(b"secret", b"secret-token"));
        assert!(!constant_time_eq(b"secret-token", b"secret"));
        assert!(!constant_time_eq(b"", b"x"));
        // A prefix padded with zero bytes is not the same string.
        assert!(!constant_time_eq(b"ab", b"ab\0"));
    }

    #[test]
    fn tokens_are_random_hex() {
        let a = random_token();
        let b = random_token();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn bearer_header_is_parsed() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer   abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Bearer"), None);
    }

    #[test]
    fn cookie_is_found_among_others() {
        let header = "a=1; mq_console_session=abc123 ; other=x=y";
        assert_eq!(cookie_value(header, SESSION_COOKIE), Some("abc123"));
        assert_eq!(cookie_value(header, "other"), Some("x=y"));
        assert_eq!(cookie_value(header, "missing"), None);
        assert_eq!(cookie_value("garbage", SESSION_COOKIE), None);
    }

    #[test]
    fn cookie_attributes() {
        let c = session_cookie("id1", false);
        assert!(c.starts_with("mq_console_session=id1;"));
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict"));
        assert!(!c.contains("Secure"));
        assert!(session_cookie("id1", true).ends_with("; Secure"));
        assert!(clear_session_cookie(false).contains("Max-Age=0"));
    }

    #[test]
    fn sessions_are_found_and_removed() {
        let store = SessionStore::new(SessionLimits::default());
        let s = store.create(false);
        let found = store.get(&s.id).expect("session");
        assert_eq!(found, s);
        assert!(!found.authenticated);
        assert!(store.get("no-such-session").is_none());
        store.remove(&s.id);
        assert!(store.get(&s.id).is_none());
        assert!(store.is_empty());
    }

    #[test]
    fn login_rotates_the_session_id_and_csrf_token() {
        let store = SessionStore::new(SessionLimits::default());
        let anonymous = store.create(false);
        let logged_in = store.login(Some(&anonymous.id));
        assert!(logged_in.authenticated);
        assert_ne!(logged_in.id, anonymous.id);
        assert_ne!(logged_in.csrf, anonymous.csrf);
        assert!(store.get(&anonymous.id).is_none());
        assert!(store.get(&logged_in.id).is_some());
    }

    #[test]
    fn sessions_expire() {
        let limits = SessionLimits {
            idle: Duration::from_secs(10),
            absolute: Duration::from_secs(100),
            anonymous: Duration::from_secs(5),
            max_sessions: 100,
        };
        let store = SessionStore::new(limits);
        let start = Instant::now();
        let anonymous = store.create_at(false, start);
        let user = store.create_at(true, start);
        let t = |s| start + Duration::from_secs(s);
        assert!(store.get_at(&anonymous.id, t(4)).is_some());
        assert!(store.get_at(&anonymous.id, t(6)).is_none(), "anonymous ttl");
        // Used every 8 s, a logged-in session lives on until its absolute limit.
        for s in (8..=96).step_by(8) {
            assert!(store.get_at(&user.id, t(s)).is_some(), "at {s}s");
        }
        assert!(store.get_at(&user.id, t(104)).is_none(), "absolute limit");
        let idle = store.create_at(true, start);
        assert!(store.get_at(&idle.id, t(11)).is_none(), "idle limit");
    }

    #[test]
    fn the_store_is_bounded_and_keeps_logged_in_sessions_first() {
        let limits = SessionLimits {
            max_sessions: 3,
            ..SessionLimits::default()
        };
        let store = SessionStore::new(limits);
        let start = Instant::now();
        let user = store.create_at(true, start);
        let anon1 = store.create_at(false, start + Duration::from_secs(1));
        let _anon2 = store.create_at(false, start + Duration::from_secs(2));
        let _anon3 = store.create_at(false, start + Duration::from_secs(3));
        assert_eq!(store.len(), 3);
        assert!(store.get(&user.id).is_some(), "logged-in session kept");
        assert!(store.get(&anon1.id).is_none(), "oldest anonymous evicted");
    }

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/topics/a?x=1")), "/topics/a?x=1");
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(Some("/a\nb")), "/");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn csrf_must_match_the_session() {
        let store = SessionStore::new(SessionLimits::default());
        let s = store.create(true);
        let other = store.create(true);
        assert!(csrf_matches(&s, Some(&s.csrf)));
        assert!(!csrf_matches(&s, Some(&other.csrf)));
        assert!(!csrf_matches(&s, Some("")));
        assert!(!csrf_matches(&s, None));
    }
}
