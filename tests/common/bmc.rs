//! Simulated BMCs for the IPMI tests, one per test so power states never leak between
//! tests: OpenIPMI's ipmi_sim (Debian package openipmi; IPMI 1.5 and RMCP+ suites 0-3)
//! and a BMC on pyghmi's IPMI server (a venv made by tests/run-all.sh; suite 3). Both run
//! on loopback on a free port and are killed by PID when the test ends.

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::Sandbox;

pub struct Bmc {
    child: Child,
    pub port: u16,
    pub addr: String,
    dir: PathBuf,
    log: PathBuf,
}

fn peers() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/ipmi")
}

/// A port nothing listens on now (the BMC binds it a moment later).
fn free_port(addr: &str) -> u16 {
    UdpSocket::bind((addr, 0))
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free UDP port")
}

/// Get Channel Authentication Capabilities outside a session: any BMC answers it.
const PROBE: [u8; 23] = [
    0x06, 0x00, 0xff, 0x07, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x09, 0x20, 0x18, 0xc8, 0x81, 0x00, 0x38,
    0x8e, 0x04, 0xb5,
];

fn answers(addr: &str, port: u16) -> bool {
    let Ok(s) = UdpSocket::bind((addr, 0)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
    let mut buf = [0u8; 256];
    s.send_to(&PROBE, (addr, port)).is_ok() && s.recv(&mut buf).is_ok()
}

impl Bmc {
    /// ipmi_sim on `addr` (127.0.0.1 or ::1), powered on. Users: admin/password
    /// (administrator), operator/oppass (operator), viewer/viewpass (user).
    pub fn ipmi_sim(sb: &Sandbox, addr: &str) -> Bmc {
        Bmc::ipmi_sim_with(sb, addr, "")
    }

    /// ipmi_sim as `ipmi_sim` starts it, with `extra` ipmi_sim commands after bmc.emu's
    /// (sensors and their SDRs, say).
    pub fn ipmi_sim_with(sb: &Sandbox, addr: &str, extra: &str) -> Bmc {
        assert!(
            Path::new("/usr/bin/ipmi_sim").exists(),
            "ipmi_sim is not installed (Debian package openipmi); tests/run-all.sh installs it"
        );
        for _ in 0..5 {
            let port = free_port(addr);
            let dir = sb.path(&format!("bmc-{port}"));
            std::fs::create_dir_all(dir.join("state")).unwrap();
            std::fs::create_dir_all(dir.join("m82")).unwrap();
            std::fs::write(dir.join("power"), "1\n").unwrap();
            std::fs::write(dir.join("m82/power"), "1\n").unwrap();
            std::fs::write(dir.join("chassis.log"), "").unwrap();
            let conf = Command::new("sh")
                .arg(peers().join("lan-conf.sh"))
                .arg(&dir)
                .arg(addr)
                .arg(port.to_string())
                .output()
                .unwrap();
            assert!(conf.status.success());
            std::fs::write(dir.join("lan.conf"), conf.stdout).unwrap();
            let emu = dir.join("bmc.emu");
            let base = std::fs::read_to_string(peers().join("bmc.emu")).unwrap();
            std::fs::write(&emu, format!("{base}\n{extra}")).unwrap();
            let out = std::fs::File::create(dir.join("ipmi_sim.out")).unwrap();
            let child = Command::new("ipmi_sim")
                .arg("-n")
                .arg("-c")
                .arg(dir.join("lan.conf"))
                .arg("-f")
                .arg(&emu)
                .arg("-s")
                .arg(dir.join("state"))
                .current_dir(&dir)
                .stdin(Stdio::null())
                .stdout(out.try_clone().unwrap())
                .stderr(out)
                .spawn()
                .expect("start ipmi_sim");
            let log = dir.join("chassis.log");
            let mut bmc = Bmc {
                child,
                port,
                addr: addr.to_string(),
                dir,
                log,
            };
            if bmc.wait_ready() {
                return bmc;
            }
        }
        panic!("ipmi_sim did not start on {addr} (see bmc-*/ipmi_sim.out in the sandbox)");
    }

    /// The pyghmi BMC on 127.0.0.1, powered on; user admin/password, suite 3.
    pub fn pyghmi(sb: &Sandbox) -> Bmc {
        let state =
            std::env::var("PEERS_STATE").unwrap_or_else(|_| "/tmp/fencebox-test-peers".into());
        let python = std::env::var("FENCEBOX_PYGHMI_PYTHON")
            .unwrap_or_else(|_| format!("{state}/pyghmi-venv/venv/bin/python"));
        assert!(
            Path::new(&python).exists(),
            "pyghmi's venv is missing ({python}); tests/run-all.sh creates it"
        );
        for _ in 0..5 {
            let port = free_port("127.0.0.1");
            let dir = sb.path(&format!("pyghmi-{port}"));
            std::fs::create_dir_all(&dir).unwrap();
            let log = dir.join("power.log");
            let out = std::fs::File::create(dir.join("bmc.out")).unwrap();
            let child = Command::new(&python)
                .arg(peers().join("pyghmi-bmc.py"))
                .arg(port.to_string())
                .arg(&log)
                .stdin(Stdio::null())
                .stdout(out.try_clone().unwrap())
                .stderr(out)
                .spawn()
                .expect("start the pyghmi BMC");
            let mut bmc = Bmc {
                child,
                port,
                addr: "127.0.0.1".into(),
                dir,
                log,
            };
            if bmc.wait_ready() {
                return bmc;
            }
        }
        panic!("the pyghmi BMC did not start (see pyghmi-*/bmc.out in the sandbox)");
    }

    fn wait_ready(&mut self) -> bool {
        let until = Instant::now() + Duration::from_secs(15);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if answers(&self.addr, self.port) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    pub fn port_arg(&self) -> String {
        self.port.to_string()
    }

    /// ipmi_sim only: whether the simulated chassis is powered on.
    pub fn power_on(&self) -> bool {
        self.power_on_at("power")
    }

    /// ipmi_sim only: whether the chassis of the satellite controller at 0x82 is on.
    pub fn satellite_on(&self) -> bool {
        self.power_on_at("m82/power")
    }

    fn power_on_at(&self, file: &str) -> bool {
        std::fs::read_to_string(self.dir.join(file)).unwrap().trim() == "1"
    }

    /// ipmi_sim only: set the satellite controller's power state behind its back.
    pub fn set_satellite_power(&self, on: bool) {
        std::fs::write(self.dir.join("m82/power"), if on { "1\n" } else { "0\n" }).unwrap();
    }

    /// ipmi_sim only: set the simulated power state behind the BMC's back.
    pub fn set_power(&self, on: bool) {
        std::fs::write(self.dir.join("power"), if on { "1\n" } else { "0\n" }).unwrap();
    }

    /// Every power change the BMC made, in order ("set power 0", "power off", ...),
    /// without timestamps and without reads.
    pub fn changes(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once(' ').map(|(_, what)| what.to_string()))
            .filter(|w| !w.starts_with("get "))
            .collect()
    }

    /// Forget the changes seen so far.
    pub fn clear(&self) {
        std::fs::write(&self.log, "").unwrap();
    }
}

impl Drop for Bmc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
