//! One-line notes that calls leave beside this host's lock files for the calls after them
//! (the etcd leader, a lease to hand on). A note is only ever a shortcut: one that is
//! missing, garbled, a link or not a plain file reads as no note.
//!
//! Two kinds: a note replaced whole (`write`: a file of its own renamed over it), which
//! anyone may read at any time without seeing half a line; and a slot that one call fills
//! and the next empties (`leave`, `take`): a record of fixed size rewritten in place under
//! its file's lock, so that a call passing something on neither creates a file (a new
//! inode is the dearest part of that on ext4) nor truncates one.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// The longest note read: a line, never a file someone put there by mistake.
const LONGEST: u64 = 512;

/// The note in `file`, if there is a readable one (never through a symbolic link, never
/// waiting on a FIFO, never more than a line).
pub fn read(file: &Path) -> Option<String> {
    let mut f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(file)
        .ok()?;
    if !f.metadata().ok()?.is_file() {
        return None;
    }
    let mut text = String::new();
    (&mut f).take(LONGEST).read_to_string(&mut text).ok()?;
    Some(text)
}

/// Write `line` as the note in `file`, readable by this user only.
pub fn write(file: &Path, line: &str) -> std::io::Result<()> {
    // A name of this write's own, in this process or another.
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let n = WRITES.fetch_add(1, Ordering::Relaxed);
    let mut fresh = file.as_os_str().to_owned();
    fresh.push(format!(".{}-{n}.new", std::process::id()));
    let fresh = std::path::PathBuf::from(fresh);
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&fresh)
        .and_then(|mut f| writeln!(f, "{line}"))
        .and_then(|()| std::fs::rename(&fresh, file));
    if written.is_err() {
        let _ = std::fs::remove_file(&fresh);
    }
    written
}

/// The size of a slot's record: a line, padded with spaces.
const SLOT: usize = 128;

/// Leave `line` in the slot `file` (created readable by this user only), replacing what
/// it held.
pub fn leave(file: &Path, line: &str) -> std::io::Result<()> {
    if line.len() >= SLOT || line.contains('\n') {
        return Err(std::io::Error::other("a note longer than a slot"));
    }
    let f = open_slot(file, true)?;
    // Never waited for: a call stopped while it holds the slot must not stop the others.
    f.try_lock().map_err(std::io::Error::other)?;
    f.write_all_at(format!("{line:<width$}\n", width = SLOT - 1).as_bytes(), 0)
}

/// Take what the slot `file` holds and empty it; of calls taking at once, at most one
/// gets it (one that finds the slot busy gets nothing).
pub fn take(file: &Path) -> Option<String> {
    let f = open_slot(file, false).ok()?;
    f.try_lock().ok()?;
    let mut record = [0u8; SLOT];
    let n = f.read_at(&mut record, 0).ok()?;
    let text = std::str::from_utf8(&record[..n]).ok()?.trim();
    if text.is_empty() {
        return None;
    }
    // Emptied in place (no truncation, which ext4 makes dear, flushing at close too);
    // not emptied, not taken: another call could take it as well.
    f.write_all_at(&[b' '; SLOT], 0).ok()?;
    Some(text.to_string())
}

fn open_slot(file: &Path, create: bool) -> std::io::Result<File> {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(create)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(file)?;
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::other("not a plain file"));
    }
    Ok(f)
}

/// A fresh, empty directory for a test's notes.
#[cfg(test)]
pub fn test_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("fencebox-note-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("a scratch directory");
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_note_is_read_back_a_slot_taken_once_and_never_through_a_link_or_fifo() {
        let d = test_dir("rw");
        let file = d.join("note");
        write(&file, "1 2 three").unwrap();
        assert_eq!(read(&file).as_deref(), Some("1 2 three\n"));
        // Nothing of the write is left behind.
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 1);
        std::fs::remove_file(&file).unwrap();
        let slot = d.join("slot");
        assert_eq!(take(&slot), None, "nothing left yet");
        leave(&slot, "a longer line than the next").unwrap();
        leave(&slot, "4 5 six").unwrap();
        assert_eq!(take(&slot).as_deref(), Some("4 5 six"));
        assert_eq!(take(&slot), None, "a slot's line is taken once");
        assert_eq!(std::fs::metadata(&slot).unwrap().len(), SLOT as u64);
        assert!(leave(&slot, &"y".repeat(SLOT)).is_err());
        // Many takers at once (threads, as in `fencebox serve`, each with its own open
        // file): one gets the line.
        leave(&slot, "7 8 nine").unwrap();
        let got: Vec<_> = std::thread::scope(|s| {
            let takers: Vec<_> = (0..8).map(|_| s.spawn(|| take(&slot))).collect();
            takers
                .into_iter()
                .filter_map(|t| t.join().unwrap())
                .collect()
        });
        assert!(got.len() <= 1, "{got:?}");
        // A slot held by a stopped call is not waited for.
        leave(&slot, "7 8 nine").unwrap();
        let held = File::open(&slot).unwrap();
        held.lock().unwrap();
        assert_eq!(take(&slot), None);
        assert!(leave(&slot, "1").is_err());
        drop(held);
        assert_eq!(take(&slot).as_deref(), Some("7 8 nine"));
        assert!(leave(&slot, "two\nlines").is_err());
        let mode = std::fs::metadata(&slot).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::remove_file(&slot).unwrap();
        let made = std::process::Command::new("mkfifo").arg(&file).status();
        assert!(made.unwrap().success());
        assert_eq!(read(&file), None);
        assert_eq!(take(&file), None);
        assert!(leave(&file, "x").is_err());
        std::fs::remove_file(&file).unwrap();
        std::fs::write(d.join("elsewhere"), "1 2 http://a\n").unwrap();
        std::os::unix::fs::symlink(d.join("elsewhere"), &file).unwrap();
        assert_eq!(read(&file), None);
        assert_eq!(take(&file), None);
        assert!(leave(&file, "x").is_err());
        assert_eq!(
            std::fs::read_to_string(d.join("elsewhere")).unwrap(),
            "1 2 http://a\n",
            "a link's target is left alone"
        );
        // Only a line of it is read.
        std::fs::remove_file(&file).unwrap();
        let long = "x".repeat(4096);
        write(&file, &long).unwrap();
        assert_eq!(read(&file).map(|t| t.len()), Some(LONGEST as usize));
    }
}
