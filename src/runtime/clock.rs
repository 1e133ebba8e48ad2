//! Time, behind a trait so that every wait of a call (the engine's delays and polling, lock
//! waits, backend retransmissions and command tracking, password scripts) can be tested
//! without sleeping for real. A call has one clock; the sessions of its backend keep a
//! handle to it, so it is shared between threads (`Send + Sync`).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub trait Clock: Send + Sync {
    /// Time since this call started.
    fn elapsed(&self) -> Duration;

    fn sleep(&self, d: Duration);

    /// Wait for something outside the process (a lock helper's answer, a datagram) at
    /// most `limit`. `wait` blocks in the kernel for at most the time it is given and
    /// says whether what it waits for came. The real clock hands `limit` on; a fake one
    /// only looks (a zero wait) and, when nothing came, moves on by `limit`.
    fn block(&self, limit: Duration, wait: &mut dyn FnMut(Duration) -> bool) -> bool;
}

/// The clock handle a call and its sessions share.
pub type SharedClock = Arc<dyn Clock>;

pub struct RealClock {
    start: Instant,
}

impl RealClock {
    pub fn started_at(start: Instant) -> Self {
        RealClock { start }
    }

    /// A clock for a call starting now.
    pub fn shared_now() -> SharedClock {
        Arc::new(RealClock::started_at(Instant::now()))
    }
}

impl Clock for RealClock {
    fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
    fn sleep(&self, d: Duration) {
        if !d.is_zero() {
            std::thread::sleep(d);
        }
    }
    fn block(&self, limit: Duration, wait: &mut dyn FnMut(Duration) -> bool) -> bool {
        wait(limit)
    }
}

/// A point in a call's time by its clock: the deadline of a wait, and how much of it is
/// left. Kernel waits (socket reads, connects) take `left()` as their timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    /// Clock time (since the call started) at which the wait ends; None: never.
    at: Option<Duration>,
}

impl Deadline {
    /// `limit` from now by `clock`; a limit beyond what a Duration holds is none.
    pub fn after(clock: &dyn Clock, limit: Duration) -> Deadline {
        Deadline {
            at: clock.elapsed().checked_add(limit),
        }
    }

    /// `limit` from now, or never when there is no limit.
    pub fn within(clock: &dyn Clock, limit: Option<Duration>) -> Deadline {
        match limit {
            Some(l) => Deadline::after(clock, l),
            None => Deadline { at: None },
        }
    }

    /// The time left, None once the deadline has passed; `Duration::MAX` without one.
    pub fn left(&self, clock: &dyn Clock) -> Option<Duration> {
        match self.at {
            None => Some(Duration::MAX),
            Some(at) => Some(at.saturating_sub(clock.elapsed())).filter(|d| !d.is_zero()),
        }
    }

    pub fn is_unlimited(&self) -> bool {
        self.at.is_none()
    }
}

/// What a fake clock was asked to do, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waited {
    Slept(Duration),
    /// A kernel wait (`block`) that ended without its event after this long.
    Blocked(Duration),
}

/// A clock that only moves when slept or blocked on; it records every wait.
#[derive(Default)]
pub struct FakeClock {
    state: Mutex<FakeState>,
}

#[derive(Default)]
struct FakeState {
    now: Duration,
    waits: Vec<Waited>,
}

impl FakeClock {
    pub fn shared() -> Arc<FakeClock> {
        Arc::new(FakeClock::default())
    }

    fn state(&self) -> MutexGuard<'_, FakeState> {
        // A test that panicked while holding it has failed already; its record still is.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn pass(&self, d: Duration, how: Waited) {
        let mut s = self.state();
        s.now = s.now.saturating_add(d);
        s.waits.push(how);
    }

    /// Every wait so far, sleeps and kernel waits, in order.
    pub fn waits(&self) -> Vec<Waited> {
        self.state().waits.clone()
    }

    /// The sleeps so far, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.waits()
            .into_iter()
            .filter_map(|w| match w {
                Waited::Slept(d) => Some(d),
                Waited::Blocked(_) => None,
            })
            .collect()
    }
}

impl Clock for FakeClock {
    fn elapsed(&self) -> Duration {
        self.state().now
    }
    fn sleep(&self, d: Duration) {
        self.pass(d, Waited::Slept(d));
    }
    fn block(&self, limit: Duration, wait: &mut dyn FnMut(Duration) -> bool) -> bool {
        let came = wait(Duration::ZERO);
        if !came {
            self.pass(limit, Waited::Blocked(limit));
        }
        came
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_counts_down_by_its_clock() {
        let clock = FakeClock::default();
        let d = Deadline::after(&clock, Duration::from_secs(3));
        assert_eq!(d.left(&clock), Some(Duration::from_secs(3)));
        clock.sleep(Duration::from_secs(2));
        assert_eq!(d.left(&clock), Some(Duration::from_secs(1)));
        clock.sleep(Duration::from_secs(1));
        assert_eq!(d.left(&clock), None);
        let never = Deadline::within(&clock, None);
        assert_eq!(never.left(&clock), Some(Duration::MAX));
        assert!(Deadline::after(&clock, Duration::MAX).is_unlimited());
    }

    #[test]
    fn a_fake_clock_moves_on_by_a_wait_that_found_nothing() {
        let clock = FakeClock::default();
        let mut given = Vec::new();
        assert!(!clock.block(Duration::from_secs(5), &mut |t| {
            given.push(t);
            false
        }));
        assert!(clock.block(Duration::from_secs(5), &mut |_| true));
        assert_eq!(given, [Duration::ZERO]);
        assert_eq!(clock.elapsed(), Duration::from_secs(5));
        assert_eq!(clock.waits(), [Waited::Blocked(Duration::from_secs(5))]);
    }
}
