//! The context of one fencing call: everything the engine, the backends and the locks
//! need from around them, passed down instead of read from process globals. Two calls
//! running beside each other in one process share nothing mutable through it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::runtime::clock::SharedClock;
use crate::runtime::env::Env;
use crate::runtime::log::Log;

/// Who a call is within this process and among processes: the pid and a counter, so lock
/// holders and SNMP request ids of concurrent calls never collide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CallId {
    pub pid: u32,
    pub seq: u64,
}

static NEXT_SEQ: AtomicU64 = AtomicU64::new(1);

impl CallId {
    /// A new identity, different from every other call of this process.
    pub fn next() -> CallId {
        CallId {
            pid: std::process::id(),
            seq: NEXT_SEQ.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// A number that differs between calls, to start request-id sequences from.
    pub fn seed(self) -> u64 {
        (u64::from(self.pid) << 24) ^ self.seq.wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }
}

impl std::fmt::Display for CallId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.seq == 1 {
            write!(f, "pid {}", self.pid)
        } else {
            write!(f, "pid {} call {}", self.pid, self.seq)
        }
    }
}

/// Asks a running call to stop at its next step (a service shutting down, a client gone).
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

pub struct Call<'a> {
    pub id: CallId,
    pub env: &'a Env,
    /// The call's time: every sleep and timeout of the call, the backend's included.
    pub clock: SharedClock,
    pub log: Arc<Log>,
    pub cancel: Cancel,
}
