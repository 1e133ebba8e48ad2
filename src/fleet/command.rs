//! `fencebox power` and `fencebox inventory`: their arguments, what they print and their
//! exit codes (0 only when every node reached what was asked; 1 otherwise, and for any
//! bad input, with one line saying what is wrong).

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Arg, ArgAction, ArgMatches, Command};

use crate::contract::agents::Registry;
use crate::fleet::inventory::{self, Inventory};
use crate::fleet::power::{self, Options};
use crate::fleet::{chain, hostlist, report, stats};
use crate::runtime::env::Env;

/// What a fleet command ends with: the text for stdout and the exit code, or one line
/// for stderr (exit 1).
pub type Answer = Result<(String, u8), String>;

fn inventory_arg() -> Arg {
    Arg::new("inventory")
        .long("inventory")
        .short('i')
        .value_name("PATH")
        .help(
            "the inventory file (default: $FENCEBOX_INVENTORY, else /etc/fencebox/inventory.toml)",
        )
}

fn json_arg() -> Arg {
    Arg::new("json")
        .long("json")
        .action(ArgAction::SetTrue)
        .help("answer in JSON")
}

fn power_cli() -> Command {
    let cli = Command::new("fencebox power")
        .about("Switch or read the power of nodes by their feeds, as the inventory maps them")
        .disable_version_flag(true)
        .arg(
            Arg::new("action")
                .required(true)
                .value_name("ACTION")
                .help("list, status, on, off or reboot"),
        )
        .arg(
            Arg::new("nodes")
                .required(true)
                .value_name("NODES")
                .help("node[01-16], rack2-n[1-4,7], @group, all; several with commas"),
        );
    run_args(cli)
}

fn stats_cli() -> Command {
    let cli = Command::new("fencebox stats")
        .about("Read what devices meter: outlet state, current, power and energy, input power, UPS load and battery, a machine's power through its BMC")
        .disable_version_flag(true)
        .arg(
            Arg::new("names")
                .num_args(0..)
                .value_name("NAMES")
                .help("devices, nodes (node[01-16], @group: their feeds and BMC) or all; with --agent, none"),
        )
        .arg(
            Arg::new("agent")
                .long("agent")
                .value_name("AGENT")
                .help("read one device not in the inventory: the agent's options on standard input, as the agent takes them (key=value lines)"),
        )
        .arg(
            Arg::new("prometheus")
                .long("prometheus")
                .action(ArgAction::SetTrue)
                .conflicts_with("json")
                .help("answer in Prometheus's text format (base units: amperes, watts, joules)"),
        );
    run_args(cli)
}

fn chain_cli() -> Command {
    Command::new("fencebox chain")
        .about("Show each node's power chain with the live state of every link, or check the chains for risks")
        .disable_version_flag(true)
        .arg(
            Arg::new("words")
                .num_args(1..=2)
                .required(true)
                .value_name("NODES | check [NODES]")
                .help("nodes to show (node[01-16], @group, all), or check and the nodes to check (default all)"),
        )
        .arg(inventory_arg())
        .arg(json_arg())
        .arg(
            Arg::new("live")
                .long("live")
                .action(ArgAction::SetTrue)
                .help("check: read every link and every UPS's status too"),
        )
        .arg(
            Arg::new("offline")
                .long("offline")
                .action(ArgAction::SetTrue)
                .help("show the chains as the inventory draws them, without reading the devices"),
        )
}

fn inventory_cli() -> Command {
    Command::new("fencebox inventory")
        .about("Check the inventory")
        .disable_version_flag(true)
        .arg(
            Arg::new("action")
                .required(true)
                .value_name("ACTION")
                .help("check: read the inventory and report its first problem; import SOURCE [FILE]: make one from cib, pdudaemon or openflight (docs/import.md)"),
        )
        .arg(
            Arg::new("rest")
                .num_args(0..=2)
                .value_name("SOURCE [FILE]")
                .help("import: cib (cibadmin --query without FILE), pdudaemon or openflight, and the file to read"),
        )
        .arg(inventory_arg())
        .arg(
            Arg::new("output")
                .long("output")
                .short('o')
                .value_name("PATH")
                .help("import: write the inventory here (mode 0600, secrets kept) instead of printing it (secrets as *_file entries)"),
        )
        .arg(
            Arg::new("live")
                .long("live")
                .action(ArgAction::SetTrue)
                .help("also ask every device for every plug the inventory names"),
        )
}

