//! Fencing policy: what on, off, reboot, status, list and monitor mean for every device
//! alike, and the typed outcome an action ends with.

pub mod flow;
pub mod leader_note;
pub mod lock;
pub mod outcome;
pub mod render;
pub mod run;
pub mod spare_lease;
