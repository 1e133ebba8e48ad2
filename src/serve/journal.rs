//! The job journal: one JSON line per event of a job (queued, started, halfway through a
//! reboot, ended), appended as it happens, so that a service killed mid-job knows on its
//! next start what it left undone: "node07 (pdu1:7) was switched off, the on was never
//! sent". Lines hold who asked (a token's name or a client address), never a token.
//!
//! A journal that grows past its size limit is rotated: the jobs still unfinished are
//! copied into a fresh file, which replaces the journal once the old one is kept as
//! `<journal>.1` (the one before is dropped). The journal's path holds, at every moment,
//! either the old file or the new one, so a crash during the rotation loses nothing a
//! restart needs.

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
    /// The first line of a rotated journal: the highest job id so far (ids are never
    /// reused) and where the earlier lines went.
    Rotated {
        last_job: u64,
        at: String,
        previous: String,
    },
}

impl Event {
    /// Whether this event closes its job (ended, or found unfinished by a start).
    pub fn ends_job(&self) -> bool {
        matches!(self, Event::Ended { .. } | Event::Interrupted { .. })
    }

    pub fn job(&self) -> u64 {
        match self {
            Event::Queued { job, .. }
            | Event::Started { job, .. }
            | Event::Halfway { job, .. }
            | Event::Ended { job, .. }
            | Event::Interrupted { job, .. } => *job,
            Event::Rotated { last_job, .. } => *last_job,
        }
    }
}

pub struct Journal {
    path: PathBuf,
    /// Rotate when the file would grow past this many bytes (0: never).
    limit: u64,
    writer: Mutex<Writer>,
}

struct Writer {
    file: std::fs::File,
    size: u64,
    /// The size at which to rotate next: the limit, or after a failed rotation one limit
    /// further on (so a file system that cannot rotate is not retried at every line).
    rotate_at: u64,
    /// The lines of every job not yet ended, to carry into a rotated journal.
    open: BTreeMap<u64, Vec<String>>,
    last_job: u64,
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
    /// `limit`: the size in bytes past which the journal is rotated (0: never).
    pub fn open(path: &Path, limit: u64) -> Result<Recovered, String> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let file = open_file(path, false)?;
        let (mut jobs, next_id, cut) = read_events(&file, path)?;
        let size = file
            .metadata()
            .map_err(|e| format!("journal {}: {e}", path.display()))?
            .len();
        let journal = Journal {
            path: path.to_path_buf(),
            limit,
            writer: Mutex::new(Writer {
                file,
                size,
                rotate_at: limit,
                open: BTreeMap::new(),
                last_job: next_id.saturating_sub(1),
            }),
        };
        // A cut line leaves no newline behind: start afresh on a line of our own.
        if cut {
            journal.write_raw("\n")?;
        }
        let mut interrupted = Vec::new();
        let now = crate::runtime::log::timestamp();
        for (id, events) in jobs.iter_mut() {
            let finished = events.iter().any(Event::ends_job);
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

    /// Append one event (one `write` of a whole line, so concurrent jobs never mix),
    /// rotating the journal first when the line would take it past its limit.
    pub fn append(&self, ev: &Event) -> Result<(), String> {
        let mut line = serde_json::to_string(ev).map_err(|e| e.to_string())?;
        line.push('\n');
        let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        if self.limit > 0 && w.size + line.len() as u64 > w.rotate_at {
            match self.rotate(&mut w) {
                Ok(()) => w.rotate_at = self.limit,
                Err(e) => {
                    // The old file goes on growing: better than an event lost.
                    eprintln!(
                        "fencebox serve: journal not rotated (tried again after {} MiB more): {e}",
                        self.limit >> 20
                    );
                    w.rotate_at = w.size.saturating_add(self.limit);
                }
            }
        }
        w.write(&line)
            .map_err(|e| format!("journal {}: {e}", self.path.display()))?;
        let id = ev.job();
        w.last_job = w.last_job.max(id);
        if ev.ends_job() {
            w.open.remove(&id);
        } else if !matches!(ev, Event::Rotated { .. }) {
            w.open.entry(id).or_default().push(line);
        }
        Ok(())
    }

    fn write_raw(&self, text: &str) -> Result<(), String> {
        let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        w.write(text)
            .map_err(|e| format!("journal {}: {e}", self.path.display()))
    }

    /// The new journal (a `Rotated` line and every unfinished job's lines) is written
    /// beside the old one; the old one is kept as `<journal>.1` by a second name, and the
    /// new one takes the journal's name in one rename.
    fn rotate(&self, w: &mut Writer) -> Result<(), String> {
        let kept = suffixed(&self.path, ".1");
        let fresh_path = suffixed(&self.path, ".new");
        let shown = |p: &Path, e: std::io::Error| format!("{}: {e}", p.display());
        let _ = std::fs::remove_file(&fresh_path);
        let mut fresh = open_file(&fresh_path, true)?;
        let mut text = serde_json::to_string(&Event::Rotated {
            last_job: w.last_job,
            at: crate::runtime::log::timestamp(),
            previous: kept.display().to_string(),
        })
        .map_err(|e| e.to_string())?;
        text.push('\n');
        for lines in w.open.values() {
            text.extend(lines.iter().map(String::as_str));
        }
        fresh
            .write_all(text.as_bytes())
            .and_then(|()| fresh.sync_data())
            .map_err(|e| shown(&fresh_path, e))?;
        match std::fs::remove_file(&kept) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(shown(&kept, e)),
            _ => {}
        }
        std::fs::hard_link(&self.path, &kept).map_err(|e| shown(&kept, e))?;
        std::fs::rename(&fresh_path, &self.path).map_err(|e| shown(&self.path, e))?;
        w.file = fresh;
        w.size = text.len() as u64;
        Ok(())
    }
}

