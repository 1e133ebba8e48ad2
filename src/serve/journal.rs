//! The job journal: one JSON line per event of a job (queued, started, halfway through a
//! reboot, ended), appended as it happens, so that a service killed mid-job knows on its
//! next start what it left undone: "node07 (pdu1:7) was switched off, the on was never
//! sent". Lines hold who asked (a token's name or a client address), never a token.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum Event {
    Queued {
        job: u64,
        at: String,
        who: String,
        action: String,
        targets: Vec<String>,
        feeds: Vec<String>,
    },
    Started {
        job: u64,
        at: String,
    },
    /// A reboot's off half is done: these targets were confirmed off and go back on next.
    Halfway {
        job: u64,
        at: String,
        off: Vec<String>,
    },
    Ended {
        job: u64,
        at: String,
        ok: bool,
        result: serde_json::Value,
    },
    /// Found unfinished on a start: what was left undone.
    Interrupted {
        job: u64,
        at: String,
        note: String,
    },
}

impl Event {
    pub fn job(&self) -> u64 {
        match self {
            Event::Queued { job, .. }
            | Event::Started { job, .. }
            | Event::Halfway { job, .. }
            | Event::Ended { job, .. }
            | Event::Interrupted { job, .. } => *job,
        }
    }
}

pub struct Journal {
    path: PathBuf,
    file: Mutex<std::fs::File>,
}

/// What a start found in the journal.
pub struct Recovered {
    pub journal: Journal,
    /// The events of every unfinished job and of the newest finished ones, by job.
    pub jobs: BTreeMap<u64, Vec<Event>>,
    /// Jobs found unfinished, each with the note now written for it.
    pub interrupted: Vec<(u64, String)>,
    pub next_id: u64,
}

