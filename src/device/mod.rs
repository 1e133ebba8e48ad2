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

/// A fence device. `plug` is "" for agents without plugs.
pub trait Device {
    /// Who this device is, for the per-device lock; known before any contact.
    fn identity(&self) -> DeviceIdentity;

    /// Whether read-only actions may run beside each other on this device.
    fn concurrent_reads(&self) -> bool {
        false
    }

    /// First contact: connect and log in.
    fn connect(&mut self) -> Result<()> {
        Ok(())
    }

    /// The confirmed state of a plug; anything the device cannot confirm is an error.
    fn status(&mut self, plug: &str) -> Result<PowerState>;

    /// Ask for a state; the engine confirms it through `status`.
    fn set_power(&mut self, plug: &str, state: PowerState) -> Result<()>;

    /// Every plug; `None` when the device cannot enumerate them. `with_state`: the caller
    /// wants each plug's state too (list-status), where the device can give it cheaply.
    fn list(&mut self, _with_state: bool) -> Result<Option<Vec<Outlet>>> {
        Ok(None)
    }

    /// The `monitor` check of a device with plugs: by default, that its plugs can be
    /// listed.
    fn monitor(&mut self) -> Result<()> {
        self.list(false).map(|_| ())
    }

    /// A one-command power cycle; `None` when the device has none (the engine then
    /// reboots by off and on). `Some(true)` means the device accepted it.
    fn cycle(&mut self, _plug: &str, _kind: CycleKind) -> Result<Option<bool>> {
        Ok(None)
    }

    /// Log out; errors are of no interest any more at this point.
    fn disconnect(&mut self) {}
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

/// The backend an agent file names, set up from validated settings (no contact yet).
pub fn open(agent: &Agent, settings: &Settings, env: &Env) -> Result<Box<dyn Device>> {
    match agent.def.backend {
        "dummy" => Ok(Box::new(dummy::DummyDevice::new(settings, env)?)),
        "snmp" => Ok(Box::new(snmp::SnmpDevice::new(agent, settings)?)),
        "ipmi" => Ok(Box::new(ipmi::IpmiDevice::new(settings)?)),
        "nut" => Ok(Box::new(nut::NutDevice::new(settings)?)),
        other => Err(FenceError::Local(format!(
            "Failed: agent {} names backend '{other}', which this build of fencebox does not have",
            agent.name
        ))),
    }
}
