//! OpenFlight Power's topology.yaml (power-server's) into an inventory.
//!
//! The file has `platforms` (shell commands per platform: `power_on`, `power_off`,
//! `restart`, `status`, and the `variables` they take from each node) and
//! `static_nodes` (`nodes` in early releases): each node's `platform` and the values of
//! those variables (`name` is the node's own). A node whose platform runs `ipmitool`
//! becomes a fence_ipmilan device for its BMC, the options read from the ipmitool command
//! line with the node's values put in; other platforms (cloud CLIs, custom scripts) are
//! noted.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::TScalarStyle;

use super::{name_ok, Builder, Given, Imported, NodeOut, Secrets, SECRETS_DIR};
use crate::contract::agents::Registry;

/// Nodes in the whole document, aliases expanded: a topology of thousands of nodes is
/// far below; an alias bomb is not.
const MAX_NODES: usize = 1_000_000;
const MAX_DEPTH: usize = 64;

/// Import the topology.yaml `text`.
pub fn import(text: &str, registry: &Registry, secrets: Secrets) -> Result<Imported, String> {
    let doc = load(text)?;
    let Yaml::Map(top) = &doc else {
        return Err("not an OpenFlight Power topology: the document is not a mapping".into());
    };
    let platforms = match get(top, "platforms") {
        Some(Yaml::Map(p)) => p,
        _ => {
            return Err("not an OpenFlight Power topology: it has no \"platforms\" mapping".into())
        }
    };
    let mut b = Builder::new(registry, secrets);
    let nodes = match get(top, "static_nodes").or_else(|| get(top, "nodes")) {
        Some(Yaml::Map(n)) => n.as_slice(),
        Some(Yaml::Null) | None => {
            b.note("the topology has no static_nodes (power-server then asks a nodeattr server for them); nothing to import");
            &[]
        }
        Some(_) => {
            return Err("not an OpenFlight Power topology: static_nodes is not a mapping".into())
        }
    };
    for (node, attrs) in nodes {
        let origin = format!("static_nodes.{node}");
        let Yaml::Map(attrs) = attrs else {
            b.note(format!("{origin}: not a mapping of values; left out"));
            continue;
        };
        if let Err(why) = bmc_of(&mut b, node, attrs, platforms) {
            b.note(format!("{origin}: {why}; left out"));
        }
    }
    b.finish(
        "fencebox inventory imported from OpenFlight Power's topology.yaml.\n\
         Check it with 'fencebox inventory check' and read the notes the import printed.",
    )
}

/// Add node `node`'s BMC device and the node, from its platform's ipmitool command.
fn bmc_of(
    b: &mut Builder,
    node: &str,
    attrs: &[(String, Yaml)],
    platforms: &[(String, Yaml)],
) -> Result<(), String> {
    let platform = match get(attrs, "platform") {
        Some(Yaml::Scalar(p)) => p,
        _ => return Err("it names no platform".into()),
    };
    let Some(Yaml::Map(def)) = get(platforms, platform) else {
        return Err(format!(
            "platform {platform} is not defined (power-server runs 'exit 1' for it)"
        ));
    };
    // The variables power-server sets from the node; `name` is always the node's.
    let mut vars: HashMap<&str, &str> = HashMap::new();
    if let Some(Yaml::Seq(list)) = get(def, "variables") {
        for v in list {
            if let Yaml::Scalar(v) = v {
                if let Some(Yaml::Scalar(value)) = get(attrs, v) {
                    vars.insert(v, value);
                }
            }
        }
    }
    vars.insert("name", node);
    let command = ["power_off", "power_on", "restart", "status"]
        .iter()
        .filter_map(|k| match get(def, k) {
            Some(Yaml::Scalar(c)) => Some(c.as_str()),
            _ => None,
        })
        .flat_map(str::lines)
        .find(|line| {
            line.split_whitespace()
                .any(|w| w.trim_matches(['"', '\'']).ends_with("ipmitool"))
        })
        .ok_or_else(|| format!("platform {platform} runs no ipmitool command"))?;
    // From the word that runs ipmitool (`out=$(ipmitool ...)` in a status script).
    let start = command.find("ipmitool").map_or(0, |at| {
        command[..at]
            .rfind([' ', '\t', '(', '`', '"', '\''])
            .map_or(0, |s| s + 1)
    });
    let words = shell_words(&command[start..], &vars)?;
    let at = words
        .iter()
        .position(|w| w.rsplit('/').next() == Some("ipmitool"))
        .ok_or_else(|| {
            format!("platform {platform} runs ipmitool in a way fencebox cannot read")
        })?;
    let origin = format!("static_nodes.{node} (platform {platform})");
    let name = b.device_name(&format!("{node}-bmc"), &origin);
    let options = ipmitool_options(b, &words[at + 1..], &name, &origin)?;
    let agent = b.agent("fence_ipmilan")?;
    b.device(&name, &agent, &origin, &options);
    let groups = if name_ok(platform) && platform != "all" {
        vec![platform.clone()]
    } else {
        Vec::new()
    };
    b.node(
        node,
        &origin,
        NodeOut {
            groups,
            bmc: Some(super::feed(&name, "")),
            ..NodeOut::default()
        },
    );
    Ok(())
}

