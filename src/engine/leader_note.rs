//! Which etcd endpoint leads, noted beside this host's local locks (`etcd-leader` in the
//! lock directory), so that a call sends its writes to the leader first: a write a
//! follower takes is forwarded to the leader, a hop that costs each a tenth to a third of
//! its time on loopback. The note is a shortcut only. A missing or stale one costs that
//! hop; a noted member that is gone is left as any dead member is, and the call's check
//! then notes the leader it finds, or, when this host cannot reach the leader, that no
//! endpoint is to be preferred until another term.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::etcd::{Client, Term};
use crate::runtime::{log, note};

/// The note's file name in the lock directory (not a `*.lock`: `fencebox locks` skips it).
pub const FILE: &str = "etcd-leader";

/// How long a call's check of the leader may take.
const CHECK_LIMIT: Duration = Duration::from_millis(500);

/// What the file says: `<member> <term> [<endpoint>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub leader: Term,
    /// The endpoint that reaches the leader; none when none of the configured ones does,
    /// or when this host could not reach it.
    pub endpoint: Option<String>,
}

impl Note {
    /// The note in `file`, if there is a readable one (runtime::note).
    pub fn read(file: &Path) -> Option<Note> {
        let text = note::read(file)?;
        let mut words = text.split_whitespace();
        let leader = Term {
            member: words.next()?.parse().ok()?,
            term: words.next()?.parse().ok()?,
        };
        let endpoint = words.next().map(str::to_string);
        Some(Note { leader, endpoint })
    }

    /// Whether the call's first write, answered by `by`, shows that nothing changed since
    /// the note: the noted leader answered in the noted term (or, with no endpoint noted,
    /// the term is the same: the leader is still the one this host could not reach).
    pub fn holds_for(&self, by: Option<Term>) -> bool {
        match (by, &self.endpoint) {
            (Some(by), Some(_)) => by == self.leader,
            (Some(by), None) => by.term == self.leader.term,
            (None, _) => false,
        }
    }

    fn write(&self, file: &Path) -> std::io::Result<()> {
        let mut line = format!("{} {}", self.leader.member, self.leader.term);
        if let Some(e) = &self.endpoint {
            line = format!("{line} {e}");
        }
        note::write(file, &line)
    }
}

/// A check of who leads, on a thread of its own once the call has joined the queue, so
/// that it overlaps the call's work; the call waits for it only briefly as it ends.
pub struct Check {
    done: mpsc::Receiver<()>,
}

impl Check {
    /// Ask who leads and note it in `file`. `left`: the endpoint this call asked first
    /// and had to leave; it is not noted as the way to the leader.
    pub fn start(client: &Client, file: PathBuf, left: Option<String>) -> Option<Check> {
        // A cursor of its own: its tries must not move the call's.
        let client = client.for_call(Some(client.current_endpoint()));
        let (tell, done) = mpsc::channel();
        let current = log::current();
        std::thread::Builder::new()
            .name("etcd-leader".into())
            .spawn(move || {
                let check = || note_leader(&client, &file, left.as_deref());
                match current {
                    Some(l) => log::scope(&l, check),
                    None => check(),
                }
                let _ = tell.send(());
            })
            .ok()?;
        Some(Check { done })
    }

    /// Wait at most `limit` for the check: a process that ends before it only leaves the
    /// note as it was.
    pub fn finish(self, limit: Duration) {
        let _ = self.done.recv_timeout(limit);
    }
}

fn note_leader(client: &Client, file: &Path, left: Option<&str>) {
    let found = client.leader(Instant::now() + CHECK_LIMIT);
    let note = match found {
        Ok((leader, endpoint)) => Note {
            leader,
            endpoint: endpoint.filter(|e| Some(e.as_str()) != left),
        },
        Err(e) => {
            log_debug!(1, "could not ask etcd which member leads ({e})");
            let _ = std::fs::remove_file(file);
            return;
        }
    };
    if note.endpoint.is_none() {
        log_debug!(
            1,
            "the etcd leader (member {:x}) is not reachable through the endpoints from here; writes go through followers",
            note.leader.member
        );
    }
    if let Err(e) = note.write(file) {
        log_debug!(
            1,
            "could not note the etcd leader in {} ({e})",
            file.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_read_back_and_garbage_is_no_note() {
        let d = note::test_dir("leader-read");
        let file = d.join(FILE);
        let leader = Term {
            member: u64::MAX - 1,
            term: 7,
        };
        for endpoint in [Some("http://127.0.0.1:2379".to_string()), None] {
            let n = Note {
                leader,
                endpoint: endpoint.clone(),
            };
            n.write(&file).unwrap();
            assert_eq!(Note::read(&file), Some(n));
        }
        for garbage in ["", "12", "x 3 http://a", "1 -2 http://a"] {
            std::fs::write(&file, garbage).unwrap();
            assert_eq!(Note::read(&file), None, "{garbage:?}");
        }
    }

    #[test]
    fn a_note_holds_while_its_leader_answers_in_its_term() {
        let leader = Term { member: 2, term: 5 };
        let other = Term { member: 1, term: 5 };
        let later = Term { member: 2, term: 6 };
        let reached = Note {
            leader,
            endpoint: Some("http://b".into()),
        };
        assert!(reached.holds_for(Some(leader)));
        assert!(!reached.holds_for(Some(other)));
        assert!(!reached.holds_for(Some(later)));
        assert!(!reached.holds_for(None));
        // Not reachable from here: any member in the same term means no news.
        let unreached = Note {
            endpoint: None,
            ..reached
        };
        assert!(unreached.holds_for(Some(other)));
        assert!(!unreached.holds_for(Some(later)));
    }
}
