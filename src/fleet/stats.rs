//! `fencebox stats`: what devices meter, read in parallel and named three ways: NUT's
//! variable names (`outlet.3.current: 0.42`), JSON, and Prometheus's text format in base
//! units. A PDU gives its outlets' state, current, power and energy and its input; a UPS
//! (through upsd) its load, power and battery; a BMC the machine's power (DCMI).
//!
//! What is read is chosen by inventory names: a device (all its outlets), a node (the
//! outlets that feed it and its BMC), or `all` devices.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;

use crate::contract::agents::{BackendKind, Registry};
use crate::device::{Meter, MeterKind, OutletMeter, PowerState, Quantities, UpsMeter};
use crate::fleet::hostlist;
use crate::fleet::inventory::Inventory;
use crate::fleet::power::{self, Options};
use crate::runtime::env::Env;

/// One device's readings, or why there are none.
#[derive(Debug, Clone)]
pub struct DeviceStats {
    pub device: String,
    pub agent: String,
    /// Ok(None): the device meters nothing (a BMC without DCMI, a switch-only PDU).
    pub meter: Result<Option<Meter>, String>,
}

impl DeviceStats {
    pub fn ok(&self) -> bool {
        self.meter.is_ok()
    }
}

/// The devices to read and, per device, the outlets wanted (None: every outlet).
pub type Selection = BTreeMap<String, Option<BTreeSet<String>>>;

/// What the names ask for: `all`, device names, or nodes (names, `node[1-4]`, `@group`)
/// whose feeds and BMC are read.
pub fn select(inv: &Inventory, names: &[String]) -> Result<Selection, String> {
    let mut out = Selection::new();
    let mut node_terms = Vec::new();
    let mut words = Vec::new();
    for n in names {
        words.extend(
            hostlist::split_top(n)?
                .into_iter()
                .map(str::trim)
                .filter(|w| !w.is_empty())
                .map(str::to_string),
        );
    }
    for name in words {
        if name == "all" {
            for d in inv.devices.keys() {
                out.insert(d.clone(), None);
            }
        } else if inv.devices.contains_key(&name) {
            out.insert(name, None);
        } else {
            node_terms.push(name);
        }
    }
    if node_terms.is_empty() {
        return Ok(out);
    }
    let terms = hostlist::parse(&node_terms.join(","))?;
    let nodes = hostlist::select(&terms, inv.names())
        .map_err(|e| format!("{e} (stats takes device names, node names and 'all')"))?;
    for node in nodes.iter().filter_map(|n| inv.node(n)) {
        for feed in &node.feeds {
            if let Some(plugs) = out
                .entry(feed.device.clone())
                .or_insert(Some(BTreeSet::new()))
            {
                plugs.insert(feed.plug.clone());
            }
        }
        if let Some(bmc) = &node.bmc {
            out.insert(bmc.device.clone(), None);
        }
    }
    Ok(out)
}

/// Every device of the inventory whose kind of backend meters anything (SNMP PDUs,
/// upsd, BMCs): what the service's `/metrics` reads. Dummy devices and device shells
/// meter nothing, and a read would only queue behind their fencing calls.
pub fn meterable(inv: &Inventory) -> Selection {
    inv.devices
        .iter()
        .filter(|(_, d)| {
            matches!(
                d.agent.def.backend,
                BackendKind::Snmp | BackendKind::Nut | BackendKind::Ipmi
            )
        })
        .map(|(name, _)| (name.clone(), None))
        .collect()
}

/// Read the selected devices, keeping only the wanted outlets.
pub fn collect(
    inv: &Inventory,
    registry: &Registry,
    env: &Env,
    selection: &Selection,
    opts: &Options,
) -> Vec<DeviceStats> {
    let devices: Vec<String> = selection.keys().cloned().collect();
    let mut read = power::meter(inv, registry, env, &devices, opts);
    selection
        .iter()
        .map(|(device, wanted)| {
            let mut meter = read
                .remove(device)
                .unwrap_or_else(|| Err("not in the inventory".into()));
            if let (Ok(Some(m)), Some(wanted)) = (&mut meter, wanted) {
                m.outlets
                    .retain(|o| wanted.iter().any(|w| same_outlet(o, w)));
            }
            DeviceStats {
                device: device.clone(),
                agent: inv
                    .devices
                    .get(device)
                    .map(|d| d.agent.name.to_string())
                    .unwrap_or_default(),
                meter,
            }
        })
        .collect()
}

