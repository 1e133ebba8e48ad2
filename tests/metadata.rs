//! Metadata: structurally equal to Debian fence-agents 4.12.1 for every agent name both
//! ship, and `metadata/` equal to what the binary prints (run with FENCEBOX_BLESS=1 to
//! regenerate the files).

mod common;
use common::Sandbox;

use quick_xml::events::Event;
use quick_xml::Reader;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

type Attrs = BTreeMap<String, String>;
/// (name, attributes of the parameter, getopt mixed, content attributes, select options)
type Param = (String, Attrs, String, Attrs, Vec<String>);

/// Everything Pacemaker, pcs and crmsh read from metadata, descriptions excluded.
#[derive(Debug, PartialEq, Eq, Default)]
struct Structure {
    root: BTreeMap<String, String>,
    symlinks: Vec<String>,
    parameters: Vec<Param>,
    actions: Vec<BTreeMap<String, String>>,
}

fn attrs(e: &quick_xml::events::BytesStart) -> BTreeMap<String, String> {
    e.attributes()
        .map(|a| {
            let a = a.expect("well-formed attribute");
            (
                AsRef::<str>::as_ref(&a.key).to_string(),
                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .expect("escaped value")
                    .into_owned(),
            )
        })
        .collect()
}

fn structure(xml: &str) -> Structure {
    let mut r = Reader::from_str(xml);
    let mut s = Structure::default();
    loop {
        match r.read_event().expect("well-formed XML") {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) => {
                let a = attrs(&e);
                let name = e.name();
                match AsRef::<str>::as_ref(&name) {
                    "resource-agent" => {
                        s.root = a.into_iter().filter(|(k, _)| k != "shortdesc").collect();
                    }
                    "symlink" => s.symlinks.push(a["name"].clone()),
                    "parameter" => s.parameters.push((
                        a["name"].clone(),
                        a,
                        String::new(),
                        BTreeMap::new(),
                        vec![],
                    )),
                    "getopt" => s.parameters.last_mut().unwrap().2 = a["mixed"].clone(),
                    "content" => s.parameters.last_mut().unwrap().3 = a,
                    "option" => s.parameters.last_mut().unwrap().4.push(a["value"].clone()),
                    "action" => s.actions.push(a),
                    _ => {}
                }
            }
            _ => {}
        }
    }
    s
}

/// The comparison with Debian's agents (the interop tier: fence-agents installed).
#[cfg(feature = "interop")]
mod debian {
    use super::*;