/// Parse with clap; an error is one line (clap's first), help is the answer.
pub fn matches(cli: Command, args: &[OsString]) -> Result<ArgMatches, Answer> {
    let mut full = vec![OsString::from(cli.get_name().to_string())];
    full.extend(args.iter().cloned());
    cli.try_get_matches_from(full).map_err(|e| match e.kind() {
        clap::error::ErrorKind::DisplayHelp => Ok((e.to_string(), 0)),
        _ => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("bad arguments");
            Err(format!(
                "{}; see --help",
                first.trim_start_matches("error: ").trim_end()
            ))
        }
    })
}

fn load(m: &ArgMatches, env: &Env, registry: &Registry) -> Result<Inventory, String> {
    let path = m
        .get_one::<String>("inventory")
        .map_or_else(|| env.inventory.clone(), PathBuf::from);
    inventory::load(&path, registry)
}

/// --fanout, --lock-wait and -v, as power and stats take them.
fn run_options(m: &ArgMatches) -> Result<Options, String> {
    let mut opts = Options {
        verbose: u32::from(m.get_count("verbose")),
        ..Options::default()
    };
    if let Some(f) = m.get_one::<String>("fanout") {
        opts.fanout = match f.parse::<usize>() {
            Ok(n) if (1..=4096).contains(&n) => n,
            _ => {
                return Err(format!(
                    "--fanout is a number of devices from 1 to 4096, not '{f}'"
                ))
            }
        };
    }
    if let Some(w) = m.get_one::<String>("lock_wait") {
        opts.lock_wait = match w.parse::<u64>() {
            Ok(s) if s <= 86_400 => Some(Duration::from_secs(s)),
            _ => {
                return Err(format!(
                    "--lock-wait is whole seconds (0 to 86400), not '{w}'"
                ))
            }
        };
    }
    Ok(opts)
}

/// The arguments every command that reads or switches many devices takes.
fn run_args(cli: Command) -> Command {
    cli.arg(inventory_arg())
        .arg(json_arg())
        .arg(
            Arg::new("fanout")
                .long("fanout")
                .value_name("N")
                .help("devices worked on at once (default 256)"),
        )
        .arg(
            Arg::new("lock_wait")
                .long("lock-wait")
                .value_name("SECONDS")
                .help("how long to wait for devices that other calls hold (default 120)"),
        )
        .arg(
            Arg::new("verbose")
                .long("verbose")
                .short('v')
                .action(ArgAction::Count)
                .help("print each device's log on standard error"),
        )
}

/// `fencebox power ACTION NODES [options]`.
pub fn power(args: &[OsString], env: &Env, registry: &Registry) -> Answer {
    let m = match matches(power_cli(), args) {
        Ok(m) => m,
        Err(answer) => return answer,
    };
    let action = m.get_one::<String>("action").map_or("", String::as_str);
    let nodes_text = m.get_one::<String>("nodes").map_or("", String::as_str);
    let as_json = m.get_flag("json");
    let opts = run_options(&m)?;
    let command = match action {
        "list" => None,
        other => Some(power::Command::parse(other).ok_or_else(|| {
            format!("'{other}' is not a power action; use list, status, on, off or reboot")
        })?),
    };
    let terms = hostlist::parse(nodes_text)?;
    let inv = load(&m, env, registry)?;
    let nodes = hostlist::select(&terms, inv.names())?;
    let Some(command) = command else {
        return Ok((report::list(&inv, &nodes, as_json), 0));
    };
    let outcome = power::run(&inv, registry, env, &nodes, command, &opts);
    let text = if as_json {
        report::json(&outcome)
    } else {
        report::table(&outcome)
    };
    Ok((text, u8::from(!outcome.all_ok())))
}