/// Whether an inventory plug names this outlet: by id (07 is 7) or by its name.
fn same_outlet(o: &OutletMeter, plug: &str) -> bool {
    let number = |s: &str| s.trim().parse::<u64>().ok();
    o.id == plug || o.name == plug || (number(&o.id).is_some() && number(&o.id) == number(plug))
}

/// A reading as text: at most six decimals, no trailing zeros (scaling by 0.1 leaves
/// binary noise that no meter measured).
pub fn number(v: f64) -> String {
    let text = format!("{v:.6}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    match text {
        "-0" | "" => "0".to_string(),
        t => t.to_string(),
    }
}

// ---- NUT's names --------------------------------------------------------------------

/// One section per device (`[pdu1]`), then `variable: value` lines as upsc prints them.
/// NUT has no name for energy; it is `experimental.…energy` in Wh, as NUT asks of names
/// it has not yet assigned.
pub fn nut_text(stats: &[DeviceStats]) -> String {
    let mut out = String::new();
    for (i, s) in stats.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(out, "[{}]", s.device);
        for (name, value) in nut_variables(s) {
            let _ = writeln!(out, "{name}: {value}");
        }
    }
    out
}

/// The variables of one device's readings, in NUT's names and order of kind.
pub fn nut_variables(s: &DeviceStats) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = Vec::new();
    let m = match &s.meter {
        Err(e) => {
            v.push(("error".into(), e.clone()));
            return v;
        }
        Ok(None) => {
            v.push(("note".into(), "the device meters nothing".into()));
            return v;
        }
        Ok(Some(m)) => m,
    };
    if let Some(ups) = &m.ups {
        push_ups(&mut v, ups);
    }
    push_quantities(&mut v, "input", &m.input);
    if !m.outlets.is_empty() {
        v.push(("outlet.count".into(), m.outlets.len().to_string()));
    }
    for o in &m.outlets {
        let p = format!("outlet.{}", o.id);
        if !o.name.is_empty() {
            // A name is the device's text: one line, whatever it holds.
            let name = crate::runtime::log::escape_controls(&o.name).into_owned();
            v.push((format!("{p}.desc"), name));
        }
        if let Some(st) = o.state {
            v.push((format!("{p}.status"), st.lower().into()));
        }
        push_quantities(&mut v, &p, &o.reading);
    }
    v
}

fn push_quantities(v: &mut Vec<(String, String)>, prefix: &str, q: &Quantities) {
    if let Some(a) = q.current {
        v.push((format!("{prefix}.current"), number(a)));
    }
    if let Some(w) = q.power {
        v.push((format!("{prefix}.realpower"), number(w)));
    }
    if let Some(wh) = q.energy {
        v.push((format!("experimental.{prefix}.energy"), number(wh)));
    }
}

fn push_ups(v: &mut Vec<(String, String)>, ups: &UpsMeter) {
    if let Some(s) = &ups.status {
        let status = crate::runtime::log::escape_controls(s).into_owned();
        v.push(("ups.status".into(), status));
    }
    if let Some(l) = ups.load_percent {
        v.push(("ups.load".into(), number(l)));
    }
    if let Some(w) = ups.output_power {
        v.push(("ups.realpower".into(), number(w)));
    }
    if let Some(c) = ups.battery_percent {
        v.push(("battery.charge".into(), number(c)));
    }
}

// ---- JSON ---------------------------------------------------------------------------

#[derive(Serialize)]
struct JsonQuantities {
    #[serde(skip_serializing_if = "Option::is_none")]
    current_amperes: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    power_watts: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    energy_watt_hours: Option<f64>,
}

impl From<&Quantities> for JsonQuantities {
    fn from(q: &Quantities) -> Self {
        let round = |v: Option<f64>| v.and_then(|v| number(v).parse().ok());
        JsonQuantities {
            current_amperes: round(q.current),
            power_watts: round(q.power),
            energy_watt_hours: round(q.energy),
        }
    }
}

