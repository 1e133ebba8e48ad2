//! A private 3-member etcd cluster per test (tests/peers/etcd under the test's own state
//! directory, on free loopback ports), stopped by its pid files when the test ends, and
//! the site settings that point fencebox at it.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Etcd {
    state: PathBuf,
    pub endpoints: Vec<String>,
    /// etcd.env's variables (ETCD_CA, ETCD_CLIENT_CERT, ... with ETCD_TLS=1).
    pub env: std::collections::BTreeMap<String, String>,
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/peers/etcd")
        .join(name)
}

impl Etcd {
    /// Start a cluster whose state lives in `dir`; fails loudly if etcd cannot be had.
    pub fn start(dir: &Path) -> Etcd {
        Etcd::start_with(dir, false)
    }

    /// A cluster whose client URLs are https and that requires client certificates of
    /// its own test CA (`ETCD_TLS=1`).
    pub fn start_tls(dir: &Path) -> Etcd {
        Etcd::start_with(dir, true)
    }

    fn start_with(dir: &Path, tls: bool) -> Etcd {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new(script("start.sh"))
            .env("PEERS_STATE", dir)
            .env("ETCD_TLS", if tls { "1" } else { "0" })
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tests/peers/etcd/start.sh failed (etcd-server and etcd-client from Debian are needed):\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(dir.join("etcd.env")).unwrap();
        let env: std::collections::BTreeMap<String, String> = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let endpoints = env
            .get("ETCD_ENDPOINTS")
            .expect("ETCD_ENDPOINTS in etcd.env")
            .split(',')
            .map(str::to_string)
            .collect();
        Etcd {
            state: dir.to_path_buf(),
            endpoints,
            env,
        }
    }

    /// `member.sh ARGS` (kill|stop|start NAME, leader): its output.
    pub fn member(&self, args: &[&str]) -> String {
        let out = Command::new(script("member.sh"))
            .args(args)
            .env("PEERS_STATE", &self.state)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "member.sh {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Stop every member now (the test goes on without etcd).
    pub fn stop(&self) {
        let _ = Command::new(script("stop.sh"))
            .env("PEERS_STATE", &self.state)
            .output();
    }

    /// `[locks]` for this cluster, with `extra` lines (ttl, on_unreachable, ...).
    pub fn site(&self, extra: &str) -> String {
        let endpoints: Vec<String> = self.endpoints.iter().map(|e| format!("\"{e}\"")).collect();
        format!(
            "[locks]\nbackend = \"etcd\"\nendpoints = [{}]\n{extra}\n",
            endpoints.join(", ")
        )
    }
}

impl Etcd {
    /// POST `body` to `/v3/<method>` of the first member (etcd's JSON gateway): its answer.
    #[allow(dead_code)]
    pub fn post(&self, method: &str, body: serde_json::Value) -> serde_json::Value {
        let agent = ureq::Agent::config_builder()
            .proxy(None)
            .build()
            .new_agent();
        let url = format!("{}/v3/{method}", self.endpoints[0]);
        let text = agent
            .post(&url)
            .header("content-type", "application/json")
            .send(body.to_string())
            .and_then(|mut r| r.body_mut().read_to_string())
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: {e}: {text}"))
    }

    pub fn get(&self, key: &str) -> &str {
        self.env
            .get(key)
            .unwrap_or_else(|| panic!("{key} missing in etcd.env"))
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.stop();
    }
}
