//! The web console in a real browser: headless Chromium (Debian's chromium and
//! chromium-driver, tests/peers/browser) driven by tests/browser/console.py over WebDriver,
//! against `fencebox serve` on the fleet peer's snmpsim PDUs (whose own timestamped log
//! shows what was switched and in which order) and a metered Raritan PX2 on snmpsim.
//!
//! FENCEBOX_SCREENSHOTS=DIR keeps the pages' screenshots there (docs/images holds the ones
//! README shows).

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::fleet::fleet;
use common::service::{private, Service};
use common::{sims, Sandbox};

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// browser.env of tests/peers/browser/start.sh; fails loudly without it.
fn browser_env() -> Vec<(String, String)> {
    let state = std::env::var("PEERS_STATE").unwrap_or_else(|_| "/tmp/fencebox-test-peers".into());
    let file = format!("{state}/browser.env");
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| {
        panic!("the browser peer is not running ({file}: {e}); start it with tests/peers/browser/start.sh (tests/run-all.sh does)")
    });
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn token(sb: &Sandbox, tokens: &PathBuf, name: &str, scope: &str) -> String {
    let out = sb
        .command("fencebox")
        .args(["token", "add", name, "--scope", scope, "--file"])
        .arg(tokens)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string()
}

/// A service on `inventory` with its tokens file; `extra` lines in serve.toml.
fn service(sb: &Sandbox, tag: &str, inventory: &str, extra: &str) -> (PathBuf, PathBuf) {
    let inv = sb.path(&format!("{tag}-inventory.toml"));
    private(&inv, inventory);
    let tokens = sb.path(&format!("{tag}-tokens.toml"));
    let config = sb.path(&format!("{tag}-serve.toml"));
    std::fs::write(
        &config,
        format!(
            "inventory = \"{}\"\ntokens = \"{}\"\njournal = \"{}\"\nlisten = [\"127.0.0.1:0\"]\n{extra}",
            inv.display(),
            tokens.display(),
            sb.path(&format!("{tag}-journal.jsonl")).display()
        ),
    )
    .unwrap();
    (config, tokens)
}

#[test]
fn a_browser_reboots_a_dual_psu_node_and_sees_it_on_readers_see_no_switch_forgeries_fail() {
    let f = fleet();
    let snmp = sims();
    let sb = Sandbox::new("console-browser");
    let pdu = |n: u32| f.pdu(n);
    // The rack PDUs on the mains, so that each chain runs to its end.
    let mains = |n: u32| pdu(n).replacen("\n\n", "\nparent = \"mains\"\n\n", 1);
    let mut inv = format!(
        "{}{}[devices.rack]\nagent = \"fence_pdu\"\nip = \"127.0.0.1\"\nipport = {}\ncommunity = \"raritan\"\nsnmp_version = \"2c\"\nparent = \"mains\"\n\n",
        mains(41),
        mains(42),
        snmp.port
    );
    for i in 1..=6u32 {
        inv.push_str(&format!(
            "[nodes.web{i:02}]\ngroups = [\"web\"]\nfeeds = [\"pdu41:{}\", \"pdu42:{}\"]\n\n",
            i + 4,
            i + 4
        ));
    }
    inv.push_str("[nodes.db01]\ngroups = [\"db\"]\nfeeds = [\"rack:3\"]\n\n");
    let (config, tokens) = service(&sb, "site", &inv, "stats_max_age = 1\n");
    let control = token(&sb, &tokens, "operator", "control");
    let read = token(&sb, &tokens, "viewer", "read");
    let mut site = Service::start(&sb, &config);

    // A second service with 1000 nodes on the fleet's 42 PDUs, for the page-load figure.
    let mut big = (1..=42u32).map(pdu).collect::<String>();
    for i in 0..1000u32 {
        big.push_str(&format!(
            "[nodes.n{:04}]\ngroups = [\"rack{:02}\"]\nfeeds = [\"pdu{:02}:{}\"]\n\n",
            i + 1,
            i / 24 + 1,
            i / 24 + 1,
            i % 24 + 1
        ));
    }
    let (big_config, big_tokens) = service(&sb, "big", &big, "");
    let big_token = token(&sb, &big_tokens, "viewer", "read");
    let mut big_service = Service::start(&sb, &big_config);

    let shots = std::env::var("FENCEBOX_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| sb.path("shots"));
    std::fs::create_dir_all(&shots).unwrap();
    let cfg = serde_json::json!({
        "url": format!("http://{}", site.api),
        "control": control,
        "read": read,
        "node": "web01",
        "meter": "rack",
        "shots": shots,
        "attacker_host": "localhost",
        "big_url": format!("http://{}", big_service.api),
        "big_token": big_token,
    });
    let cfg_path = sb.path("browser.json");
    std::fs::write(&cfg_path, cfg.to_string()).unwrap();
    let t = now();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/console.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(&cfg_path)
        .envs(browser_env())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    eprintln!("browser: {seen}");

    assert_eq!(seen["cookie"]["httpOnly"], true, "{seen}");
    assert_eq!(seen["cookie"]["sameSite"], "Strict", "{seen}");
    assert!(!seen["document_cookie"]
        .as_str()
        .unwrap()
        .contains("fb_session"));
    assert!(seen["chain_links"].as_u64().unwrap() >= 2, "{seen}");
    assert_eq!(
        seen["confirm_outlets"],
        serde_json::json!(["pdu41:5", "pdu42:5"])
    );
    assert_eq!(seen["job_state"], "done", "{seen}");
    assert_eq!(seen["job_confirmed"], "true", "{seen}");
    assert_eq!(seen["list_state"], "ON");
    assert!(seen["plot_points"].as_u64().unwrap() >= 4, "{seen}");
    assert!(seen["outlet_rows"].as_u64().unwrap() >= 3, "{seen}");
    assert_eq!(seen["read_switches"], 0, "{seen}");
    assert_eq!(
        seen["phone_overflow"],
        serde_json::json!([false, false, false]),
        "a page wider than a phone's screen: {seen}"
    );
    assert!(
        seen["after_logout"]
            .as_str()
            .unwrap()
            .ends_with("/ui/login"),
        "{seen}"
    );
    assert_eq!(seen["token_in_source"], false);
    let forged = seen["forged"]["refused"].as_str().unwrap();
    assert!(
        forged.contains("another site") || forged.contains("no console session"),
        "{seen}"
    );

    // snmpsim's own log: both outlets off before either is on, and nothing else, so the
    // forged power-off switched nothing.
    let log = f.changes(t, &["pdu41:5", "pdu42:5"]);
    let cmds: Vec<u32> = log.iter().map(|(_, _, c)| *c).collect();
    assert_eq!(cmds, [2, 2, 1, 1], "{log:?}");
    assert_eq!(f.states(41, 5..=5), [1]);
    assert_eq!(f.states(42, 5..=5), [1]);

    // The screenshots are PNGs of a real page.
    for name in [
        "console-nodes.png",
        "console-chain.png",
        "console-device.png",
    ] {
        let png = std::fs::read(shots.join(name)).unwrap();
        assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "{name}");
    }

    // No token in any log line.
    let said = site.said() + &big_service.said();
    for t in [&control, &read, &big_token] {
        assert!(!said.contains(t.as_str()), "a token in the service's log");
    }
    // The 1000-node page load, reported (bench/console.py measures it for docs/benchmarks.md).
    let big = &seen["big"];
    assert_eq!(big["rows"], 1000, "{seen}");
    eprintln!(
        "node list of 1000 nodes: page load {} ms (median of 7; each {})",
        big["load_ms_median"], big["load_ms"]
    );
}
