//! Device backends behind one small trait. A backend knows how to reach one kind of
//! device and read or switch a plug; everything else (polling, reboot semantics, output,
//! locks) is the engine's, so every backend gets it the same way.

pub mod dummy;
pub mod ipmi;
pub mod nut;
pub mod shell;
pub mod snmp;
mod snmp_meter;

use crate::contract::agents::{BackendKind, Registry};
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

/// A power source's own supply, as it reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Supply {
    /// Running on battery: the mains behind it has failed.
    pub on_battery: bool,
    /// The battery is low: it will shut down soon.
    pub low_battery: bool,
    /// The device's own words (NUT's ups.status: "OB LB").
    pub status: String,
}

/// One power supply of a machine, as its BMC's sensor reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PowerSupply {
    pub name: String,
    /// What is wrong with it (failure detected, input lost, ...); empty when nothing is.
    pub faults: Vec<String>,
    /// Whether the BMC gave a reading at all (no reading: nothing known either way).
    pub read: bool,
}

/// Metered quantities in base units, each where the device measures it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Quantities {
    /// Amperes.
    pub current: Option<f64>,
    /// Watts (active power).
    pub power: Option<f64>,
    /// Watt-hours, cumulative (a meter the device's user may reset).
    pub energy: Option<f64>,
}

impl Quantities {
    pub fn is_empty(&self) -> bool {
        self.current.is_none() && self.power.is_none() && self.energy.is_none()
    }
}

/// One outlet's readings, with its id, name and state as `list` gives them.
#[derive(Debug, Clone, PartialEq)]
pub struct OutletMeter {
    pub id: String,
    pub name: String,
    pub state: Option<PowerState>,
    pub reading: Quantities,
}

/// What a UPS says of its load and battery.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UpsMeter {
    /// Load, percent of capacity.
    pub load_percent: Option<f64>,
    /// Output active power, watts.
    pub output_power: Option<f64>,
    /// Battery charge, percent.
    pub battery_percent: Option<f64>,
    /// Its own words (ups.status: "OL CHRG").
    pub status: Option<String>,
}

/// What kind of device gave the readings (the renderers name them by it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeterKind {
    Pdu,
    Ups,
    /// A machine's management controller: `input` is the machine's power (DCMI).
    Bmc,
}

/// A device's readings at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Meter {
    pub kind: MeterKind,
    pub outlets: Vec<OutletMeter>,
    /// The whole device: a PDU's or UPS's input, a machine's power.
    pub input: Quantities,
    pub ups: Option<UpsMeter>,
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

    /// The confirmed state of several plugs, one result per plug, in order. By default one
    /// request per plug; devices that can read several outlets in one request override it.
    fn status_many(&mut self, plugs: &[&Self::Plug]) -> Vec<Result<PowerState>> {
        plugs.iter().map(|p| self.status(p)).collect()
    }

    /// Ask several plugs for one state; the engine confirms them through `status`. One
    /// result per plug, in order. By default one request per plug; devices that can switch
    /// several outlets in one request say so by overriding this.
    fn set_power_many(&mut self, plugs: &[&Self::Plug], state: PowerState) -> Vec<Result<()>> {
        plugs.iter().map(|p| self.set_power(p, state)).collect()
    }

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

    /// What a power source says of its own supply (a UPS on battery); None for devices
    /// that do not say (PDUs, BMCs).
    fn supply(&mut self) -> Result<Option<Supply>> {
        Ok(None)
    }

    /// The machine's power supplies as its management controller reports them; None for
    /// devices that do not (PDUs, UPSes).
    fn power_supplies(&mut self) -> Result<Option<Vec<PowerSupply>>> {
        Ok(None)
    }

    /// What the device meters (outlet current, power, energy; its input; a UPS's load);
    /// None for devices that meter nothing.
    fn meter(&mut self) -> Result<Option<Meter>> {
        Ok(None)
    }

    /// Log out; errors are of no interest any more at this point.
    fn close(self);
}

fn not_declared(what: &str) -> FenceError {
    FenceError::Local(format!(
        "Failed: internal error: {what} asked of a device that does not declare it"
    ))
}

/// Every problem found while reading one backend's options. The configure step notes
/// them all rather than stopping at the first, so that validate-all lists them together.
#[derive(Debug, Default)]
pub struct Problems(Vec<FenceError>);

impl Problems {
    pub fn push(&mut self, e: FenceError) {
        self.0.push(e);
    }