/// fence_ipmilan's options from ipmitool's arguments.
fn ipmitool_options(
    b: &mut Builder,
    args: &[String],
    device: &str,
    origin: &str,
) -> Result<Vec<(String, Given)>, String> {
    let mut options = Vec::new();
    let mut password = false;
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            break;
        }
        // The command (chassis power ...); glibc's getopt finds options after it too.
        let Some(flag) = arg.strip_prefix('-').and_then(|f| f.chars().next()) else {
            continue;
        };
        let takes_value = "HUPfIpCLAykNRtbTBmolOSez".contains(flag);
        let value = if !takes_value {
            String::new()
        } else if arg.len() > 1 + flag.len_utf8() {
            arg[1 + flag.len_utf8()..].to_string()
        } else if i < args.len() {
            i += 1;
            args[i - 1].clone()
        } else {
            return Err(format!("ipmitool's -{flag} has no value"));
        };
        match flag {
            'H' => options.push(("ip".into(), Given::Text(value))),
            'U' => options.push(("username".into(), Given::Text(value))),
            'P' => {
                password = true;
                options.push(("password".into(), Given::Text(value)));
            }
            'f' => {
                password = true;
                options.push(("password".into(), Given::InFile(value.into())));
            }
            'E' => {
                password = true;
                let path = format!("{SECRETS_DIR}/{device}-password");
                b.note(format!(
                    "{origin}: ipmitool took the password from IPMI_PASSWORD in power-server's environment; put it on the first line of {path} (chmod 600)"
                ));
                options.push(("password".into(), Given::InFile(path.into())));
            }
            'I' => match value.as_str() {
                "lanplus" => options.push(("lanplus".into(), Given::Flag(true))),
                "lan" => {}
                other => return Err(format!("ipmitool's interface {other} is not IPMI over LAN")),
            },
            'p' => match value.parse::<i64>() {
                Ok(n) => options.push(("ipport".into(), Given::Number(n))),
                Err(_) => return Err(format!("ipmitool's port '{value}' is not a number")),
            },
            'C' => options.push(("cipher".into(), Given::Text(value))),
            'L' => options.push(("privlvl".into(), Given::Text(value.to_ascii_lowercase()))),
            'A' => match value.to_ascii_lowercase().as_str() {
                a @ ("md5" | "password" | "none") => options.push(("auth".into(), Given::Text(a.into()))),
                _ => b.note(format!(
                    "{origin}: ipmitool's authentication type {value} is not one fence_ipmilan has; left out"
                )),
            },
            'y' => options.push(("hexadecimal_kg".into(), Given::Text(value))),
            't' => options.push(("target".into(), Given::Text(value))),
            // Double bridging or another channel: the device would switch some other
            // controller than the node's.
            'b' | 'T' | 'B' => {
                return Err(format!(
                    "its ipmitool command bridges with -{flag}, which fence_ipmilan cannot; the node is left out"
                ))
            }
            _ => b.note(format!(
                "{origin}: ipmitool's -{flag} has no fence_ipmilan option; left out"
            )),
        }
    }
    if !options.iter().any(|(k, _)| k == "ip") {
        return Err("its ipmitool command has no -H, so it talks to the local BMC".into());
    }
    if !password {
        b.note(format!(
            "{origin}: its ipmitool command gives no password; add password_file for {device} by hand if the BMC needs one"
        ));
    }
    Ok(options)
}