impl Journal {
    /// Open (creating, mode 0640) the journal, read what is in it, and close every job a
    /// previous run left unfinished with an `interrupted` line saying what was undone.
    pub fn open(path: &Path) -> Result<Recovered, String> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .mode(0o640)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| format!("journal {}: {e}", path.display()))?;
        let (mut jobs, next_id, cut) = read_events(&file, path)?;
        let journal = Journal {
            path: path.to_path_buf(),
            file: Mutex::new(file),
        };
        // A cut line leaves no newline behind: start afresh on a line of our own.
        if cut {
            journal.write_raw("\n")?;
        }
        let mut interrupted = Vec::new();
        let now = crate::runtime::log::timestamp();
        for (id, events) in jobs.iter_mut() {
            let finished = events
                .iter()
                .any(|e| matches!(e, Event::Ended { .. } | Event::Interrupted { .. }));
            if finished {
                continue;
            }
            let note = undone(events);
            let ev = Event::Interrupted {
                job: *id,
                at: now.clone(),
                note: note.clone(),
            };
            journal.append(&ev)?;
            events.push(ev);
            interrupted.push((*id, note));
        }
        Ok(Recovered {
            journal,
            jobs,
            interrupted,
            next_id,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one event (one `write` of a whole line, so concurrent jobs never mix).
    pub fn append(&self, ev: &Event) -> Result<(), String> {
        let mut line = serde_json::to_string(ev).map_err(|e| e.to_string())?;
        line.push('\n');
        self.write_raw(&line)
    }

    fn write_raw(&self, text: &str) -> Result<(), String> {
        let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        f.write_all(text.as_bytes())
            .map_err(|e| format!("journal {}: {e}", self.path.display()))
    }
}

/// Events by job.
type JobEvents = BTreeMap<u64, Vec<Event>>;

/// Finished jobs kept from a journal as it is read (every unfinished one is kept).
const KEEP_FINISHED: usize = 1000;

/// The journal's jobs, line by line from the open file: every unfinished job and the
/// newest finished ones (so a large journal costs no more memory than a small one); the
/// next job id; whether the last line was cut. A line that is not a whole event (a crash
/// mid-write, bytes that are not UTF-8) is skipped: the job's earlier lines tell.
fn read_events(file: &std::fs::File, path: &Path) -> Result<(JobEvents, u64, bool), String> {
    use std::io::{BufRead, BufReader, Seek};
    let mut reader = BufReader::new(file);
    reader
        .seek(std::io::SeekFrom::Start(0))
        .map_err(|e| format!("journal {}: {e}", path.display()))?;
    let mut jobs: JobEvents = BTreeMap::new();
    let mut finished: std::collections::VecDeque<u64> = std::collections::VecDeque::new();
    let (mut max_id, mut cut) = (0u64, false);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| format!("journal {}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        cut = !line.ends_with(b"\n");
        let Ok(ev) = serde_json::from_slice::<Event>(&line) else {
            continue;
        };
        let id = ev.job();
        max_id = max_id.max(id);
        let ends = matches!(ev, Event::Ended { .. } | Event::Interrupted { .. });
        jobs.entry(id).or_default().push(ev);
        if ends {
            finished.push_back(id);
            if finished.len() > KEEP_FINISHED {
                if let Some(old) = finished.pop_front() {
                    jobs.remove(&old);
                }
            }
        }
    }
    Ok((jobs, max_id + 1, cut))
}

/// What an unfinished job left undone, in one line.
fn undone(events: &[Event]) -> String {
    let (action, targets, feeds) = events
        .iter()
        .find_map(|e| match e {
            Event::Queued {
                action,
                targets,
                feeds,
                ..
            } => Some((action.as_str(), targets.join(", "), feeds.join(", "))),
            _ => None,
        })
        .unwrap_or(("?", String::new(), String::new()));
    let started = events.iter().any(|e| matches!(e, Event::Started { .. }));
    let halfway = events.iter().find_map(|e| match e {
        Event::Halfway { off, .. } => Some(off.join(", ")),
        _ => None,
    });
    let what = format!("{action} of {targets} ({feeds})");
    match (started, action, halfway) {
        (false, _, _) => format!("{what}: queued, never started; nothing was switched"),
        (true, "status", _) => format!("{what}: a read, cut short; nothing was switched"),
        (true, "reboot", Some(off)) if off.is_empty() => format!(
            "{what}: no target was confirmed off; nothing was to be switched back on, \
             the feeds' states are unknown"
        ),
        (true, "reboot", Some(off)) => format!(
            "{what}: {off} was switched off and confirmed, the on was never sent (or not confirmed)"
        ),
        (true, "reboot", None) => format!(
            "{what}: cut short while switching off; the feeds may be off or on, and were never \
             switched back on"
        ),
        (true, _, _) => {
            format!("{what}: cut short while switching; the feeds' states were not confirmed")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(job: u64, action: &str) -> Event {
        Event::Queued {
            job,
            at: "t".into(),
            who: "lab".into(),
            action: action.into(),
            targets: vec!["node07".into()],
            feeds: vec!["pdu1:7".into(), "pdu2:7".into()],
        }
    }

    #[test]
    fn an_unfinished_reboot_is_reported_once_with_what_was_undone() {
        let dir = std::env::temp_dir().join(format!("fb-journal-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("journal.jsonl");
        let r = Journal::open(&path).unwrap();
        assert_eq!(r.next_id, 1);
        let j = r.journal;
        j.append(&queued(1, "off")).unwrap();
        j.append(&Event::Started {
            job: 1,
            at: "t".into(),
        })
        .unwrap();
        j.append(&Event::Ended {
            job: 1,
            at: "t".into(),
            ok: true,
            result: serde_json::json!({}),
        })
        .unwrap();
        j.append(&queued(2, "reboot")).unwrap();
        j.append(&Event::Started {
            job: 2,
            at: "t".into(),
        })
        .unwrap();
        j.append(&Event::Halfway {
            job: 2,
            at: "t".into(),
            off: vec!["node07".into()],
        })
        .unwrap();
        j.append(&queued(3, "on")).unwrap();
        drop(j);
        // A line cut by kill -9 in the middle of a write.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        // ... cut in the middle of a character at that.
        f.write_all(b"{\"event\":\"started\",\"jo\xc3").unwrap();
        drop(f);
        let r = Journal::open(&path).unwrap();
        assert_eq!(r.next_id, 4);
        assert_eq!(r.interrupted.len(), 2);
        let (id, note) = &r.interrupted[0];
        assert_eq!(*id, 2);
        assert!(
            note.contains("node07 was switched off and confirmed, the on was never sent"),
            "{note}"
        );
        assert!(note.contains("pdu1:7, pdu2:7"), "{note}");
        assert!(
            r.interrupted[1].1.contains("never started"),
            "{}",
            r.interrupted[1].1
        );
        drop(r);
        let again = Journal::open(&path).unwrap();
        assert!(again.interrupted.is_empty(), "reported once");
        assert!(matches!(
            again.jobs[&2].last(),
            Some(Event::Interrupted { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
