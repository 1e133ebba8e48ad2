//! The expect engine: what a device printed, cleaned of terminal escapes, matched against
//! a set of patterns before a deadline; lines sent with the device's line end. Every
//! exchange is logged at detail 3 (the log scrubs registered secrets, and a password sent
//! is logged as such, never as itself).

use std::time::{Duration, Instant};

use regex_lite::Regex;

use crate::runtime::clock::{Clock, Deadline};
use crate::runtime::log::{self, Level};
use crate::runtime::stream::{ByteStream, StreamError, MAX_PENDING};

/// Why a wait or a send did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpectError {
    /// None of the patterns came in time; `waiting_for` says what was awaited and `tail`
    /// is the end of what the device printed.
    TimedOut {
        waiting_for: String,
        tail: String,
    },
    /// The device closed the connection first.
    Closed {
        waiting_for: String,
        tail: String,
    },
    /// More than `MAX_PENDING` bytes without any pattern.
    Flooded {
        waiting_for: String,
    },
    Io(String),
}

impl std::fmt::Display for ExpectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tail = |t: &str| {
            if t.is_empty() {
                String::from(" (it printed nothing)")
            } else {
                format!(" (it printed last: \"{}\")", log::escape_controls(t))
            }
        };
        match self {
            ExpectError::TimedOut {
                waiting_for,
                tail: t,
            } => {
                write!(f, "timed out waiting for {waiting_for}{}", tail(t))
            }
            ExpectError::Closed {
                waiting_for,
                tail: t,
            } => write!(
                f,
                "the device closed the connection while fencebox waited for {waiting_for}{}",
                tail(t)
            ),
            ExpectError::Flooded { waiting_for } => write!(
                f,
                "the device sent more than {} KiB without {waiting_for}",
                MAX_PENDING / 1024
            ),
            ExpectError::Io(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for ExpectError {}

/// One pattern of a wait, and what it stands for in messages.
#[derive(Clone, Copy)]
pub struct Pattern<'a> {
    pub regex: &'a Regex,
    pub name: &'a str,
}

/// What a wait found: which pattern, the text before it, and the match itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub index: usize,
    pub before: String,
    pub matched: String,
}

/// How much of the device's last output an error message quotes.
const TAIL_CHARS: usize = 120;

pub struct Expect {
    stream: Box<dyn ByteStream + Send>,
    /// Bytes read but not yet turned into text (an escape sequence or a UTF-8 character
    /// split over two reads).
    raw: Vec<u8>,
    /// Cleaned text not yet consumed by a match.
    text: String,
    /// The last character added was a CR (so that a following LF is not a second line end).
    after_cr: bool,
    /// How much of `text` has been searched without a match: the next search starts
    /// shortly before it (`resume_at`), so a device streaming output is not searched
    /// again from the start after every read.
    searched: usize,
    eol: String,
}

impl Expect {
    pub fn new(stream: Box<dyn ByteStream + Send>, eol: &str) -> Expect {
        Expect {
            stream,
            raw: Vec::new(),
            text: String::new(),
            after_cr: false,
            searched: 0,
            eol: eol.to_string(),
        }
    }

    /// Send `line` and the line end. `secret`: log that a secret was sent, not the text.
    pub fn send_line(
        &mut self,
        line: &str,
        secret: bool,
        clock: &dyn Clock,
        timeout: Duration,
    ) -> Result<(), ExpectError> {
        if secret {
            log::emit_detail(Level::Debug, 3, format_args!("shell: sent (a secret)"));
        } else {
            log::emit_detail(
                Level::Debug,
                3,
                format_args!("shell: sent \"{}\"", log::escape_controls(line)),
            );
        }
        let mut data = Vec::with_capacity(line.len() + self.eol.len());
        data.extend_from_slice(line.as_bytes());
        data.extend_from_slice(self.eol.as_bytes());
        self.stream
            .write_all(&data, instant(clock, timeout))
            .map_err(|e| ExpectError::Io(e.to_string()))
    }

