//! Console sessions: a token is presented once, on the login form, and exchanged for a
//! session cookie (HttpOnly, SameSite=Strict, Path=/ui; Secure behind TLS). The service
//! keeps, per session, the token's SHA-256 (never the token: its holder is found anew at
//! each request, so a token removed from the tokens file ends its sessions at the next
//! reload) and a CSRF token that every form that changes something must carry back.
//!
//! Session identifiers and CSRF tokens are 32 bytes of kernel randomness; the store is
//! keyed by the identifier's SHA-256, and a CSRF token is compared through its SHA-256,
//! so neither comparison's timing tells anything about the secret.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap};
use sha2::{Digest, Sha256};

use crate::serve::tokens::{self, Holder, Tokens};

pub const COOKIE: &str = "fb_session";
/// A session unused this long ends.
const IDLE: Duration = Duration::from_secs(30 * 60);
/// Every session ends this long after its login.
const LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// Sessions at most (a flood of logins with a valid token must not grow memory without end).
const MAX_SESSIONS: usize = 10_000;

struct Kept {
    token_sha256: String,
    csrf_sha256: String,
    csrf: String,
    born: Instant,
    used: Instant,
}

/// A request's session: who holds it, and the CSRF token its forms carry.
#[derive(Clone)]
pub struct Session {
    pub holder: Holder,
    pub csrf: String,
}

#[derive(Default)]
pub struct Sessions {
    by_id: Mutex<HashMap<String, Kept>>,
}

fn sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn random_hex() -> Result<String, String> {
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).map_err(|e| format!("no randomness from the kernel: {e}"))?;
    Ok(raw.iter().map(|b| format!("{b:02x}")).collect())
}

impl Sessions {
    /// A new session for `token` if it is one of ours: the session's identifier (for the
    /// cookie) and its holder.
    pub fn login(&self, tokens: &Tokens, token: &str) -> Result<Option<(String, Holder)>, String> {
        let digest = tokens::digest(token.trim());
        let Some(holder) = tokens.find_digest(&digest) else {
            return Ok(None);
        };
        let id = random_hex()?;
        let csrf = random_hex()?;
        let now = Instant::now();
        let mut map = self.by_id.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, k| alive(k, now));
        if map.len() >= MAX_SESSIONS {
            return Err("too many console sessions; try again later".into());
        }
        map.insert(
            sha256(&id),
            Kept {
                token_sha256: digest,
                csrf_sha256: sha256(&csrf),
                csrf,
                born: now,
                used: now,
            },
        );
        Ok(Some((id, holder)))
    }

    /// The session of a request's cookie, if it is alive and its token still is.
    pub fn find(&self, tokens: &Tokens, headers: &HeaderMap) -> Option<Session> {
        let id = cookie(headers)?;
        let now = Instant::now();
        let mut map = self.by_id.lock().unwrap_or_else(|p| p.into_inner());
        let key = sha256(&id);
        let kept = map.get_mut(&key)?;
        if !alive(kept, now) {
            map.remove(&key);
            return None;
        }
        let holder = tokens.find_digest(&kept.token_sha256)?;
        kept.used = now;
        Some(Session {
            holder,
            csrf: kept.csrf.clone(),
        })
    }

    /// Whether `presented` is the CSRF token of the request's session.
    pub fn csrf_ok(&self, headers: &HeaderMap, presented: &str) -> bool {
        let Some(id) = cookie(headers) else {
            return false;
        };
        let map = self.by_id.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&sha256(&id))
            .is_some_and(|k| k.csrf_sha256 == sha256(presented))
    }

    /// End the request's session.
    pub fn logout(&self, headers: &HeaderMap) {
        if let Some(id) = cookie(headers) {
            let mut map = self.by_id.lock().unwrap_or_else(|p| p.into_inner());
            map.remove(&sha256(&id));
        }
    }
}

fn alive(k: &Kept, now: Instant) -> bool {
    now.duration_since(k.used) < IDLE && now.duration_since(k.born) < LIFETIME
}

/// The session identifier a request's Cookie header carries.
fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim().to_string())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The Set-Cookie value that starts a session (`secure`: the listener speaks TLS).
pub fn set_cookie(id: &str, secure: bool) -> String {
    format!(
        "{COOKIE}={id}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={}{}",
        LIFETIME.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

/// The Set-Cookie value that ends one.
pub fn clear_cookie(secure: bool) -> String {
    format!(
        "{COOKIE}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0{}",
        if secure { "; Secure" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn tokens() -> (Tokens, String) {
        let token = "fbx_0123".to_string();
        let text = format!(
            "[[token]]\nname = \"ops\"\nscope = \"control\"\nnodes = \"all\"\nsha256 = \"{}\"\n",
            tokens::digest(&token)
        );
        (
            Tokens::parse(std::path::Path::new("tokens.toml"), &text).unwrap(),
            token,
        )
    }

    fn with_cookie(id: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("theme=dark; {COOKIE}={id}")).unwrap(),
        );
        h
    }

    #[test]
    fn a_token_becomes_a_session_that_ends_with_the_token_or_a_logout() {
        let (toks, token) = tokens();
        let sessions = Sessions::default();
        assert!(sessions.login(&toks, "fbx_wrong").unwrap().is_none());
        let (id, holder) = sessions.login(&toks, &token).unwrap().unwrap();
        assert_eq!(holder.name, "ops");
        let h = with_cookie(&id);
        let s = sessions.find(&toks, &h).unwrap();
        assert!(sessions.csrf_ok(&h, &s.csrf));
        assert!(!sessions.csrf_ok(&h, "forged"));
        assert!(!sessions.csrf_ok(&HeaderMap::new(), &s.csrf));
        // The token removed from the file: the session is worth nothing.
        assert!(sessions.find(&Tokens::default(), &h).is_none());
        sessions.logout(&h);
        assert!(sessions.find(&toks, &h).is_none());
        assert!(set_cookie(&id, true).ends_with("HttpOnly; SameSite=Strict; Max-Age=43200; Secure"));
    }
}
