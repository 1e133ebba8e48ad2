//! What every call needs around the device: logging, the clock, the per-device lock.

pub mod clock;
#[macro_use]
pub mod log;
pub mod lock;
pub mod net;
pub mod script;
