//! `fencebox discover TARGETS [options]`: its arguments and what it prints. Exit 0 when
//! the scan ran (whatever it found), 1 with one line for bad input.

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use clap::{Arg, ArgAction, ArgMatches, Command};

use crate::contract::agents::Registry;
use crate::discover::probe::Probes;
use crate::discover::{output, scan, targets, Options, Protocol, DEFAULT_FANOUT};
use crate::fleet::command::{matches, Answer};
use crate::ipmi::crypto::Secret;
use crate::snmp::client::{SecLevel, V3Params, Version};

fn value(name: &'static str, long: &'static str, v: &'static str, help: &'static str) -> Arg {
    Arg::new(name).long(long).value_name(v).help(help)
}

fn flag(name: &'static str, long: &'static str, help: &'static str) -> Arg {
    Arg::new(name)
        .long(long)
        .action(ArgAction::SetTrue)
        .help(help)
}

fn cli() -> Command {
    Command::new("fencebox discover")
        .about("Scan addresses for fencing devices: SNMP PDUs, BMCs, upsd, device shells")
        .disable_version_flag(true)
        .arg(
            Arg::new("targets")
                .required(true)
                .num_args(1..)
                .value_name("TARGETS")
                .help(
                    "addresses, ranges (10.0.0.10-10.0.0.99), networks (10.0.0.0/24), host names",
                ),
        )
        .arg(
            value(
                "community",
                "community",
                "LIST",
                "SNMP communities to try, comma-separated (default public)",
            )
            .short('c')
            .action(ArgAction::Append),
        )
        .arg(value(
            "community_file",
            "community-file",
            "PATH",
            "SNMP communities to try, one per line (kept off the command line)",
        ))
        .arg(value(
            "snmp_version",
            "snmp-version",
            "1|2c",
            "SNMP version for the communities (default 2c)",
        ))
        .arg(value(
            "snmp_user",
            "snmp-user",
            "USER",
            "also try SNMPv3 as this user",
        ))
        .arg(value(
            "snmp_auth_file",
            "snmp-auth-password-file",
            "PATH",
            "SNMPv3 authentication password (SHA), first line of PATH",
        ))
        .arg(value(
            "snmp_priv_file",
            "snmp-priv-password-file",
            "PATH",
            "SNMPv3 privacy password (AES), first line of PATH",
        ))
        .arg(value(
            "ipmi_user",
            "ipmi-user",
            "USER",
            "log in to each BMC found and read its chassis state",
        ))
        .arg(value(
            "ipmi_password_file",
            "ipmi-password-file",
            "PATH",
            "the BMC password, first line of PATH",
        ))
        .arg(value(
            "protocols",
            "protocols",
            "LIST",
            "what to probe: snmp,ipmi,nut,ssh,telnet (default all)",
        ))
        .arg(
            value(
                "timeout",
                "timeout",
                "SECONDS",
                "wait for each answer (default 1; 0.05 to 60)",
            )
            .short('t'),
        )
        .arg(value(
            "fanout",
            "fanout",
            "N",
            "probes at once (default 256)",
        ))
        .arg(value("snmp_port", "snmp-port", "PORT", "default 161"))
        .arg(value("ipmi_port", "ipmi-port", "PORT", "default 623"))
        .arg(value("nut_port", "nut-port", "PORT", "default 3493"))
        .arg(value("ssh_port", "ssh-port", "PORT", "default 22"))
        .arg(value("telnet_port", "telnet-port", "PORT", "default 23"))
        .arg(flag("json", "json", "answer in JSON"))
        .arg(flag(
            "inventory",
            "inventory",
            "print inventory entries (docs/inventory.md) for what was found",
        ))
        .arg(flag(
            "pcs",
            "pcs",
            "print pcs stonith create lines, nodes as placeholders",
        ))
        .arg(value(
            "nut_scanner",
            "nut-scanner",
            "P|N",
            "print in nut-scanner's -P (parsable) or -N (ups.conf) format",
        ))
        .arg(flag(
            "show_secrets",
            "show-secrets",
            "print communities as they are (redacted otherwise)",
        ))
        .arg(
            value(
                "output",
                "output",
                "PATH",
                "--inventory: write it here (mode 0600, secrets kept) instead of printing it",
            )
            .short('o'),
        )
}

fn first_line(path: &str, what: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(Path::new(path))
        .map_err(|e| format!("cannot read the {what} from {path}: {e}"))?;
    Ok(text
        .lines()
        .next()
        .unwrap_or_default()
        .trim_end()
        .to_string())
}

fn port(m: &ArgMatches, name: &str, default: u16) -> Result<u16, String> {
    match m.get_one::<String>(name) {
        None => Ok(default),
        Some(t) => t.parse().ok().filter(|p: &u16| *p > 0).ok_or_else(|| {
            format!(
                "--{} is a port (1-65535), not '{t}'",
                name.replace('_', "-")
            )
        }),
    }
}

