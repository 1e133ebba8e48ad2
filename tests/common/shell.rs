//! The SSH and telnet peers (tests/peers/ssh/start.sh): what peers.env says, and the
//! stdin lines that reach them.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, OnceLock};

use super::{debian_agent, Out, Sandbox};

/// What tests/peers/ssh/start.sh wrote to $PEERS_STATE/ssh/peers.env.
pub struct ShellPeers(HashMap<String, String>);

impl ShellPeers {
    pub fn load() -> ShellPeers {
        let state =
            std::env::var("PEERS_STATE").unwrap_or_else(|_| "/tmp/fencebox-test-peers".into());
        let file = Path::new(&state).join("ssh/peers.env");
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; start the peers: tests/peers/ssh/start.sh",
                file.display()
            )
        });
        ShellPeers(
            text.lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> &str {
        self.0
            .get(key)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("{key} not in peers.env; restart tests/peers/ssh/start.sh"))
    }

    pub fn password(&self) -> &str {
        self.get("FB_SSH_PASSWORD")
    }

    /// `ssh_options` that check host keys strictly against the peers' known_hosts (so no
    /// test writes a known-hosts file), followed by `extra`.
    pub fn strict_ssh_options(&self, extra: &str) -> String {
        format!(
            "-o UserKnownHostsFile={} -o StrictHostKeyChecking=yes {extra}",
            self.get("FB_SSH_KNOWN_HOSTS")
        )
    }

    /// stdin lines reaching `user` on the sshd named by `port_key` (FB_SSH_PORT_MAIN,
    /// _LEGACY, _KBDINT) with the test password, over `host`.
    pub fn ssh_stdin(&self, host: &str, port_key: &str, user: &str, ssh_extra: &str) -> String {
        format!(
            "ip={host}\nipport={}\nusername={user}\npassword={}\nssh=1\nssh_options={}\n",
            self.get(port_key),
            self.password(),
            self.strict_ssh_options(ssh_extra)
        )
    }

    /// stdin lines reaching emulated device `name` (devices.conf) over telnet, where the
    /// emulator does the device's own login.
    pub fn telnet_stdin(&self, host: &str, name: &str) -> String {
        let key = name.to_uppercase().replace('-', "_");
        format!(
            "ip={host}\nipport={}\nusername={}\npassword={}\nssh=0\n",
            self.get(&format!("FB_EMU_{key}_TELNET_PORT")),
            self.get(&format!("FB_EMU_{key}_USER")),
            self.password()
        )
    }

    /// stdin lines reaching emulated device `name` over SSH (its account's ForceCommand).
    pub fn emulator_ssh_stdin(&self, host: &str, name: &str, port_key: &str) -> String {
        let key = name.to_uppercase().replace('-', "_");
        self.ssh_stdin(host, port_key, self.get(&format!("FB_EMU_{key}_USER")), "")
    }
}

/// How a test reaches an emulated device.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Via {
    Telnet,
    Ssh,
}

impl ShellPeers {
    /// stdin lines reaching emulated device `name` over `via`, read alike by fencebox and
    /// Debian's agents: telnet by leaving `ssh` out (Debian's agents take even `ssh=0` for
    /// ssh; docs/compatibility.md), SSH as the device's account through sshd main.
    pub fn emulator_stdin(&self, host: &str, name: &str, via: Via) -> String {
        match via {
            Via::Telnet => self.telnet_stdin(host, name).replace("ssh=0\n", ""),
            Via::Ssh => self.emulator_ssh_stdin(host, name, "FB_SSH_PORT_MAIN"),
        }
    }
}

/// One test at a time per emulated device: all its sessions share its power state.
pub fn hold(device: &str) -> MutexGuard<'static, ()> {
    static LOCKS: OnceLock<Mutex<HashMap<String, &'static Mutex<()>>>> = OnceLock::new();
    let lock = {
        let mut all = LOCKS
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *all.entry(device.to_string())
            .or_insert_with(|| Box::leak(Box::new(Mutex::new(()))))
    };
    lock.lock().unwrap_or_else(|e| e.into_inner())
}

/// The exit code and stdout of a run are these.
pub fn expect(out: &Out, code: i32, stdout: &str, what: &str) {
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (code, stdout),
        "{what}: {out:?}"
    );
}

/// Put the device into `state` with fencebox (`stdin` without the action; already there
/// is fine).
pub fn set(sb: &Sandbox, agent: &str, stdin: &str, state: &str) {
    let out = sb.run(agent, &format!("{stdin}action={state}\n"));
    assert_eq!(out.code, 0, "{agent}: setting {state}: {out:?}");
}

/// Every (state before, action) pair of a differential test.
pub const EVERY_ACTION: &[(&str, &str)] = &[
    ("on", "status"),
    ("off", "status"),
    ("on", "off"),
    ("off", "off"),
    ("off", "on"),
    ("on", "on"),
    ("on", "reboot"),
    ("off", "reboot"),
    ("on", "list"),
    ("off", "list-status"),
    ("on", "monitor"),
];

/// A stdout as it is (for `differential` where upstream is right).
pub fn same(_action: &str, stdout: &str) -> String {
    stdout.to_string()
}

/// Debian's agent and fencebox on the same device with the same stdin, each after the
/// state is set with fencebox (`"-"`: not set): for each (state before, action) of `cases`,
/// the same exit code, and the same stdout once `ours` and `theirs` are applied to each
/// (where fencebox deliberately differs, docs/compatibility.md; `same` elsewhere).
pub fn differential(
    sb: &Sandbox,
    agent: &str,
    stdin: &str,
    cases: &[(&str, &str)],
    ours: &dyn Fn(&str, &str) -> String,
    theirs: &dyn Fn(&str, &str) -> String,
) {
    for (before, action) in cases {
        let full = format!("{stdin}action={action}\n");
        if *before != "-" {
            set(sb, agent, stdin, before);
        }
        let reference = debian_agent(agent, &full);
        if *before != "-" {
            set(sb, agent, stdin, before);
        }
        let mine = sb.run(agent, &full);
        assert_eq!(
            (mine.code, ours(action, &mine.stdout)),
            (reference.code, theirs(action, &reference.stdout)),
            "{agent} {action} from {before}\n--- fencebox\n{mine:?}\n--- fence-agents\n{reference:?}"
        );
    }
}
