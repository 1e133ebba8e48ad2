//! A private 3-member etcd cluster per test (tests/peers/etcd under the test's own state
//! directory, on free loopback ports), stopped by its pid files when the test ends, and
//! the site settings that point fencebox at it.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Etcd {
    state: PathBuf,
    pub endpoints: Vec<String>,
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/peers/etcd")
        .join(name)
}

impl Etcd {
    /// Start a cluster whose state lives in `dir`; fails loudly if etcd cannot be had.
    pub fn start(dir: &Path) -> Etcd {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new(script("start.sh"))
            .env("PEERS_STATE", dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tests/peers/etcd/start.sh failed (etcd-server and etcd-client from Debian are needed):\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let env = std::fs::read_to_string(dir.join("etcd.env")).unwrap();
        let endpoints = env
            .lines()
            .find_map(|l| l.strip_prefix("ETCD_ENDPOINTS="))
            .expect("ETCD_ENDPOINTS in etcd.env")
            .split(',')
            .map(str::to_string)
            .collect();
        Etcd {
            state: dir.to_path_buf(),
            endpoints,
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

impl Drop for Etcd {
    fn drop(&mut self) {
        self.stop();
    }
}