/// `fencebox stats NAMES [--json | --prometheus]`, or `--agent NAME` with the options on
/// stdin. Exit 1 when a device could not be read.
pub fn stats(args: &[OsString], env: &Env, registry: &Registry) -> Answer {
    let m = match matches(stats_cli(), args) {
        Ok(m) => m,
        Err(answer) => return answer,
    };
    let opts = run_options(&m)?;
    let names: Vec<String> = m
        .get_many::<String>("names")
        .map(|v| v.cloned().collect())
        .unwrap_or_default();
    let (inv, selection) = match m.get_one::<String>("agent") {
        Some(agent) => {
            if !names.is_empty() {
                return Err(format!(
                    "with --agent the device comes from standard input; drop the names ({})",
                    names.join(" ")
                ));
            }
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .map_err(|e| format!("cannot read the agent's options from standard input: {e}"))?;
            let inv = stats::one_device(agent, &text, registry)?;
            let selection = stats::select(&inv, &["all".to_string()])?;
            (inv, selection)
        }
        None => {
            if names.is_empty() {
                return Err(
                    "name the devices or nodes to read (or all), or give --agent; see --help"
                        .into(),
                );
            }
            let inv = load(&m, env, registry)?;
            let selection = stats::select(&inv, &names)?;
            (inv, selection)
        }
    };
    let read = stats::collect(&inv, registry, env, &selection, &opts);
    let text = if m.get_flag("json") {
        stats::json(&read)
    } else if m.get_flag("prometheus") {
        stats::prometheus(&read)
    } else {
        stats::nut_text(&read)
    };
    Ok((text, u8::from(!read.iter().all(stats::DeviceStats::ok))))
}

/// `fencebox inventory check [--inventory PATH]`.
pub fn inventory(args: &[OsString], env: &Env, registry: &Registry) -> Answer {
    let m = match matches(inventory_cli(), args) {
        Ok(m) => m,
        Err(answer) => return answer,
    };
    match m.get_one::<String>("action").map_or("", String::as_str) {
        "check" => {
            let inv = load(&m, env, registry)?;
            let mut text = format!(
                "{}: {} device(s), {} node(s), {} feed(s); no problem in the file\n",
                inv.path.display(),
                inv.devices.len(),
                inv.nodes.len(),
                inv.nodes.iter().map(|n| n.feeds.len()).sum::<usize>()
            );
            if !m.get_flag("live") {
                return Ok((text, 0));
            }
            let (lines, failed) = check_live(&inv, env, registry);
            text.push_str(&lines);
            Ok((text, u8::from(failed)))
        }
        "import" => import(&m, registry),
        other => Err(format!(
            "'{other}' is not an inventory action; use check or import"
        )),
    }
}

/// `fencebox chain NODES` and `fencebox chain check [NODES] [--live]`.
pub fn chain(args: &[OsString], env: &Env, registry: &Registry) -> Answer {
    let m = match matches(chain_cli(), args) {
        Ok(m) => m,
        Err(answer) => return answer,
    };
    let words: Vec<&str> = m
        .get_many::<String>("words")
        .map(|w| w.map(String::as_str).collect())
        .unwrap_or_default();
    let (checking, nodes_text) = match words.as_slice() {
        ["check"] => (true, "all"),
        ["check", nodes] => (true, *nodes),
        [nodes] => (false, *nodes),
        _ => {
            return Err(
                "give the nodes to show, or check and the nodes to check; see --help".into(),
            )
        }
    };
    let live = if checking {
        m.get_flag("live")
    } else {
        !m.get_flag("offline")
    };
    let terms = hostlist::parse(nodes_text)?;
    let inv = load(&m, env, registry)?;
    let nodes = hostlist::select(&terms, inv.names())?;
    let mut chains = chain::chains(&inv, &nodes);
    if live {
        chain::read_live(&mut chains, &inv, registry, env, &Options::default());
    }
    let as_json = m.get_flag("json");
    if !checking {
        let text = if as_json {
            chain::json(&chains, None)
        } else {
            chain::tree(&chains, live)
        };
        let unread = chains
            .iter()
            .flat_map(|c| &c.psus)
            .flat_map(|p| &p.links)
            .any(|l| l.error.is_some());
        return Ok((text, u8::from(unread)));
    }
    let risks = chain::check(&chains, live);
    let text = if as_json {
        chain::json(&chains, Some(&risks))
    } else {
        chain::risks_text(&risks, chains.len())
    };
    Ok((text, u8::from(!risks.is_empty())))
}