/// The words of one shell command line, variables put in from `vars`; the command ends
/// at the first pipe, list or redirection. Command substitution and variables that do
/// not come from the node cannot be read here.
fn shell_words(line: &str, vars: &HashMap<&str, &str>) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    let expand = |chars: &mut std::iter::Peekable<std::str::Chars>,
                  out: &mut String|
     -> Result<(), String> {
        let name: String = if chars.peek() == Some(&'{') {
            chars.next();
            let n: String = chars.by_ref().take_while(|&c| c != '}').collect();
            if !n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                // Only the variable's name: a default after it (${PASS:-secret}) may be
                // a secret.
                let var: String = n
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                return Err(format!(
                    "its command uses ${{{var}...}} with an expansion fencebox cannot read"
                ));
            }
            n
        } else if chars.peek() == Some(&'(') {
            return Err("its command runs a command substitution".into());
        } else {
            let mut n = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_ascii_alphanumeric() || c == '_' {
                    n.push(c);
                    chars.next();
                } else {
                    break;
                }
            }
            if n.is_empty() {
                out.push('$');
                return Ok(());
            }
            n
        };
        match vars.get(name.as_str()) {
            Some(v) => {
                out.push_str(v);
                Ok(())
            }
            None => Err(format!(
                "its command uses ${name}, which is not among the node's variables (it would come from power-server's environment)"
            )),
        }
    };
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '|' | ';' | '&' | '<' | '>' | '(' | ')' => break,
            '#' if !in_word => break,
            '`' => break,
            '\\' => {
                in_word = true;
                if let Some(n) = chars.next() {
                    word.push(n);
                }
            }
            '\'' => {
                in_word = true;
                word.extend(chars.by_ref().take_while(|&c| c != '\''));
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => match chars.next() {
                            Some(n @ ('$' | '`' | '"' | '\\')) => word.push(n),
                            Some(n) => {
                                word.push('\\');
                                word.push(n);
                            }
                            None => {}
                        },
                        '$' => expand(&mut chars, &mut word)?,
                        '`' => return Err("its command runs a command substitution".into()),
                        c => word.push(c),
                    }
                }
            }
            '$' => {
                in_word = true;
                expand(&mut chars, &mut word)?;
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

// ------------------------------------------------------------------ YAML

/// A YAML document as plain data: scalars stay the text they were written as.
#[derive(Debug, Clone, PartialEq)]
enum Yaml {
    Null,
    Scalar(String),
    Seq(Vec<Yaml>),
    Map(Vec<(String, Yaml)>),
}

/// The value of `key`; the last one where a key repeats (as Ruby reads it).
fn get<'a>(map: &'a [(String, Yaml)], key: &str) -> Option<&'a Yaml> {
    map.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v)
}

enum Open {
    Seq(Vec<Yaml>),
    Map(Vec<(String, Yaml)>, Option<String>),
}