    /// The value, or None with its problem noted.
    pub fn take<T>(&mut self, r: Result<T>) -> Option<T> {
        r.map_err(|e| self.push(e)).ok()
    }

    /// The configuration `make` builds from the values read, when no problem was noted.
    /// `make` gives None only for a value whose problem was reported already by the
    /// contract's validation (`Settings::rejected`): then there is nothing to add.
    pub fn finish<T>(
        self,
        make: impl FnOnce() -> Option<T>,
    ) -> std::result::Result<T, Vec<FenceError>> {
        if !self.0.is_empty() {
            return Err(self.0);
        }
        make().ok_or_else(Vec::new)
    }
}

/// The value of an option the agent file gives a default for: None when validation
/// rejected it (reported already), or when the agent file lacks the default.
pub fn defaulted<'s>(
    settings: &'s Settings,
    key: &str,
    problems: &mut Problems,
) -> Option<&'s str> {
    let v = settings.get(key);
    if v.is_none() && !settings.rejected(key) {
        problems.push(FenceError::Local(format!(
            "Failed: the agent file gives no default for {key}; add one to its [[option]] entry"
        )));
    }
    v
}

/// The device host and port from `ip` and `ipport` (whose default the agent file or
/// the transport gives, see `option_set::resolve`). None without a problem noted for a
/// value the contract has already reported.
pub fn address(settings: &Settings, problems: &mut Problems) -> Option<(String, u16)> {
    let host = match settings.get("ipaddr").filter(|h| !h.trim().is_empty()) {
        Some(h) => Some(h.to_string()),
        None if settings.rejected("ipaddr") => None,
        None => {
            problems.push(FenceError::Usage(
                "Failed: You have to enter fence address (ip=...)".into(),
            ));
            None
        }
    };
    let port = defaulted(settings, "ipport", problems).and_then(|text| {
        let port = text.parse().ok().filter(|p: &u16| *p > 0);
        if port.is_none() {
            problems.push(FenceError::Usage(format!(
                "Failed: ipport must be a UDP port (1-65535), not '{text}'"
            )));
        }
        port
    });
    Some((host?, port?))
}

/// A backend's options, read and checked (no contact yet): what `configure` makes during
/// validation, and all a backend is built from.
pub enum BackendConfig {
    Dummy(dummy::DummyConfig),
    Snmp(snmp::SnmpConfig),
    Ipmi(ipmi::IpmiConfig),
    Nut(nut::NutConfig),
    Shell(shell::ShellConfig),
}

/// A backend set up from its configuration, before any contact. The engine runs on the
/// concrete type (`engine::run` matches once), so plugs and sessions stay typed.
pub enum Backend {
    Dummy(dummy::DummyDevice),
    Snmp(snmp::SnmpDevice),
    Ipmi(ipmi::IpmiDevice),
    Nut(nut::NutDevice),
    Shell(shell::ShellDevice),
}

/// The configuration of the backend an agent file names, from validated settings: every
/// problem of its options at once. Part of validation; nothing is contacted.
pub fn configure(
    registry: &Registry,
    agent: &Agent,
    settings: &Settings,
    env: &Env,
) -> std::result::Result<BackendConfig, Vec<FenceError>> {
    Ok(match agent.def.backend {
        BackendKind::Dummy => BackendConfig::Dummy(dummy::configure(settings, env)?),
        BackendKind::Snmp => BackendConfig::Snmp(snmp::configure(registry, agent, settings, env)?),
        BackendKind::Ipmi => BackendConfig::Ipmi(ipmi::configure(settings)?),
        BackendKind::Nut => BackendConfig::Nut(nut::configure(settings)?),
        BackendKind::Shell => BackendConfig::Shell(shell::configure(agent, settings, env)?),
        BackendKind::Chain => {
            return Err(vec![FenceError::Local(format!(
                "Failed: internal error: {} switches a node's feeds through the fleet layer, not a backend of its own",
                agent.name
            ))])
        }
    })
}

/// The backend of a configuration (no contact yet).
pub fn open(config: BackendConfig) -> Backend {
    match config {
        BackendConfig::Dummy(c) => Backend::Dummy(dummy::DummyDevice::new(c)),
        BackendConfig::Snmp(c) => Backend::Snmp(snmp::SnmpDevice::new(c)),
        BackendConfig::Ipmi(c) => Backend::Ipmi(ipmi::IpmiDevice::new(c)),
        BackendConfig::Nut(c) => Backend::Nut(nut::NutDevice::new(c)),
        BackendConfig::Shell(c) => Backend::Shell(shell::ShellDevice::new(c)),
    }
}
