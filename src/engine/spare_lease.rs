//! A lease handed on from one call to the next on this host (`etcd-lease` in the lock
//! directory), so that a call soon after another takes its etcd lock in two writes (the
//! queue entry, its removal) rather than three: granting a lease is a raft commit of its
//! own, a millisecond or more of every call.
//!
//! A call that ends with its lease alive removes its queue entry instead of revoking the
//! lease, and notes the lease with the moment of its last renewal, measured on this boot's
//! clock before the renewal was asked for (etcd counts the TTL from later, so the lease
//! lives at least that long; a new leader only extends leases, unless etcd's lease
//! checkpoints are turned on). The next call takes the note away (emptied under the
//! file's lock, so no two calls share a lease) and uses the lease only if at least two
//! thirds of its TTL are left, as a fresh lease has when its first renewal is due; its
//! keeper renews it from there. A lease etcd no longer knows (revoked meanwhile) is
//! refused by the queue's transaction, and the call takes a fresh one. A spare lease
//! nobody takes carries no key and expires by itself.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use crate::etcd::LeaseId;
use crate::runtime::note;
use crate::runtime::site::EtcdLocks;

/// The note's file name in the lock directory (not a `*.lock`: `fencebox locks` skips it).
pub const FILE: &str = "etcd-lease";

/// A lease taken from the note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spare {
    pub lease: LeaseId,
    /// Its time left at least, when it was taken.
    pub left: Duration,
    /// When it was last renewed (or granted), on the boot clock.
    pub renewed_at: Duration,
}

/// Take the spare lease noted in `dir` for `settings`, if it has at least two thirds of
/// the TTL left. A note for other settings, from another boot, or too old, is taken away
/// all the same (its lease expires unused).
pub fn claim(dir: &Path, settings: &EtcdLocks) -> Option<Spare> {
    let text = note::take(&dir.join(FILE))?;
    let mut words = text.split_whitespace();
    let lease = LeaseId(words.next()?.parse().ok()?);
    let ttl = Duration::from_secs(words.next()?.parse().ok()?);
    let cluster: u64 = words.next()?.parse().ok()?;
    let renewed_at = Duration::from_millis(words.next()?.parse().ok()?);
    let boot = words.next()?;
    if lease.0 <= 0
        || ttl != asked_ttl(settings)
        || cluster != fingerprint(settings)
        || boot != boot_id()?
    {
        return None;
    }
    // A renewal that has not happened yet is no renewal (a note edited by hand).
    let left = time_left(renewed_at, ttl).filter(|l| *l <= ttl)?;
    usable(left, ttl).then_some(Spare {
        lease,
        left,
        renewed_at,
    })
}

/// Note `lease`, last renewed at `renewed_at` on the boot clock, for the next call, if it
/// will still be of use to one; whether it was noted.
pub fn hand_on(
    dir: &Path,
    settings: &EtcdLocks,
    lease: LeaseId,
    renewed_at: Duration,
) -> std::io::Result<bool> {
    let ttl = asked_ttl(settings);
    let boot = boot_id();
    let left = time_left(renewed_at, ttl);
    let (Some(boot), Some(left)) = (boot, left) else {
        return Ok(false);
    };
    if !usable(left, ttl) {
        return Ok(false);
    }
    let line = format!(
        "{} {} {} {} {boot}",
        lease.0,
        ttl.as_secs(),
        fingerprint(settings),
        renewed_at.as_millis()
    );
    note::leave(&dir.join(FILE), &line).map(|()| true)
}

/// What is left at least of a lease of `ttl` last renewed at `renewed_at` (None: nothing).
fn time_left(renewed_at: Duration, ttl: Duration) -> Option<Duration> {
    // The boot clock counts in hundredths: now rounded up, the renewal was rounded down.
    let now = since_boot()? + Duration::from_millis(10);
    (renewed_at + ttl).checked_sub(now)
}

/// Whether a lease with `left` of its `ttl` may be taken by a call: as much time as a
/// fresh one has when its first renewal is due.
fn usable(left: Duration, ttl: Duration) -> bool {
    left >= ttl * 2 / 3
}

/// This boot of the host (the boot clock starts again at each), read once per process.
fn boot_id() -> Option<&'static str> {
    static ID: OnceLock<Option<String>> = OnceLock::new();
    ID.get_or_init(|| {
        let text = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
        Some(text.trim().to_string()).filter(|t| !t.is_empty() && !t.contains(' '))
    })
    .as_deref()
}

/// The TTL a lease is asked for: whole seconds, at least one (etcd may raise it, never
/// lower it).
pub fn asked_ttl(settings: &EtcdLocks) -> Duration {
    Duration::from_secs(settings.ttl.as_secs().max(1))
}