    fn debian(agent: &str) -> String {
        let path = Path::new("/usr/sbin").join(agent);
        assert!(
            path.exists(),
            "{} is missing: the reference is Debian's fence-agents package (apt-get install fence-agents; tests/run-all.sh installs it)",
            path.display()
        );
        let out = Command::new(&path)
            .args(["-o", "metadata"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{agent} -o metadata failed");
        String::from_utf8(out.stdout).unwrap()
    }

    /// Agents fencebox has that fence-agents 4.12.1 does not.
    const OURS_ONLY: &[&str] = &[
        "fence_pdu",
        "fence_nut",
        "fence_chain",
        // Upstream since fence-agents 4.13, not in Debian's 4.12.1: nothing to compare with.
        "fence_eaton_ssh",
    ];

    /// Every other agent name, in `fencebox agents` order: each is compared with Debian's.
    const UPSTREAM: &[&str] = &[
        "fence_alom",
        "fence_apc",
        "fence_apc_snmp",
        "fence_tripplite_snmp",
        "fence_bladecenter",
        "fence_brocade",
        "fence_cdu",
        "fence_cisco_mds",
        "fence_cyberpower_ssh",
        "fence_drac",
        "fence_drac5",
        "fence_dummy",
        "fence_eaton_snmp",
        "fence_emerson",
        "fence_hds_cb",
        "fence_hpblade",
        "fence_ibmblade",
        "fence_ifmib",
        "fence_ilo_moonshot",
        "fence_ilo_mp",
        "fence_ilo_ssh",
        "fence_ilo3_ssh",
        "fence_ilo4_ssh",
        "fence_ilo5_ssh",
        "fence_intelmodular",
        "fence_ipdu",
        "fence_ipmilan",
        "fence_ilo3",
        "fence_ilo4",
        "fence_ilo5",
        "fence_ipmilanplus",
        "fence_imm",
        "fence_idrac",
        "fence_ldom",
        "fence_lindypdu",
        "fence_lpar",
        "fence_netio",
        "fence_raritan",
        "fence_raritan_px3",
        "fence_rsa",
        "fence_rsb",
        "fence_sanbox2",
        "fence_vbox",
        "fence_virsh",
        "fence_wti",
    ];

    fn assert_same_structure(name: &str, ours: &str, theirs: &str) {
        let (a, b) = (structure(ours), structure(theirs));
        assert_eq!(a.root, b.root, "{name}: root attributes");
        assert_eq!(a.symlinks, b.symlinks, "{name}: symlinks");
        let names = |s: &Structure| s.parameters.iter().map(|p| p.0.clone()).collect::<Vec<_>>();
        assert_eq!(names(&a), names(&b), "{name}: parameter names and order");
        for (pa, pb) in a.parameters.iter().zip(&b.parameters) {
            assert_eq!(pa, pb, "{name}: parameter {}", pa.0);
        }
        assert_eq!(a.actions, b.actions, "{name}: actions");
    }

    #[test]
    fn every_upstream_agent_name_is_structurally_equal_to_debian() {
        let sb = Sandbox::new("meta-debian");
        let names = agent_names(&sb);
        let mut compared = Vec::new();
        for name in names.iter().filter(|n| !OURS_ONLY.contains(&n.as_str())) {
            let ours = sb.run_args(name, &["-o", "metadata"]);
            assert_eq!(ours.code, 0, "{name}");
            assert_same_structure(name, &ours.stdout, &debian(name));
            compared.push(name.as_str());
        }
        assert_eq!(compared, UPSTREAM, "the agents compared with Debian's");
    }
}

/// The reference files in metadata/, one per agent name.
fn agent_names(sb: &Sandbox) -> Vec<String> {
    let out = Command::new(common::BIN)
        .env("FENCEBOX_AGENTS_DIR", sb.path("no-site-agents"))
        .arg("agents")
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .collect()
}

#[test]
fn metadata_directory_matches_the_binary() {
    let sb = Sandbox::new("meta-drift");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("metadata");
    let bless = std::env::var_os("FENCEBOX_BLESS").is_some();
    let names = agent_names(&sb);
    assert!(names.contains(&"fence_dummy".to_string()));
    let mut stale = Vec::new();
    for name in &names {
        let xml = sb.run_args(name, &["-o", "metadata"]);
        assert_eq!(xml.code, 0, "{name}");
        let file = dir.join(format!("{name}.xml"));
        if bless {
            std::fs::write(&file, &xml.stdout).unwrap();
        } else {
            let kept = std::fs::read_to_string(&file).unwrap_or_default();
            if kept != xml.stdout {
                stale.push(name.clone());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "metadata/ differs from the binary for {stale:?}; regenerate with: FENCEBOX_BLESS=1 cargo test --test metadata"
    );
    for e in std::fs::read_dir(&dir).unwrap() {
        let f = e.unwrap().file_name().to_string_lossy().into_owned();
        if let Some(n) = f.strip_suffix(".xml") {
            assert!(
                names.iter().any(|x| x == n),
                "metadata/{f} belongs to no agent; remove it"
            );
        }
    }
}

#[test]
fn text_is_escaped() {
    let sb = Sandbox::new("meta-escape");
    let out = sb.run_args("fence_dummy", &["-o", "metadata"]);
    // The longdesc quotes a word; it must come out escaped and parse back.
    assert!(out.stdout.contains("&quot;machine&quot;"), "{}", out.stdout);
    let _ = structure(&out.stdout);
}