/// The first document of `text`, aliases expanded within [`MAX_NODES`].
fn load(text: &str) -> Result<Yaml, String> {
    let bad = |e: &dyn std::fmt::Display| format!("not an OpenFlight Power topology: {e}");
    let mut parser = Parser::new_from_str(text);
    let mut open: Vec<(Open, usize, usize)> = Vec::new(); // container, anchor, size
    let mut anchors: HashMap<usize, (Yaml, usize)> = HashMap::new();
    let mut total = 0usize;
    loop {
        let (event, _) = parser.next_token().map_err(|e| bad(&e))?;
        let (node, anchor, size) = match event {
            Event::StreamEnd => return Ok(Yaml::Null),
            Event::Scalar(v, style, anchor, _) => {
                let null = style == TScalarStyle::Plain
                    && matches!(v.as_str(), "" | "~" | "null" | "Null" | "NULL");
                (if null { Yaml::Null } else { Yaml::Scalar(v) }, anchor, 1)
            }
            Event::SequenceStart(anchor, _) => {
                open.push((Open::Seq(Vec::new()), anchor, 1));
                if open.len() > MAX_DEPTH {
                    return Err(bad(&format!("nested more than {MAX_DEPTH} deep")));
                }
                continue;
            }
            Event::MappingStart(anchor, _) => {
                open.push((Open::Map(Vec::new(), None), anchor, 1));
                if open.len() > MAX_DEPTH {
                    return Err(bad(&format!("nested more than {MAX_DEPTH} deep")));
                }
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => match open.pop() {
                Some((Open::Seq(items), anchor, size)) => (Yaml::Seq(items), anchor, size),
                Some((Open::Map(entries, _), anchor, size)) => (Yaml::Map(entries), anchor, size),
                None => return Err(bad(&"a collection ends that never began")),
            },
            Event::Alias(id) => match anchors.get(&id) {
                Some((node, size)) => (node.clone(), 0, *size),
                None => return Err(bad(&"an alias names no anchor")),
            },
            _ => continue,
        };
        total += size;
        if total > MAX_NODES {
            return Err(bad(&format!(
                "more than {MAX_NODES} values once aliases are expanded"
            )));
        }
        if anchor > 0 {
            anchors.insert(anchor, (node.clone(), size));
        }
        let Some((parent, _, parent_size)) = open.last_mut() else {
            return Ok(node);
        };
        *parent_size += size;
        match parent {
            Open::Seq(items) => items.push(node),
            Open::Map(entries, key) => match key.take() {
                Some(k) => entries.push((k, node)),
                None => match node {
                    Yaml::Scalar(k) => *key = Some(k),
                    Yaml::Null => *key = Some(String::new()),
                    _ => return Err(bad(&"a mapping key is not plain text")),
                },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    fn run(text: &str, secrets: Secrets) -> (Imported, crate::fleet::inventory::Inventory) {
        let imported = import(text, &registry(), secrets).unwrap_or_else(|e| panic!("{e}"));
        let inv = reads_back(&imported, secrets);
        (imported, inv)
    }

    /// A topology written for this test from power-server's documented format (its README
    /// and the example topology it ships): three platforms, nodes on each.
    const TOPOLOGY: &str = r#"
# Compute nodes answer on <name>-bmc; the GPU nodes' BMCs are given by address.
static_nodes:
  cn01:
    platform: ipmi
    ipmi_username: admin
  cn02:
    platform: ipmi
    ipmi_username: admin
  gpu01:
    platform: ipmi-by-address
    bmc_ip: 10.10.0.101
    bmc_user: root
    bmc_pass: "gpu-secret"
  cloud01:
    platform: aws
    ec2_id: i-0123456789abcdef0
    region: eu-west-2
  lost01:
    platform: nowhere
platforms:
  ipmi:
    variables: [name, ipmi_username]
    power_on: ipmitool -H "$name"-bmc -U "$ipmi_username" -E chassis power on -I lanplus
    power_off: ipmitool -H "$name"-bmc -U "$ipmi_username" -E chassis power off -I lanplus
    restart: ipmitool -H "$name"-bmc -U "$ipmi_username" -E chassis power reset -I lanplus
    status: |-
      out=$(ipmitool -H "$name"-bmc -U "$ipmi_username" -E chassis power status -I lanplus)
      case "$out" in *on*) exit 0 ;; *off*) exit 111 ;; *) exit 1 ;; esac
  ipmi-by-address:
    variables: [bmc_ip, bmc_user, bmc_pass]
    power_off: /usr/bin/ipmitool -I lanplus -H ${bmc_ip} -U ${bmc_user} -P "$bmc_pass" -C 3 -L OPERATOR -p 623 chassis power off
    power_on: /usr/bin/ipmitool -I lanplus -H ${bmc_ip} -U ${bmc_user} -P "$bmc_pass" -C 3 -L OPERATOR -p 623 chassis power on
  aws:
    variables: [ec2_id, region]
    power_off: aws ec2 stop-instances --instance-ids "$ec2_id" --region "$region"
    power_on: aws ec2 start-instances --instance-ids "$ec2_id" --region "$region"
"#;

    #[test]
    fn ipmitool_platforms_become_bmcs() {
        let (imported, inv) = run(TOPOLOGY, Secrets::Files);
        hides(&imported, &["gpu-secret"]);
        assert_eq!(bmc(&inv, "cn01").as_deref(), Some("cn01-bmc"));
        assert_eq!(
            option(&inv, "cn01-bmc", "ipaddr").as_deref(),
            Some("cn01-bmc")
        );
        assert_eq!(option(&inv, "cn01-bmc", "login").as_deref(), Some("admin"));
        assert_eq!(option(&inv, "cn01-bmc", "lanplus").as_deref(), Some("1"));
        assert_eq!(
            option(&inv, "cn01-bmc", "passwd").as_deref(),
            Some("file:/etc/fencebox/secrets/cn01-bmc-password")
        );
        assert_eq!(
            inv.node("cn02").map(|n| n.groups.clone()),
            Some(vec!["ipmi".to_string()])
        );
        assert_eq!(
            option(&inv, "gpu01-bmc", "ipaddr").as_deref(),
            Some("10.10.0.101")
        );
        assert_eq!(option(&inv, "gpu01-bmc", "cipher").as_deref(), Some("3"));
        assert_eq!(
            option(&inv, "gpu01-bmc", "privlvl").as_deref(),
            Some("operator")
        );
        assert_eq!(option(&inv, "gpu01-bmc", "ipport").as_deref(), Some("623"));
        assert!(inv.node("cloud01").is_none() && inv.node("lost01").is_none());
        let n = imported.notes.join("\n");
        for wanted in [
            "static_nodes.cloud01: platform aws runs no ipmitool command",
            "static_nodes.lost01: platform nowhere is not defined",
            "IPMI_PASSWORD in power-server's environment",
            "/etc/fencebox/secrets/gpu01-bmc-password",
        ] {
            assert!(n.contains(wanted), "{wanted}:\n{n}");
        }
        let (imported, inv) = run(TOPOLOGY, Secrets::Inline);
        assert!(imported.toml.contains("gpu-secret"));
        assert_eq!(
            option(&inv, "gpu01-bmc", "passwd").as_deref(),
            Some("gpu-secret")
        );
    }

    #[test]
    fn commands_fencebox_cannot_read_are_noted() {
        let text = r#"
static_nodes:
  a: {platform: env}
  b: {platform: subst}
  c: {platform: local}
  d: {platform: serial}
platforms:
  env: {power_off: 'ipmitool -H "$BMC_HOST" -U x chassis power off'}
  subst: {power_off: 'ipmitool -H $(lookup b) chassis power off'}
  local: {power_off: 'ipmitool chassis power off'}
  serial: {power_off: 'ipmitool -I open chassis power off'}
"#;
        let (imported, inv) = run(text, Secrets::Files);
        assert!(inv.nodes.is_empty());
        let n = imported.notes.join("\n");
        for wanted in [
            "static_nodes.a: its command uses $BMC_HOST, which is not among the node's variables",
            "static_nodes.b: its command runs a command substitution",
            "static_nodes.c: its ipmitool command has no -H",
            "static_nodes.d: ipmitool's interface open is not IPMI over LAN",
        ] {
            assert!(n.contains(wanted), "{wanted}:\n{n}");
        }
    }

    #[test]
    fn shell_words_quote_and_expand_like_a_shell() {
        let vars: HashMap<&str, &str> = [("name", "n1"), ("u", "ad min")].into();
        assert_eq!(
            shell_words(
                r#"ipmitool -H "$name"-bmc -U "$u" -P 'a$b' x\ y ${name}z | grep on"#,
                &vars
            )
            .unwrap(),
            ["ipmitool", "-H", "n1-bmc", "-U", "ad min", "-P", "a$b", "x y", "n1z"]
        );
    }

    #[test]
    fn yaml_aliases_expand_but_not_without_bound() {
        let doc = load("a: &x {k: v}\nb: *x\n").unwrap();
        let Yaml::Map(m) = doc else { panic!() };
        assert_eq!(get(&m, "b"), get(&m, "a"));
        let mut bomb = String::from("l0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            bomb.push_str(&format!("l{i}: &a{i} [{refs}]\n"));
        }
        let e = load(&bomb).unwrap_err();
        assert!(e.contains("more than"), "{e}");
    }

    #[test]
    fn broken_input_is_one_line() {
        for (text, wanted) in [
            ("a: [1, 2", "not an OpenFlight Power topology"),
            ("- just\n- a list\n", "not a mapping"),
            ("static_nodes: {}\n", "no \"platforms\""),
            (
                "platforms: {}\nstatic_nodes: [a]\n",
                "static_nodes is not a mapping",
            ),
        ] {
            let e = import(text, &registry(), Secrets::Files)
                .err()
                .unwrap_or_else(|| panic!("{text}: accepted"));
            assert!(e.contains(wanted), "{text}: {e}");
            assert_eq!(e.lines().count(), 1, "{e}");
        }
        let (imported, _) = run("platforms: {}\n", Secrets::Files);
        assert!(imported.notes[0].contains("no static_nodes"));
    }
}