/// The time since this host booted, suspended time included (CLOCK_BOOTTIME, as the
/// kernel shows it in /proc/uptime, in hundredths of a second, rounded down). One clock
/// for every process, which no one sets.
pub fn since_boot() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/uptime").ok()?;
    let first = text.split_whitespace().next()?;
    let (seconds, hundredths) = first.split_once('.')?;
    Some(
        Duration::from_secs(seconds.parse().ok()?)
            + Duration::from_millis(hundredths.parse::<u64>().ok()? * 10),
    )
}

/// Which cluster and prefix a note is for: a lease of one cluster means nothing in another.
fn fingerprint(settings: &EtcdLocks) -> u64 {
    let mut h = DefaultHasher::new();
    settings.endpoints.hash(&mut h);
    settings.prefix.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::site::OnUnreachable;

    fn settings(ttl: u64) -> EtcdLocks {
        EtcdLocks {
            endpoints: vec!["http://127.0.0.1:2379".into()],
            ca: None,
            certificate: None,
            key: None,
            prefix: "fencebox/".into(),
            ttl: Duration::from_secs(ttl),
            connect_timeout: Duration::from_secs(2),
            on_unreachable: OnUnreachable::Fail,
        }
    }

    #[test]
    fn the_boot_clock_reads_and_moves_on() {
        let a = since_boot().unwrap();
        std::thread::sleep(Duration::from_millis(30));
        let b = since_boot().unwrap();
        assert!(b > a && a > Duration::ZERO, "{a:?} {b:?}");
    }

    #[test]
    fn a_fresh_lease_is_handed_on_once() {
        let d = note::test_dir("spare-once");
        let s = settings(10);
        let now = since_boot().unwrap();
        assert!(hand_on(&d, &s, LeaseId(0x7fff_0000_0000_0001), now).unwrap());
        let spare = claim(&d, &s).unwrap();
        assert_eq!(spare.lease, LeaseId(0x7fff_0000_0000_0001));
        assert_eq!(spare.renewed_at, now);
        assert!(spare.left > Duration::from_millis(9_900), "{spare:?}");
        assert!(spare.left <= Duration::from_secs(10), "{spare:?}");
        assert_eq!(claim(&d, &s), None, "a lease goes to one call only");
    }

    #[test]
    fn an_old_or_foreign_lease_is_not_used_and_its_note_goes() {
        let d = note::test_dir("spare-old");
        let s = settings(10);
        let now = since_boot().unwrap();
        // A third of the TTL gone, and a bit more: not enough left, and not noted.
        let old = now.saturating_sub(Duration::from_millis(3_400));
        assert!(!hand_on(&d, &s, LeaseId(5), old).unwrap());
        assert_eq!(claim(&d, &s), None);
        // Exactly in time: still taken.
        assert!(hand_on(
            &d,
            &s,
            LeaseId(5),
            now.saturating_sub(Duration::from_secs(3))
        )
        .unwrap());
        assert!(claim(&d, &s).is_some());
        // Another TTL, another cluster, another prefix.
        let mut others = vec![settings(20), settings(10), settings(10)];
        others[1].endpoints.push("http://127.0.0.1:2380".into());
        others[2].prefix = "elsewhere/".into();
        for other in others {
            hand_on(&d, &other, LeaseId(5), now).unwrap();
            assert_eq!(claim(&d, &s), None);
        }
        // Too old when written by hand, and taken all the same.
        let line = |lease: i64, at: Duration, boot: &str| {
            format!("{lease} 10 {} {} {boot}", fingerprint(&s), at.as_millis())
        };
        let this_boot = boot_id().unwrap();
        note::leave(&d.join(FILE), &line(5, old, this_boot)).unwrap();
        assert_eq!(claim(&d, &s), None);
        let left = std::fs::read_to_string(d.join(FILE)).unwrap();
        assert_eq!(left.trim(), "", "taken all the same");
        // A renewal to come (another boot's clock, an edit), another boot, lease 0 or
        // below: never taken, whatever time they seem to leave.
        let later = now + Duration::from_secs(3600);
        for bad in [
            line(5, later, this_boot),
            line(5, now, "0a1b2c3d-0000-4000-8000-000000000000"),
            line(0, now, this_boot),
            line(-5, now, this_boot),
        ] {
            note::leave(&d.join(FILE), &bad).unwrap();
            assert_eq!(claim(&d, &s), None, "{bad}");
        }
        note::leave(&d.join(FILE), &line(5, now, this_boot)).unwrap();
        assert!(
            claim(&d, &s).is_some(),
            "the same line, well formed, is taken"
        );
        for garbage in ["", "5 10", "x 10 1 1", "5 10 1 -3", "-"] {
            std::fs::write(d.join(FILE), garbage).unwrap();
            assert_eq!(claim(&d, &s), None, "{garbage:?}");
        }
    }
}
