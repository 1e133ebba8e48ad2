//! What every call needs around the device: logging, the clock, the per-device lock.

pub mod call;
pub mod clock;
pub mod env;
#[macro_use]
pub mod log;
pub mod lock;
pub mod net;
pub mod note;
pub mod script;
pub mod site;
pub mod stream;
