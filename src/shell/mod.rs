//! Device shells (layer 2): the expect engine over a byte stream (an SSH channel or a
//! telnet connection, which the device layer opens), and dialogues as data: how a
//! device's shell is logged in to, commanded and read. It knows nothing of fence-agents'
//! options or wording; its errors are its own.

pub mod dialogue;
pub mod expect;
pub mod script;
#[cfg(test)]
mod testing;
