//! NUT protocol text: quoting arguments as upsd expects, splitting reply lines into words,
//! and the `ERR` codes with what each means for the person reading the log.

use std::fmt;

/// One argument of a command: bare when it is a plain word, else in double quotes with
/// `"` and `\` escaped by a backslash (RFC 9271 §3.2).
pub fn quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\');
    if plain {
        return arg.to_string();
    }
    let mut q = String::with_capacity(arg.len() + 2);
    q.push('"');
    for c in arg.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

/// The words of a reply line: runs of non-blanks, or double-quoted strings in which a
/// backslash takes the next character literally. None for an unterminated quote.
pub fn words(line: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
            chars.next();
        }
        let Some(&first) = chars.peek() else {
            return Some(out);
        };
        let mut w = String::new();
        if first == '"' {
            chars.next();
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => w.push(chars.next()?),
                    c => w.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ' ' || c == '\t' {
                    break;
                }
                w.push(c);
                chars.next();
            }
        }
        out.push(w);
    }
}

/// Everything a NUT exchange can fail with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NutError {
    /// upsd answered `ERR <code> [detail]`.
    Server { code: String, context: String },
    /// No connection, or it broke.
    Io(String),
    /// No answer in time.
    Timeout(String),
    /// TLS set-up or certificate verification failed.
    Tls(String),
    /// upsd answered something this client cannot read.
    Protocol(String),
}

impl NutError {
    pub fn code(&self) -> Option<&str> {
        match self {
            NutError::Server { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// What an `ERR` code means, in words an administrator can act on.
pub fn explain(code: &str) -> &'static str {
    match code {
        "ACCESS-DENIED" => {
            "access denied: wrong username or password, or the user may not do this (see upsd.users)"
        }
        "UNKNOWN-UPS" => "upsd has no UPS of that name (upsc -l HOST lists them; check ups_name)",
        "VAR-NOT-SUPPORTED" => "the UPS has no such variable",
        "CMD-NOT-SUPPORTED" => "the UPS does not support this command",
        "INVALID-ARGUMENT" => "upsd did not accept the arguments",
        "INSTCMD-FAILED" => "the driver failed to carry out the command",
        "SET-FAILED" => "the driver failed to set the variable",
        "READONLY" => "the variable is read-only",
        "TOO-LONG" => "the value is too long",
        "FEATURE-NOT-SUPPORTED" => "upsd was built without this feature (for STARTTLS: without TLS)",
        "FEATURE-NOT-CONFIGURED" => {
            "upsd is not configured for this feature (for STARTTLS: no CERTFILE/CERTPATH in upsd.conf)"
        }
        "ALREADY-SSL-MODE" => "the connection is already in TLS mode",
        "DRIVER-NOT-CONNECTED" => "upsd has no connection to the UPS's driver (is the driver running?)",
        "DATA-STALE" => "upsd has no fresh data from the UPS's driver (is the device reachable?)",
        "ALREADY-LOGGED-IN" => "already logged in on this connection",
        "INVALID-PASSWORD" => "the password is not valid",
        "ALREADY-SET-PASSWORD" => "the password was already sent on this connection",
        "INVALID-USERNAME" => "the username is not valid",
        "ALREADY-SET-USERNAME" => "the username was already sent on this connection",
        "USERNAME-REQUIRED" => "upsd needs a username for this (set username and password)",
        "PASSWORD-REQUIRED" => "upsd needs a password for this (set password)",
        "UNKNOWN-COMMAND" => "upsd does not know the command (an older upsd?)",
        "INVALID-VALUE" => "the value is not valid for the variable",
        "UNKNOWN" => "the driver did not report a result",
        _ => "upsd reported an error",
    }
}

impl fmt::Display for NutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NutError::Server { code, context } => {
                write!(f, "{context}: {} (ERR {code})", explain(code))
            }
            NutError::Io(m) | NutError::Timeout(m) | NutError::Tls(m) | NutError::Protocol(m) => {
                f.write_str(m)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_round_trips_through_words() {
        for arg in [
            "plain",
            "two words",
            "say \"hi\"",
            "back\\slash",
            "",
            "tab\there",
        ] {
            let line = format!("VAR ups x {}", quote(arg));
            let w = words(&line).expect("parses");
            assert_eq!(w.len(), 4, "{line}");
            assert_eq!(w[3], arg, "{line}");
        }
        assert_eq!(quote("outlet.1.status"), "outlet.1.status");
    }

    #[test]
    fn reply_words() {
        assert_eq!(
            words(r#"VAR baytech outlet.3.desc "Server A \"PSU1\"""#).unwrap(),
            ["VAR", "baytech", "outlet.3.desc", "Server A \"PSU1\""]
        );
        assert_eq!(words(r#"VAR u x """#).unwrap(), ["VAR", "u", "x", ""]);
        assert!(words(r#"VAR u x "open"#).is_none());
        assert!(words(r#"VAR u x "ends in \"#).is_none());
    }
}