/// Every plug the inventory names (feeds, BMCs, parents), asked of its device: a plug the
/// device does not have is a warning; a device that cannot be asked fails the check.
fn check_live(inv: &Inventory, env: &Env, registry: &Registry) -> (String, bool) {
    let mut feeds: Vec<inventory::Feed> = inv
        .nodes
        .iter()
        .flat_map(|n| n.feeds.iter().chain(&n.bmc).cloned())
        .collect();
    for d in inv.devices.values() {
        if let inventory::Parent::Feed(f) = &d.parent {
            feeds.push(f.clone());
        }
    }
    feeds.sort();
    feeds.dedup();
    let readings = power::inspect(inv, registry, env, &feeds, &Options::default());
    let (mut text, mut warnings, mut failed) = (String::new(), 0, false);
    for r in readings.feeds.values() {
        let Some(e) = &r.error else { continue };
        let user = match inv.node_fed_by(&r.feed) {
            Some(n) => format!("node {}", n.name),
            None => inv
                .devices
                .values()
                .find(|d| d.parent == inventory::Parent::Feed(r.feed.clone()))
                .map_or_else(String::new, |d| format!("device {}", d.name)),
        };
        if r.unknown_plug {
            warnings += 1;
            text.push_str(&format!(
                "warning: {} has no plug {} ({user} names it): {e}\n",
                r.feed.device, r.feed.plug
            ));
        } else {
            failed = true;
            text.push_str(&format!(
                "FAILED: {} could not be asked ({user}): {e}\n",
                r.feed
            ));
        }
    }
    let used: std::collections::BTreeSet<&str> = feeds.iter().map(|f| f.device.as_str()).collect();
    for d in inv.devices.keys().filter(|d| !used.contains(d.as_str())) {
        text.push_str(&format!(
            "note: device {d} powers nothing the inventory names (not contacted)\n"
        ));
    }
    text.push_str(&format!(
        "{} plug(s) asked of {} device(s): {} missing, {}\n",
        feeds.len(),
        used.len(),
        warnings,
        if failed {
            "some devices could not be asked"
        } else {
            "every device answered"
        }
    ));
    (text, failed)
}

/// `fencebox inventory import SOURCE [FILE] [--output PATH]`: the inventory on stdout
/// (secrets turned into `*_file` entries to fill in) or, with --output, in a file only its
/// owner can read (secrets kept). What could not be mapped goes to stderr, one line each.
fn import(m: &ArgMatches, registry: &Registry) -> Answer {
    use crate::fleet::import::{self, Secrets, Source};
    let rest: Vec<&str> = m
        .get_many::<String>("rest")
        .map(|w| w.map(String::as_str).collect())
        .unwrap_or_default();
    let Some(source) = rest.first() else {
        return Err("import what? give cib, pdudaemon or openflight (and the file to read)".into());
    };
    let source = Source::parse(source)?;
    let file = rest.get(1).map(std::path::Path::new);
    let text = import::read_input(source, file)?;
    let output = m.get_one::<String>("output").map(PathBuf::from);
    let secrets = if output.is_some() {
        Secrets::Inline
    } else {
        Secrets::Files
    };
    let imported = import::import(source, &text, registry, secrets)?;
    for note in &imported.notes {
        eprintln!("fencebox: not mapped: {note}");
    }
    match output {
        Some(path) => {
            import::write_private(&path, &imported.toml)?;
            Ok((
                format!(
                    "{}: written (mode 0600); check it with fencebox inventory check --inventory {}\n",
                    path.display(),
                    path.display()
                ),
                0,
            ))
        }
        None => Ok((imported.toml, 0)),
    }
}
