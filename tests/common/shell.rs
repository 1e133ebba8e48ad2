//! The SSH and telnet peers (tests/peers/ssh/start.sh): what peers.env says, and the
//! stdin lines that reach them.

use std::collections::HashMap;
use std::path::Path;

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