    /// Send `keys` as they are (no line end): a menu key, ESC, Ctrl-C.
    pub fn send_keys(
        &mut self,
        keys: &str,
        clock: &dyn Clock,
        timeout: Duration,
    ) -> Result<(), ExpectError> {
        log::emit_detail(
            Level::Debug,
            3,
            format_args!("shell: sent keys \"{}\"", log::escape_controls(keys)),
        );
        self.stream
            .write_all(keys.as_bytes(), instant(clock, timeout))
            .map_err(|e| ExpectError::Io(e.to_string()))
    }

    /// Wait until one of `patterns` appears in the output, at most `timeout` by `clock`.
    /// The earliest match in the text wins (the first pattern on a tie); the text up to
    /// the end of the match is consumed.
    pub fn expect(
        &mut self,
        patterns: &[Pattern<'_>],
        clock: &dyn Clock,
        timeout: Duration,
    ) -> Result<Found, ExpectError> {
        let deadline = instant(clock, timeout);
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(found) = self.find(patterns) {
                return Ok(found);
            }
            if self.text.len() > MAX_PENDING {
                return Err(ExpectError::Flooded {
                    waiting_for: describe(patterns),
                });
            }
            match self.stream.read_some(&mut chunk, deadline) {
                Ok(0) => {
                    return Err(ExpectError::Closed {
                        waiting_for: describe(patterns),
                        tail: self.tail(),
                    })
                }
                Ok(n) => self.take(chunk.get(..n).unwrap_or_default()),
                Err(StreamError::TimedOut { .. })
                    if deadline.checked_duration_since(Instant::now()).is_some() => {}
                Err(StreamError::TimedOut { .. }) => {
                    return Err(ExpectError::TimedOut {
                        waiting_for: describe(patterns),
                        tail: self.tail(),
                    })
                }
                Err(StreamError::Closed { .. }) => {
                    return Err(ExpectError::Closed {
                        waiting_for: describe(patterns),
                        tail: self.tail(),
                    })
                }
                Err(StreamError::Io(m)) => return Err(ExpectError::Io(m)),
            }
        }
    }

    /// End the session (the transport logs out and closes).
    pub fn close(&mut self) {
        self.stream.close();
    }

    fn find(&mut self, patterns: &[Pattern<'_>]) -> Option<Found> {
        let from = resume_at(&self.text, self.searched);
        let found = patterns
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                p.regex
                    .find_at(&self.text, from)
                    .map(|m| (i, m.start(), m.end()))
            })
            .min_by_key(|&(i, start, _)| (start, i));
        let Some((index, start, end)) = found else {
            self.searched = self.text.len();
            return None;
        };
        self.searched = 0;
        let before = self.text.get(..start).unwrap_or_default().to_string();
        let matched = self.text.get(start..end).unwrap_or_default().to_string();
        self.text.drain(..end);
        Some(Found {
            index,
            before,
            matched,
        })
    }

    fn tail(&self) -> String {
        let count = self.text.chars().count();
        self.text
            .chars()
            .skip(count.saturating_sub(TAIL_CHARS))
            .collect::<String>()
            .trim()
            .to_string()
    }

    /// Add bytes read: escape sequences dropped, CR LF and lone CR made one LF, NULs
    /// dropped; an incomplete escape or character waits for the next read.
    fn take(&mut self, bytes: &[u8]) {
        self.raw.extend_from_slice(bytes);
        let (clean, used) = strip_escapes(&self.raw);
        self.raw.drain(..used);
        let (valid, rest) = split_utf8(&clean);
        let mut added = String::with_capacity(valid.len());
        for c in valid.chars() {
            match c {
                '\r' => {
                    added.push('\n');
                    self.after_cr = true;
                }
                '\n' if self.after_cr => self.after_cr = false,
                '\0' => {}
                c => {
                    added.push(c);
                    self.after_cr = false;
                }
            }
        }
        // A partial UTF-8 character goes back in front of the raw bytes.
        if !rest.is_empty() {
            let mut back = rest.to_vec();
            back.extend_from_slice(&self.raw);
            self.raw = back;
        }
        if !added.is_empty() {
            log::emit_detail(
                Level::Debug,
                3,
                format_args!("shell: received \"{}\"", log::escape_controls(&added)),
            );
            self.text.push_str(&added);
        }
    }
}