impl Writer {
    fn write(&mut self, text: &str) -> std::io::Result<()> {
        self.file.write_all(text.as_bytes())?;
        self.size += text.len() as u64;
        Ok(())
    }
}

/// `path` with `suffix` added to its file name.
fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// The journal file at `path` (mode 0640, never through a symbolic link), for appending;
/// `fresh`: a new file that must not exist yet.
fn open_file(path: &Path, fresh: bool) -> Result<std::fs::File, String> {
    let mut opts = std::fs::OpenOptions::new();
    if fresh {
        opts.create_new(true);
    } else {
        opts.create(true);
    }
    opts.append(true)
        .read(true)
        .mode(0o640)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| format!("journal {}: {e}", path.display()))
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
        if matches!(ev, Event::Rotated { .. }) {
            continue;
        }
        let ends = ev.ends_job();
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
        let r = Journal::open(&path, 0).unwrap();
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
        let r = Journal::open(&path, 0).unwrap();
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
        let again = Journal::open(&path, 0).unwrap();
        assert!(again.interrupted.is_empty(), "reported once");
        assert!(matches!(
            again.jobs[&2].last(),
            Some(Event::Interrupted { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_full_journal_is_rotated_keeping_unfinished_jobs_and_the_job_ids() {
        let dir = std::env::temp_dir().join(format!("fb-journal-rot-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("journal.jsonl");
        let started = |job| Event::Started {
            job,
            at: "t".into(),
        };
        let ended = |job| Event::Ended {
            job,
            at: "t".into(),
            ok: true,
            result: serde_json::json!({}),
        };
        let j = Journal::open(&path, 2000).unwrap().journal;
        // Job 1 stays unfinished while a hundred others come and go.
        j.append(&queued(1, "reboot")).unwrap();
        j.append(&started(1)).unwrap();
        for id in 2..102 {
            j.append(&queued(id, "on")).unwrap();
            j.append(&ended(id)).unwrap();
        }
        let size = std::fs::metadata(&path).unwrap().len();
        assert!(size <= 2000, "rotated: {size} bytes");
        let kept = dir.join("journal.jsonl.1");
        assert!(std::fs::metadata(&kept).unwrap().len() > 1000);
        assert!(!dir.join("journal.jsonl.new").exists());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("{\"event\":\"rotated\""), "{text}");
        drop(j);
        // A kill -9 now: the unfinished job is in the new file, and ids go on.
        let r = Journal::open(&path, 2000).unwrap();
        assert_eq!(r.next_id, 102);
        assert_eq!(r.interrupted.len(), 1);
        assert_eq!(r.interrupted[0].0, 1);
        assert!(
            r.interrupted[0].1.contains("reboot of node07"),
            "{}",
            r.interrupted[0].1
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
