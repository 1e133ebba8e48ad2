//! Device backends behind one small trait. A backend knows how to reach one kind of
//! device and read or switch a plug; everything else (polling, reboot semantics, output,
//! locks) is the engine's, so every backend gets it the same way.

pub mod dummy;
pub mod ipmi;
pub mod nut;
pub mod snmp;

use crate::contract::error::{FenceError, Result};
use crate::contract::option_set::Agent;
use crate::contract::settings::Settings;
use crate::runtime::clock::SharedClock;
use crate::runtime::env::Env;
use crate::runtime::lock::DeviceIdentity;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerState {
    On,
    Off,
}

impl PowerState {
    pub fn upper(self) -> &'static str {
        match self {
            PowerState::On => "ON",
            PowerState::Off => "OFF",
        }
    }
    pub fn lower(self) -> &'static str {
        match self {
            PowerState::On => "on",
            PowerState::Off => "off",
        }
    }
}

/// One row of `list`: the plug id, its name on the device, and its state when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outlet {
    pub id: String,
    pub alias: String,
    pub state: Option<PowerState>,
}

/// What a one-shot power cycle should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CycleKind {
    Cycle,
    Diag,
}

/// What a connected device can do besides reading and switching plugs; the engine asks
/// only for what is declared here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// It can enumerate its plugs (list, list-status).
    pub list: bool,
    /// It has a one-command power cycle (method=cycle).
    pub cycle: bool,
    /// It has a diagnostic interrupt (diag).
    pub diag: bool,
}

/// A fence device before contact: who it is (for the lock) and how to reach it.
pub trait Device: Send {
    /// A connected, logged-in device; dropping it without `close` is allowed (the
    /// connection goes with it).
    type Session<'d>: Session
    where
        Self: 'd;

    /// Who this device is, for the per-device lock; known before any contact.
    fn identity(&self) -> DeviceIdentity;

    /// Whether read-only actions may run beside each other on this device.
    fn concurrent_reads(&self) -> bool {
        false
    }

    /// First contact: connect and log in. Every wait of the session goes by `clock`,
    /// the call's.
    fn connect(&mut self, clock: &SharedClock) -> Result<Self::Session<'_>>;
}

/// A logged-in device. Plugs are resolved once (`plug`) into the backend's own type, so
/// that a name is looked up once per call however often its state is polled.
pub trait Session {
    /// A plug as this device addresses it; `()` for devices without plugs.
    type Plug: Clone + std::fmt::Debug;

    fn capabilities(&self) -> Capabilities;

    /// The plug a given text names ("" for agents without plugs); an unknown plug is an
    /// error, never "off".
    fn plug(&mut self, given: &str) -> Result<Self::Plug>;

    /// The confirmed state of a plug; anything the device cannot confirm is an error.
    fn status(&mut self, plug: &Self::Plug) -> Result<PowerState>;

    /// Ask for a state; the engine confirms it through `status`.
    fn set_power(&mut self, plug: &Self::Plug, state: PowerState) -> Result<()>;

    /// Every plug (only asked when `capabilities().list`). `with_state`: the caller
    /// wants each plug's state too, where the device can give it cheaply.
    fn list(&mut self, _with_state: bool) -> Result<Vec<Outlet>> {
        Err(not_declared("list"))
    }

    /// Whether this plug has a one-command cycle (asked only of devices that declare
    /// `cycle`, when method=cycle): some devices have it for some outlets only.
    fn cyclable(&mut self, _plug: &Self::Plug) -> Result<bool> {
        Ok(self.capabilities().cycle)
    }

    /// A one-command cycle or diagnostic interrupt (only asked when declared); whether
    /// the device accepted it.
    fn cycle(&mut self, _plug: &Self::Plug, kind: CycleKind) -> Result<bool> {
        Err(not_declared(match kind {
            CycleKind::Cycle => "cycle",
            CycleKind::Diag => "diag",
        }))
    }

    /// The `monitor` check of a device with plugs: by default, that its plugs can be
    /// listed.
    fn monitor(&mut self) -> Result<()> {
        if self.capabilities().list {
            self.list(false).map(|_| ())
        } else {
            Ok(())
        }
    }

    /// Log out; errors are of no interest any more at this point.
    fn close(self);
}

fn not_declared(what: &str) -> FenceError {
    FenceError::Local(format!(
        "Failed: internal error: {what} asked of a device that does not declare it"
    ))
}

/// The device host and port from `ip` and `ipport` (`default_port` when unset).
pub fn address(settings: &Settings, default_port: u16) -> Result<(String, u16)> {
    let host = settings
        .get("ipaddr")
        .filter(|h| !h.trim().is_empty())
        .ok_or_else(|| {
            FenceError::Usage("Failed: You have to enter fence address (ip=...)".into())
        })?
        .to_string();
    let default = default_port.to_string();
    let port_text = settings.get("ipport").unwrap_or(&default);
    let port: u16 = port_text.parse().ok().filter(|p| *p > 0).ok_or_else(|| {
        FenceError::Usage(format!(
            "Failed: ipport must be a UDP port (1-65535), not '{port_text}'"
        ))
    })?;
    Ok((host, port))
}

/// A backend set up from validated settings, before any contact. The engine runs on the
/// concrete type (`engine::run` matches once), so plugs and sessions stay typed.
pub enum Backend {
    Dummy(dummy::DummyDevice),
    Snmp(snmp::SnmpDevice),
    Ipmi(ipmi::IpmiDevice),
    Nut(nut::NutDevice),
}

/// The backend an agent file names, set up from validated settings (no contact yet).
pub fn open(agent: &Agent, settings: &Settings, env: &Env) -> Result<Backend> {
    Ok(match agent.def.backend {
        "dummy" => Backend::Dummy(dummy::DummyDevice::new(settings, env)?),
        "snmp" => Backend::Snmp(snmp::SnmpDevice::new(agent, settings, env)?),
        "ipmi" => Backend::Ipmi(ipmi::IpmiDevice::new(settings)?),
        "nut" => Backend::Nut(nut::NutDevice::new(settings)?),
        other => {
            return Err(FenceError::Local(format!(
            "Failed: agent {} names backend '{other}', which this build of fencebox does not have",
            agent.name
        )))
        }
    })
}