/// Most bytes a pattern match may reach back into text already searched.
const LOOKBACK_BYTES: usize = 4096;

/// Where to resume searching `text` of which `searched` bytes held no match: two lines
/// back (a match may span a line end into the new text), at most `LOOKBACK_BYTES`.
fn resume_at(text: &str, searched: usize) -> usize {
    let searched = searched.min(text.len());
    let lines_back = text
        .get(..searched)
        .and_then(|t| t.rmatch_indices('\n').nth(1))
        .map_or(0, |(i, _)| i + 1);
    let mut from = lines_back.max(searched.saturating_sub(LOOKBACK_BYTES));
    while !text.is_char_boundary(from) {
        from -= 1;
    }
    from
}

/// A kernel deadline for a wait of `timeout` by the call's clock.
fn instant(clock: &dyn Clock, timeout: Duration) -> Instant {
    let left = Deadline::after(clock, timeout)
        .left(clock)
        .unwrap_or(Duration::ZERO);
    Instant::now()
        .checked_add(left)
        .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400))
}

fn describe(patterns: &[Pattern<'_>]) -> String {
    let names: Vec<&str> = patterns.iter().map(|p| p.name).collect();
    match names.as_slice() {
        [] => "nothing".into(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// Longest a terminal escape sequence may be before it is taken as plain bytes.
const MAX_ESCAPE: usize = 64;

/// `raw` without terminal escape sequences (CSI such as bash's bracketed-paste
/// `ESC[?2004h` and colours, OSC titles, two-byte escapes); how many bytes of `raw` were
/// used (an escape cut off at the end is left for the next read).
fn strip_escapes(raw: &[u8]) -> (Vec<u8>, usize) {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        if b != 0x1b {
            out.push(b);
            i += 1;
            continue;
        }
        match escape_len(raw.get(i..).unwrap_or_default()) {
            Some(n) => i += n,
            None if raw.len() - i < MAX_ESCAPE => return (out, i),
            // Not an escape we know the end of: drop the ESC alone.
            None => i += 1,
        }
    }
    (out, i)
}

/// The length of the escape sequence at the start of `s` (which starts with ESC), or
/// None while it is incomplete.
fn escape_len(s: &[u8]) -> Option<usize> {
    match s.get(1)? {
        b'[' => {
            // CSI: parameters and intermediates, then a final byte 0x40..=0x7e.
            let end = s.iter().skip(2).position(|b| (0x40..=0x7e).contains(b))?;
            Some(end + 3)
        }
        b']' => {
            // OSC: ends with BEL or ESC \.
            let body = s.get(2..)?;
            let bel = body.iter().position(|&b| b == 0x07).map(|p| p + 3);
            let st = body.windows(2).position(|w| w == b"\x1b\\").map(|p| p + 4);
            match (bel, st) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        }
        // Charset selection: ESC ( B and the like.
        b'(' | b')' => s.get(2).map(|_| 3),
        _ => Some(2),
    }
}

/// The valid UTF-8 text of `bytes` (invalid bytes replaced) and an incomplete character
/// at its end, if any.
fn split_utf8(bytes: &[u8]) -> (String, &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_string(), &[]),
        Err(e) if e.error_len().is_none() => {
            let (ok, rest) = bytes.split_at(e.valid_up_to());
            (String::from_utf8_lossy(ok).into_owned(), rest)
        }
        Err(_) => (String::from_utf8_lossy(bytes).into_owned(), &[]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::clock::RealClock;
    use crate::shell::testing::Script;
    use std::sync::{Arc, Mutex};

    fn session(chunks: &[&[u8]]) -> (Expect, Arc<Mutex<Vec<u8>>>) {
        let (s, written) = Script::new(chunks);
        (Expect::new(Box::new(s), "\n"), written)
    }

    fn wait(x: &mut Expect, res: &[&str]) -> Result<Found, ExpectError> {
        let regexes: Vec<Regex> = res.iter().map(|r| Regex::new(r).unwrap()).collect();
        let pats: Vec<Pattern<'_>> = regexes
            .iter()
            .map(|r| Pattern {
                regex: r,
                name: "the prompt",
            })
            .collect();
        x.expect(
            &pats,
            &RealClock::started_at(Instant::now()),
            Duration::from_millis(200),
        )
    }

    #[test]
    fn bracketed_paste_and_colours_are_removed_even_split_over_reads() {
        let (mut x, _) = session(&[b"running\r\n\x1b[?20", b"04h[EXPECT]# \x1b[0", b"m"]);
        let f = wait(&mut x, &[r"\[EXPECT\]# $"]).unwrap();
        assert_eq!(f.before, "running\n");
    }

    #[test]
    fn the_earliest_match_wins_and_what_follows_stays() {
        let (mut x, _) = session(&[b"Are you sure? (y/n) prompt> more"]);
        let f = wait(&mut x, &["prompt>", r"\(y/n\)"]).unwrap();
        assert_eq!((f.index, f.before.as_str()), (1, "Are you sure? "));
        let f = wait(&mut x, &["prompt>"]).unwrap();
        assert_eq!(f.before, " ");
    }

    #[test]
    fn cr_lf_and_lone_cr_are_one_line_end_and_utf8_split_is_kept() {
        let (mut x, _) = session(&[b"a\r\nb\rc\r", b"\nd\xc3", b"\xa9\r\n> "]);
        let f = wait(&mut x, &["> $"]).unwrap();
        assert_eq!(f.before, "a\nb\nc\nd\u{e9}\n");
    }

    #[test]
    fn a_close_or_a_timeout_says_what_was_awaited_and_what_came() {
        let (mut x, _) = session(&[b"Login incorrect"]);
        let e = wait(&mut x, &["> $"]).unwrap_err();
        assert!(e.to_string().contains("closed the connection while fencebox waited for the prompt (it printed last: \"Login incorrect\")"), "{e}");
        // Timeouts the transport reports before the deadline are waited on, to the close.
        let (mut x, _) = session(&[b"", b"", b"", b""]);
        let e = wait(&mut x, &["> $"]).unwrap_err();
        assert!(matches!(e, ExpectError::Closed { .. }), "{e:?}");
    }

    #[test]
    fn a_flood_without_the_prompt_is_an_error_not_a_hang() {
        let big = vec![b'x'; 4096];
        let chunks: Vec<&[u8]> = std::iter::repeat_n(big.as_slice(), 300).collect();
        let (mut x, _) = session(&chunks);
        let e = wait(&mut x, &["> $"]).unwrap_err();
        assert!(matches!(e, ExpectError::Flooded { .. }), "{e:?}");
    }

    #[test]
    fn a_match_across_reads_is_found_after_searches_that_failed() {
        // The prompt's pattern spans a line end, the two halves in different reads.
        let (mut x, _) = session(&[b"Outlet   State\r\n", b"1  on\r\nconfirm", b"?\r\n(y/n) "]);
        let f = wait(&mut x, &[r"confirm\?\n\(y/n\) $"]).unwrap();
        assert_eq!(f.before, "Outlet   State\n1  on\n");
    }

    #[test]
    fn resuming_goes_two_lines_back_and_at_most_4_kib() {
        assert_eq!(resume_at("a\nbb\nccc", 9), 2);
        assert_eq!(resume_at("abc", 3), 0);
        let long = "x".repeat(10_000);
        assert_eq!(resume_at(&long, 10_000), 10_000 - LOOKBACK_BYTES);
        assert_eq!(resume_at("é", 1), 0, "a character boundary");
    }

    #[test]
    fn lines_end_with_the_sessions_eol() {
        let (mut x, written) = session(&[]);
        let clock = RealClock::started_at(Instant::now());
        x.send_line("virsh list --all", false, &clock, Duration::from_secs(1))
            .unwrap();
        assert_eq!(&*written.lock().unwrap(), b"virsh list --all\n");
    }

    #[test]
    fn an_unterminated_escape_longer_than_the_limit_is_not_held_forever() {
        let mut junk = b"\x1b[".to_vec();
        junk.extend(std::iter::repeat_n(b'1', 100));
        junk.extend_from_slice(b"> ");
        let (mut x, _) = session(&[&junk]);
        assert!(wait(&mut x, &["> $"]).is_ok());
    }
}
