//! The fleet peer of tests/peers/fleet (42 snmpsim APC PDUs picked by community, 64
//! ipmi_sim BMCs) as tests see it: its addresses, device entries for an inventory, and
//! snmpsim's timestamped change log of outlet commands.

use std::collections::BTreeMap;
use std::process::Command;

pub struct Fleet {
    env: BTreeMap<String, String>,
}

/// Fails loudly when the fleet peer is not running.
pub fn fleet() -> Fleet {
    let state = std::env::var("PEERS_STATE").unwrap_or_else(|_| "/tmp/fencebox-test-peers".into());
    let file = format!("{state}/fleet/fleet.env");
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| {
        panic!("the fleet peer is not running ({file}: {e}); start it with tests/peers/fleet/start.sh (tests/run-all.sh does)")
    });
    let env = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Fleet { env }
}

impl Fleet {
    pub fn get(&self, k: &str) -> &str {
        self.env
            .get(k)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("{k} missing in fleet.env"))
    }

    pub fn pdu(&self, n: u32) -> String {
        format!(
            "[devices.pdu{n:02}]\nagent = \"fence_apc_snmp\"\nip = \"127.0.0.1\"\nipport = {}\ncommunity = \"pdu{n:02}\"\n\n",
            self.get("FLEET_SNMP_PORT")
        )
    }

    pub fn bmc(&self, n: u32) -> String {
        let port: u32 = self.get("FLEET_BMC_BASE").parse().unwrap();
        format!(
            "[devices.bmc{n:02}]\nagent = \"fence_ipmilan\"\nip = \"127.0.0.1\"\nipport = {}\nusername = \"{}\"\npassword = \"{}\"\nlanplus = true\npower_wait = 0\n\n",
            port + n - 1,
            self.get("IPMI_USER"),
            self.get("IPMI_PASS")
        )
    }

    /// The change log since `t`: (pdu, outlet, command) in time order.
    pub fn changes(&self, since: f64, picks: &[&str]) -> Vec<(String, u32, u32)> {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/fleet/changes.py");
        let out = Command::new("python3")
            .arg(script)
            .arg(self.get("FLEET_SETLOG_DB"))
            .args(["--since", &since.to_string()])
            .args(picks)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                (
                    w[1].to_string(),
                    w[2].parse().unwrap(),
                    w[3].parse().unwrap(),
                )
            })
            .collect()
    }

    /// The state (1 on, 2 off) of outlets of a PDU, read by net-snmp's snmpget.
    pub fn states(&self, pdu: u32, outlets: std::ops::RangeInclusive<u32>) -> Vec<u32> {
        let oids: Vec<String> = outlets
            .map(|o| format!(".1.3.6.1.4.1.318.1.1.12.3.5.1.1.4.{o}"))
            .collect();
        let out = Command::new("snmpget")
            .args(["-m", "", "-Oqv", "-v2c", "-c", &format!("pdu{pdu:02}")])
            .arg(format!("127.0.0.1:{}", self.get("FLEET_SNMP_PORT")))
            .args(&oids)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim().parse().unwrap())
            .collect()
    }

    pub fn chassis(&self, n: u32) -> String {
        std::fs::read_to_string(format!("{}/bmc{n:02}/power", self.get("FLEET_BMC_DIR")))
            .unwrap()
            .trim()
            .to_string()
    }
}