#[derive(Serialize)]
struct JsonOutlet<'a> {
    outlet: &'a str,
    name: &'a str,
    state: Option<&'static str>,
    #[serde(flatten)]
    reading: JsonQuantities,
}

#[derive(Serialize)]
struct JsonUps<'a> {
    status: Option<&'a str>,
    load_percent: Option<f64>,
    output_power_watts: Option<f64>,
    battery_charge_percent: Option<f64>,
}

#[derive(Serialize)]
struct JsonDevice<'a> {
    device: &'a str,
    agent: &'a str,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    input: Option<JsonQuantities>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ups: Option<JsonUps<'a>>,
    outlets: Vec<JsonOutlet<'a>>,
}

fn kind_name(k: MeterKind) -> &'static str {
    match k {
        MeterKind::Pdu => "pdu",
        MeterKind::Ups => "ups",
        MeterKind::Bmc => "bmc",
    }
}

pub fn json(stats: &[DeviceStats]) -> String {
    let devices: Vec<JsonDevice> = stats
        .iter()
        .map(|s| {
            let m = s.meter.as_ref().ok().and_then(Option::as_ref);
            JsonDevice {
                device: &s.device,
                agent: &s.agent,
                ok: s.ok(),
                error: s.meter.as_ref().err().map(String::as_str),
                kind: m.map(|m| kind_name(m.kind)),
                input: m.map(|m| JsonQuantities::from(&m.input)),
                ups: m.and_then(|m| m.ups.as_ref()).map(|u| JsonUps {
                    status: u.status.as_deref(),
                    load_percent: u.load_percent,
                    output_power_watts: u.output_power,
                    battery_charge_percent: u.battery_percent,
                }),
                outlets: m
                    .map(|m| {
                        m.outlets
                            .iter()
                            .map(|o| JsonOutlet {
                                outlet: &o.id,
                                name: &o.name,
                                state: o.state.map(PowerState::lower),
                                reading: JsonQuantities::from(&o.reading),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&serde_json::json!({ "devices": devices }))
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}

// ---- Prometheus ---------------------------------------------------------------------

/// A metric family of the exposition: its samples are (labels, value).
struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    samples: Vec<(String, f64)>,
}

/// The families, in the order they are printed.
const FAMILIES: [(&str, &str, &str); 13] = [
    (
        "fencebox_stats_up",
        "gauge",
        "Whether the device answered the last read (1) or not (0).",
    ),
    (
        "fencebox_outlet_on",
        "gauge",
        "Whether the outlet is on (1) or off (0), as the device reports it.",
    ),
    (
        "fencebox_outlet_current_amperes",
        "gauge",
        "Current drawn through the outlet.",
    ),
    (
        "fencebox_outlet_power_watts",
        "gauge",
        "Active power drawn through the outlet.",
    ),
    (
        "fencebox_outlet_energy_joules_total",
        "counter",
        "Energy through the outlet since the device's meter was last reset.",
    ),
    (
        "fencebox_input_current_amperes",
        "gauge",
        "Current at the device's input.",
    ),
    (
        "fencebox_input_power_watts",
        "gauge",
        "Active power at the device's input.",
    ),
    (
        "fencebox_input_energy_joules_total",
        "counter",
        "Energy at the device's input since its meter was last reset.",
    ),
    (
        "fencebox_ups_load_ratio",
        "gauge",
        "UPS load as a share of its capacity (ups.load / 100).",
    ),
    (
        "fencebox_ups_output_power_watts",
        "gauge",
        "Active power the UPS delivers (ups.realpower).",
    ),
    (
        "fencebox_ups_battery_charge_ratio",
        "gauge",
        "UPS battery charge (battery.charge / 100).",
    ),
    (
        "fencebox_ups_on_battery",
        "gauge",
        "Whether the UPS runs on battery (OB in ups.status).",
    ),
    (
        "fencebox_dcmi_power_consumption_watts",
        "gauge",
        "The machine's power consumption as its BMC reports it (DCMI Get Power Reading).",
    ),
];

/// A label value in the exposition format: backslash, double quote and line feed escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Joules from watt-hours.
const JOULES_PER_WH: f64 = 3600.0;

/// The text exposition format (version 0.0.4), base units: amperes, watts, joules.
pub fn prometheus(stats: &[DeviceStats]) -> String {
    let mut families: Vec<Family> = FAMILIES
        .iter()
        .map(|(name, kind, help)| Family {
            name,
            kind,
            help,
            samples: Vec::new(),
        })
        .collect();
    let mut add = |name: &str, labels: String, value: Option<f64>| {
        if let (Some(f), Some(v)) = (families.iter_mut().find(|f| f.name == name), value) {
            f.samples.push((labels, v));
        }
    };
    for s in stats {
        let dev = format!("device=\"{}\"", label(&s.device));
        add(
            "fencebox_stats_up",
            dev.clone(),
            Some(f64::from(u8::from(s.ok()))),
        );
        let Ok(Some(m)) = &s.meter else { continue };
        if m.kind == MeterKind::Bmc {
            add(
                "fencebox_dcmi_power_consumption_watts",
                dev.clone(),
                m.input.power,
            );
        } else {
            add(
                "fencebox_input_current_amperes",
                dev.clone(),
                m.input.current,
            );
            add("fencebox_input_power_watts", dev.clone(), m.input.power);
            add(
                "fencebox_input_energy_joules_total",
                dev.clone(),
                m.input.energy.map(|wh| wh * JOULES_PER_WH),
            );
        }
        if let Some(u) = &m.ups {
            add(
                "fencebox_ups_load_ratio",
                dev.clone(),
                u.load_percent.map(|p| p / 100.0),
            );
            add(
                "fencebox_ups_output_power_watts",
                dev.clone(),
                u.output_power,
            );
            add(
                "fencebox_ups_battery_charge_ratio",
                dev.clone(),
                u.battery_percent.map(|p| p / 100.0),
            );
            let on_battery = u
                .status
                .as_deref()
                .map(|st| f64::from(u8::from(st.split_whitespace().any(|w| w == "OB"))));
            add("fencebox_ups_on_battery", dev.clone(), on_battery);
        }
        for o in &m.outlets {
            let labels = format!(
                "{dev},outlet=\"{}\",name=\"{}\"",
                label(&o.id),
                label(&o.name)
            );
            let on = o.state.map(|st| f64::from(u8::from(st == PowerState::On)));
            add("fencebox_outlet_on", labels.clone(), on);
            add(
                "fencebox_outlet_current_amperes",
                labels.clone(),
                o.reading.current,
            );
            add(
                "fencebox_outlet_power_watts",
                labels.clone(),
                o.reading.power,
            );
            add(
                "fencebox_outlet_energy_joules_total",
                labels,
                o.reading.energy.map(|wh| wh * JOULES_PER_WH),
            );
        }
    }
    let mut out = String::new();
    for f in families.iter().filter(|f| !f.samples.is_empty()) {
        let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
        let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind);
        for (labels, v) in &f.samples {
            let _ = writeln!(out, "{}{{{labels}}} {}", f.name, number(*v));
        }
    }
    out
}

// ---- one device from an agent's options -----------------------------------------------

/// An inventory of one device: `agent` with the options of `stdin` (key=value lines, as
/// the agent reads them). Named by its address when that is a valid device name.
pub fn one_device(agent: &str, stdin: &str, registry: &Registry) -> Result<Inventory, String> {
    let mut table = toml::Table::new();
    for line in stdin.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!(
                "standard input: '{}' is not key=value",
                crate::runtime::log::escape_controls(line)
            ));
        };
        table.insert(
            key.trim().to_string(),
            toml::Value::String(value.to_string()),
        );
    }
    let name = ["ip", "ipaddr"]
        .iter()
        .find_map(|k| table.get(*k).and_then(toml::Value::as_str))
        .filter(|a| {
            !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
        .unwrap_or("device")
        .to_string();
    table.insert("agent".into(), toml::Value::String(agent.to_string()));
    let mut devices = toml::Table::new();
    devices.insert(name, toml::Value::Table(table));
    let mut file = toml::Table::new();
    file.insert("devices".into(), toml::Value::Table(devices));
    // The options came from this process's own input: secrets in it are as private as
    // the caller keeps them.
    crate::fleet::inventory::parse(
        std::path::Path::new("<standard input>"),
        &file.to_string(),
        true,
        registry,
    )
}
