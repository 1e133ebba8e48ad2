//! fencebox: the fence agents of a Pacemaker cluster in one binary.
//!
//! - `contract`: the fence-agents protocol (options, input, actions, metadata, engine).
//! - `device`: device backends behind the `Device` trait.
//! - `agents`: agent definitions, read from the data files in `agents/`.
//! - `runtime`: logging, clock and the per-device lock.
//! - `etcd`: etcd's v3 JSON gateway (leases, locks), for device locks across hosts.
//! - `fleet`: inventory, power chain and power commands over many nodes.
//! - `serve`: the power service (`fencebox serve`).
//! - `discover`: a scan of addresses for fencing devices (`fencebox discover`).
//! - `cli`: the multi-call entry point.

// One module calls C (ssh::sign: libssh2's signing callback); it says why it may.
#![deny(unsafe_code)]

#[macro_use]
pub mod runtime;
pub mod cli;
pub mod contract;
pub mod device;
pub mod discover;
pub mod engine;
pub mod etcd;
pub mod fleet;
pub mod ipmi;
pub mod nut;
pub mod serve;
pub mod shell;
pub mod snmp;
pub mod ssh;
pub mod telnet;
