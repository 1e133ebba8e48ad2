//! Time, behind a trait so that the engine's waiting and polling can be tested without
//! sleeping for real.

use std::cell::Cell;
use std::time::{Duration, Instant};

pub trait Clock {
    /// Time since this call started.
    fn elapsed(&self) -> Duration;
    fn sleep(&self, d: Duration);
}

pub struct RealClock {
    start: Instant,
}

impl RealClock {
    pub fn started_at(start: Instant) -> Self {
        RealClock { start }
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
}

/// A clock that only moves when slept on; it records every sleep.
#[derive(Default)]
pub struct FakeClock {
    now: Cell<Duration>,
    pub sleeps: std::cell::RefCell<Vec<Duration>>,
}

impl Clock for FakeClock {
    fn elapsed(&self) -> Duration {
        self.now.get()
    }
    fn sleep(&self, d: Duration) {
        self.now.set(self.now.get().saturating_add(d));
        self.sleeps.borrow_mut().push(d);
    }
}