fn options(m: &ArgMatches) -> Result<Options, String> {
    let mut communities: Vec<String> = m
        .get_many::<String>("community")
        .map(|v| {
            v.flat_map(|c| c.split(','))
                .map(str::to_string)
                .filter(|c| !c.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if let Some(path) = m.get_one::<String>("community_file") {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the communities from {path}: {e}"))?;
        communities.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string),
        );
    }
    let v3 = match m.get_one::<String>("snmp_user") {
        None => None,
        Some(user) => {
            let auth = m
                .get_one::<String>("snmp_auth_file")
                .map(|p| first_line(p, "SNMPv3 authentication password"))
                .transpose()?;
            let privacy = m
                .get_one::<String>("snmp_priv_file")
                .map(|p| first_line(p, "SNMPv3 privacy password"))
                .transpose()?;
            let level = match (&auth, &privacy) {
                (None, None) => SecLevel::NoAuthNoPriv,
                (Some(_), None) => SecLevel::AuthNoPriv,
                (Some(_), Some(_)) => SecLevel::AuthPriv,
                (None, Some(_)) => {
                    return Err(
                        "--snmp-priv-password-file needs --snmp-auth-password-file too".into(),
                    )
                }
            };
            Some(V3Params {
                user: user.clone(),
                level,
                auth_protocol: snmp2::v3::AuthProtocol::Sha1,
                auth_password: auth.unwrap_or_default(),
                priv_protocol: snmp2::v3::Cipher::Aes128,
                priv_password: privacy.unwrap_or_default(),
                key_extension: None,
                context: String::new(),
            })
        }
    };
    if communities.is_empty() && v3.is_none() {
        communities.push("public".into());
    }
    let snmp_version = match m.get_one::<String>("snmp_version").map(String::as_str) {
        None | Some("2c") | Some("2") => Version::V2c,
        Some("1") => Version::V1,
        Some(other) => {
            return Err(format!(
                "--snmp-version is 1 or 2c, not '{other}' (SNMPv3: --snmp-user)"
            ))
        }
    };
    let ipmi_login = match (
        m.get_one::<String>("ipmi_user"),
        m.get_one::<String>("ipmi_password_file"),
    ) {
        (Some(u), Some(p)) => Some((
            u.clone(),
            Secret::from(first_line(p, "BMC password")?.into_bytes()),
        )),
        (Some(_), None) => return Err("--ipmi-user needs --ipmi-password-file".into()),
        (None, Some(_)) => return Err("--ipmi-password-file needs --ipmi-user".into()),
        (None, None) => None,
    };
    let timeout = match m.get_one::<String>("timeout") {
        None => Duration::from_secs(1),
        Some(t) => t
            .parse::<f64>()
            .ok()
            .filter(|s| (0.05..=60.0).contains(s))
            .map(Duration::from_secs_f64)
            .ok_or_else(|| format!("--timeout is seconds from 0.05 to 60, not '{t}'"))?,
    };
    let fanout = match m.get_one::<String>("fanout") {
        None => DEFAULT_FANOUT,
        Some(f) => f
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=4096).contains(n))
            .ok_or_else(|| format!("--fanout is a number of probes from 1 to 4096, not '{f}'"))?,
    };
    let protocols = match m.get_one::<String>("protocols") {
        None => Protocol::ALL.to_vec(),
        Some(list) => list
            .split(',')
            .map(|w| {
                Protocol::parse(w.trim()).ok_or_else(|| {
                    format!("--protocols: '{w}' is not one of snmp, ipmi, nut, ssh, telnet")
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    Ok(Options {
        fanout,
        protocols,
        progress: Options::progress_default(),
        probes: Probes {
            timeout,
            communities,
            snmp_version,
            v3,
            ipmi_login,
            snmp_port: port(m, "snmp_port", 161)?,
            ipmi_port: port(m, "ipmi_port", 623)?,
            nut_port: port(m, "nut_port", 3493)?,
            ssh_port: port(m, "ssh_port", 22)?,
            telnet_port: port(m, "telnet_port", 23)?,
        },
    })
}

/// `fencebox discover TARGETS [options]`.
pub fn discover(args: &[OsString], registry: &Registry) -> Answer {
    let m = match matches(cli(), args) {
        Ok(m) => m,
        Err(answer) => return answer,
    };
    if m.get_one::<String>("output").is_some() && !m.get_flag("inventory") {
        return Err("--output writes the --inventory entries; give --inventory too".into());
    }
    let formats = ["json", "inventory", "pcs"]
        .iter()
        .filter(|f| m.get_flag(f))
        .count()
        + usize::from(m.get_one::<String>("nut_scanner").is_some());
    if formats > 1 {
        return Err("give one of --json, --inventory, --pcs, --nut-scanner".into());
    }
    let nut_format = match m.get_one::<String>("nut_scanner").map(String::as_str) {
        None => None,
        Some("P") | Some("p") => Some(false),
        Some("N") | Some("n") => Some(true),
        Some(other) => {
            return Err(format!(
                "--nut-scanner is P (parsable) or N (ups.conf sections), not '{other}'"
            ))
        }
    };
    let words: Vec<String> = m
        .get_many::<String>("targets")
        .map(|v| v.cloned().collect())
        .unwrap_or_default();
    let addresses = targets::parse(&words)?;
    let opts = options(&m)?;
    let show = m.get_flag("show_secrets");
    let found = scan(&addresses, &opts, registry);
    let text = if m.get_flag("json") {
        output::json(&found, show)
    } else if m.get_flag("inventory") {
        let to = m.get_one::<String>("output");
        let creds = output::Creds {
            ipmi: opts.probes.ipmi_login.as_ref(),
            v3: opts.probes.v3.as_ref(),
        };
        let (toml, notes) = output::inventory(&found, registry, show || to.is_some(), creds)?;
        for note in notes {
            eprintln!("fencebox: {note}");
        }
        match to {
            Some(path) => {
                crate::fleet::import::write_private(Path::new(path), &toml)?;
                format!("{path}: written (mode 0600); {}\n", output::summary(&found))
            }
            None => toml,
        }
    } else if m.get_flag("pcs") {
        let creds = output::Creds {
            ipmi: None,
            v3: opts.probes.v3.as_ref(),
        };
        output::pcs(&found, show, creds)
    } else if let Some(sections) = nut_format {
        output::nut_scanner(&found, show, sections)
    } else {
        output::table(&found, show)
    };
    Ok((text, 0))
}
