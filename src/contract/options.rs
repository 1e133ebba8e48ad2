//! The option table: every option any agent can take, described once.
//!
//! This table (plus the options an agent file adds) is the single source for argv
//! parsing, stdin key resolution, `--help`, `-o metadata` and the man pages. It mirrors
//! fence-agents' `all_opt`: the internal key (the deprecated stdin name), the long option,
//! the short letter, whether a value follows, default, required, type, choices and the
//! `order` that sorts metadata. Help texts are ours.

use std::borrow::Cow;

use serde::Deserialize;

/// A text of the option and agent definitions: borrowed from the binary for the built-in
/// ones (const data), owned for what a site file defines.
pub type Text = Cow<'static, str>;

/// A slice of built-in texts, in const context (a const item, so that it is 'static).
macro_rules! texts {
    ($($s:literal),* $(,)?) => {{
        const TEXTS: &[Text] = &[$(t($s)),*];
        TEXTS
    }};
}

/// A built-in text, in const context.
pub const fn t(s: &'static str) -> Text {
    Cow::Borrowed(s)
}

/// The metadata `content` type of a value option. Flags are always `boolean`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ValueType {
    #[default]
    String,
    Integer,
    /// A whole number of seconds (fence-agents' `second`).
    Second,
}

impl ValueType {
    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::String => "string",
            ValueType::Integer => "integer",
            ValueType::Second => "second",
        }
    }
}

/// One option. The built-in table and the built-in agents' options are const data
/// (borrowed texts); a site agent file's options own theirs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptSpec {
    /// Internal key; also accepted on stdin (the deprecated spelling when it differs from
    /// `long`, e.g. `ipaddr` for `--ip`).
    pub key: Text,
    /// Long option without the dashes (`ip`, `power-timeout`).
    pub long: Text,
    pub short: Option<char>,
    /// `None`: a flag. `Some(name)`: takes a value, shown as `=[name]` in usage and
    /// metadata (`Some("")` shows no placeholder, as for `--verbose-level`).
    pub value: Option<Text>,
    pub default: Option<Text>,
    pub required: bool,
    pub value_type: ValueType,
    /// Non-empty: the value must be one of these (compared case-insensitively).
    pub choices: Cow<'static, [Text]>,
    /// Further accepted values that metadata does not advertise, so that metadata stays
    /// identical to fence-agents' (see docs/compatibility.md).
    pub extra_choices: Cow<'static, [Text]>,
    pub order: u32,
    pub help: Text,
    /// Never logged, never shown: passwords, communities, keys.
    pub secret: bool,
}

impl OptSpec {
    pub fn takes_value(&self) -> bool {
        self.value.is_some()
    }

    /// The canonical stdin name: the long option with `_` for `-`.
    pub fn canonical_name(&self) -> String {
        self.long.replace('-', "_")
    }

    /// Whether metadata shows this option twice (deprecated key + canonical name).
    pub fn has_deprecated_alias(&self) -> bool {
        self.key != self.canonical_name()
    }

    /// The `getopt mixed` string of the metadata and the left column of `--help`.
    pub fn usage_form(&self) -> String {
        let mut s = String::new();
        if let Some(c) = self.short {
            s.push('-');
            s.push(c);
            s.push_str(", ");
        }
        s.push_str("--");
        s.push_str(&self.long);
        if let Some(name) = &self.value {
            if !name.is_empty() {
                s.push_str("=[");
                s.push_str(name);
                s.push(']');
            }
        }
        s
    }

    /// Every accepted choice: the advertised ones, then the extras.
    pub fn accepted_choices(&self) -> Vec<&str> {
        self.choices
            .iter()
            .chain(self.extra_choices.iter())
            .map(|c| &**c)
            .collect()
    }

    /// The metadata content type name.
    pub fn content_type(&self) -> &'static str {
        if !self.choices.is_empty() {
            "select"
        } else if self.takes_value() {
            self.value_type.as_str()
        } else {
            "boolean"
        }
    }
}

const fn opt(key: &'static str, long: &'static str, help: &'static str) -> OptSpec {
    OptSpec {
        key: t(key),
        long: t(long),
        short: None,
        value: None,
        default: None,
        required: false,
        value_type: ValueType::String,
        choices: Cow::Borrowed(&[]),
        extra_choices: Cow::Borrowed(&[]),
        order: 1,
        help: t(help),
        secret: false,
    }
}

// Small builder steps so that the table below reads as a table. A const fn cannot drop
// the value it replaces; in the table every replaced value is a borrowed text (nothing
// to free), so it is forgotten.
impl OptSpec {
    const fn short(mut self, c: char) -> Self {
        self.short = Some(c);
        self
    }
    const fn value(mut self, name: &'static str) -> Self {
        std::mem::forget(self.value.replace(t(name)));
        self
    }
    const fn default(mut self, d: &'static str) -> Self {
        std::mem::forget(self.default.replace(t(d)));
        self
    }
    const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    const fn integer(mut self) -> Self {
        self.value_type = ValueType::Integer;
        self
    }
    const fn seconds(mut self) -> Self {
        self.value_type = ValueType::Second;
        self
    }
    const fn choices(mut self, c: &'static [Text]) -> Self {
        std::mem::forget(std::mem::replace(&mut self.choices, Cow::Borrowed(c)));
        self
    }
    const fn extra_choices(mut self, c: &'static [Text]) -> Self {
        std::mem::forget(std::mem::replace(&mut self.extra_choices, Cow::Borrowed(c)));
        self
    }
    const fn order(mut self, o: u32) -> Self {
        self.order = o;
        self
    }
    const fn secret(mut self) -> Self {
        self.secret = true;
        self
    }
}

/// Every common option (fence-agents protocol §1.2), in our words.
pub static COMMON: &[OptSpec] = &[
    opt("action", "action", "Action to perform: on, off, reboot, status, list, list-status, monitor, metadata, manpage or validate-all")
        .short('o').value("action").default("reboot").required(),
    opt("ipaddr", "ip", "Address (IP or host name) of the fence device")
        .short('a').value("ip").required(),
    opt("ipport", "ipport", "Network port of the fence device (the default depends on the protocol)")
        .short('u').value("port").integer(),
    opt("login", "username", "User name to log in to the fence device with")
        .short('l').value("name").required(),
    opt("passwd", "password", "Password of that user")
        .short('p').value("password").secret(),
    opt("passwd_script", "password-script", "Command whose standard output is the password (keeps it out of the configuration)")
        .short('S').value("script"),
    opt("identity_file", "identity-file", "SSH private key file to log in with")
        .short('k').value("filename"),
    opt("cmd_prompt", "command-prompt", "Regular expression matching the device's command prompt")
        .short('c').value("prompt"),
    opt("secure", "ssh", "Connect over SSH instead of telnet").short('x'),
    opt("ssh_options", "ssh-options", "Extra options for the ssh client").value("options"),
    opt("ssl", "ssl", "Connect over TLS").short('z'),
    opt("ssl_insecure", "ssl-insecure", "Connect over TLS without verifying the certificate"),
    opt("ssl_secure", "ssl-secure", "Connect over TLS and verify the certificate"),
    opt("notls", "notls", "Do not use TLS even if the device offers it").short('t'),
    opt("tls1.0", "tls1.0", "Allow the obsolete TLS 1.0 protocol"),
    opt("port", "plug", "Outlet, port or machine to act on; several can be given, split by plug_separator")
        .short('n').value("id").required(),
    opt("switch", "switch", "Switch (daisy-chained unit) that holds the plug").short('s').value("id"),
    opt("exec", "exec", "Command to run").short('e').value("command"),
    opt("vmware_type", "vmware_type", "Type of the VMware host").short('d').value("type"),
    opt("vmware_datacenter", "vmware-datacenter", "VMware datacenter to search for machines")
        .short('s').value("dc").order(2),
    opt("session_url", "session-url", "URL of the management session").short('s').value("url").required(),
    opt("method", "method", "How to reboot: onoff switches off, confirms, then switches on; cycle asks the device to power-cycle in one command (the device may report success before power was really removed)")
        .short('m').value("method").default("onoff").choices(texts!["onoff", "cycle"]),
    opt("snmp_version", "snmp-version", "SNMP protocol version: 1, 2c or 3")
        .short('d').value("version").choices(texts!["1", "2c", "3"]),
    opt("community", "community", "SNMP community (v1 and v2c)").short('c').value("community").secret(),
    opt("snmp_auth_prot", "snmp-auth-prot", "SNMPv3 authentication protocol")
        .short('b').value("prot").choices(texts!["MD5", "SHA"])
        .extra_choices(texts!["SHA224", "SHA256", "SHA384", "SHA512"]),
    opt("snmp_sec_level", "snmp-sec-level", "SNMPv3 security level")
        .short('E').value("level").choices(texts!["noAuthNoPriv", "authNoPriv", "authPriv"]),
    opt("snmp_priv_prot", "snmp-priv-prot", "SNMPv3 privacy (encryption) protocol; AES is AES-128")
        .short('B').value("prot").choices(texts!["DES", "AES"])
        .extra_choices(texts!["AES128", "AES192", "AES256", "AES192C", "AES256C"]),
    opt("snmp_priv_passwd", "snmp-priv-passwd", "SNMPv3 privacy (encryption) password")
        .short('P').value("pass").secret(),
    opt("snmp_priv_passwd_script", "snmp-priv-passwd-script", "Command whose standard output is the SNMPv3 privacy password")
        .short('R').value(""),
    opt("inet4_only", "inet4-only", "Connect over IPv4 only").short('4'),
    opt("inet6_only", "inet6-only", "Connect over IPv6 only").short('6'),
    opt("quiet", "quiet", "Write nothing to standard error; syslog and the debug file still get messages")
        .short('q').order(50),
    opt("verbose", "verbose", "Log what is done; repeat (-vv, -vvv) for more detail")
        .short('v').order(51),
    opt("verbose_level", "verbose-level", "Verbosity level; on the command line it counts the -v flags, on standard input verbose=1 means 1")
        .value("").integer().order(52),
    opt("debug", "debug-file", "Append debug messages to this file")
        .short('D').value("debugfile").order(53),
    opt("version", "version", "Print the version and exit").short('V').order(54),
    opt("help", "help", "Print this help and exit").short('h').order(55),
    opt("plug_separator", "plug-separator", "Character that separates several plugs in one plug value")
        .value("char").default(",").order(100),
    opt("separator", "separator", "Character that separates the columns of list output")
        .short('C').value("char").default(",").order(100),
    opt("delay", "delay", "Seconds to wait before contacting the device for off and reboot (at most 3600)")
        .value("seconds").default("0").seconds().order(200),
    opt("disable_timeout", "disable-timeout", "Disable the internal time limits (true/false); true by default when run by pacemaker-fenced")
        .value("true/false").order(200),
    opt("login_timeout", "login-timeout", "Seconds allowed for logging in to the device")
        .value("seconds").default("5").seconds().order(200),
    opt("missing_as_off", "missing-as-off", "Treat a plug the device does not know as off").order(200),
    opt("port_as_ip", "port-as-ip", "Take the device address from the plug value").order(200),
    opt("power_timeout", "power-timeout", "Seconds to keep checking for the new power state after on or off")
        .value("seconds").default("20").seconds().order(200),
    opt("power_wait", "power-wait", "Seconds to wait after each on or off command before checking the state")
        .value("seconds").default("0").seconds().order(200),
    opt("shell_timeout", "shell-timeout", "Seconds allowed for the device to answer one command")
        .value("seconds").default("3").seconds().order(200),
    opt("stonith_status_sleep", "stonith-status-sleep", "Seconds between two state checks while waiting for a power change")
        .value("seconds").default("1").seconds().order(200),
    opt("retry_on", "retry-on", "How many times to try powering on again (extra attempts for on; attempts in the on phase of reboot)")
        .value("attempts").default("1").integer().order(201),
    opt("sudo", "use-sudo", "Run the device command through sudo").order(205),
    opt("gnutlscli_path", "gnutlscli-path", "Path of gnutls-cli (accepted for compatibility)")
        .value("path").default("/usr/bin/gnutls-cli").order(300),
    opt("snmpget_path", "snmpget-path", "Path of snmpget (accepted for compatibility; fencebox speaks SNMP itself)")
        .value("path").default("/usr/bin/snmpget").order(300),
    opt("snmpset_path", "snmpset-path", "Path of snmpset (accepted for compatibility; fencebox speaks SNMP itself)")
        .value("path").default("/usr/bin/snmpset").order(300),
    opt("snmpwalk_path", "snmpwalk-path", "Path of snmpwalk (accepted for compatibility; fencebox speaks SNMP itself)")
        .value("path").default("/usr/bin/snmpwalk").order(300),
    opt("ssh_path", "ssh-path", "Path of the ssh client").value("path").default("/usr/bin/ssh").order(300),
    opt("sudo_path", "sudo-path", "Path of sudo").value("path").default("/usr/bin/sudo").order(300),
    opt("telnet_path", "telnet-path", "Path of the telnet client").value("path").default("/usr/bin/telnet").order(300),
];

/// Options every agent has (fence-agents' default group).
pub const DEFAULT_GROUP: &[&str] = &[
    "help",
    "debug",
    "verbose",
    "verbose_level",
    "version",
    "action",
    "power_timeout",
    "shell_timeout",
    "login_timeout",
    "disable_timeout",
    "power_wait",
    "stonith_status_sleep",
    "retry_on",
    "delay",
    "plug_separator",
    "quiet",
];

/// Options that come along with another one (fence-agents' dependency expansion).
pub const DEPENDENCIES: &[(&str, &[&str])] = &[
    ("passwd", &["passwd_script"]),
    ("sudo", &["sudo_path"]),
    (
        "secure",
        &[
            "identity_file",
            "ssh_options",
            "ssh_path",
            "inet4_only",
            "inet6_only",
        ],
    ),
    ("telnet", &["telnet_path"]),
    ("ipaddr", &["ipport"]),
    ("port", &["separator"]),
    ("ssl", &["ssl_secure", "ssl_insecure", "gnutlscli_path"]),
    (
        "snmp",
        &[
            "snmp_auth_prot",
            "snmp_sec_level",
            "snmp_priv_prot",
            "snmp_priv_passwd",
            "snmp_priv_passwd_script",
            "community",
            "snmpset_path",
            "snmpget_path",
            "snmpwalk_path",
        ],
    ),
];

/// Capability markers an agent may list in `device_opt`: they change behaviour but are
/// not options.
pub const MARKERS: &[&str] = &[
    "no_login",
    "no_password",
    "no_port",
    "no_status",
    "no_on",
    "no_off",
    "fabric_fencing",
    "force_on",
    "snmp",
    "telnet",
    "web",
    "diag",
    "on_target",
    // The password is used only by actions that switch power (fence_nut: upsd checks it
    // for instant commands only), so status, list and monitor do not run password_script.
    "password_only_to_switch",
];

/// Options whose value a command prints, and the secret option it stands for.
pub const SECRET_SCRIPTS: &[(&str, &str)] = &[
    ("passwd_script", "passwd"),
    ("snmp_priv_passwd_script", "snmp_priv_passwd"),
];

/// A secret that is needed although metadata does not mark it required (fence-agents
/// asks for it in its input check): given as itself, by its script, or by one of
/// `alternatives`; an agent with the `waived_by` marker does without it.
pub struct NeededSecret {
    pub key: &'static str,
    pub alternatives: &'static [&'static str],
    pub waived_by: &'static str,
    pub missing: &'static str,
}

pub const NEEDED_SECRETS: &[NeededSecret] = &[NeededSecret {
    key: "passwd",
    alternatives: &["identity_file"],
    waived_by: "no_password",
    missing: "Failed: You have to enter password or password script (password=... or password_script=...)",
}];

/// How a missing required option is reported, in the order the checks report them
/// (fence-agents' wording); a required option not named here is reported by name.
pub const MISSING: &[(&str, &str)] = &[
    ("login", "You have to set login name"),
    ("ipaddr", "You have to enter fence address"),
    ("passwd", ""),
    ("identity_file", ""),
    (
        "port",
        "You have to enter plug number or machine identification",
    ),
];

pub fn common(key: &str) -> Option<&'static OptSpec> {
    COMMON.iter().find(|o| o.key == key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn keys_and_long_names_are_unique() {
        let mut keys = HashSet::new();
        let mut longs = HashSet::new();
        for o in COMMON {
            assert!(keys.insert(&o.key), "duplicate key {}", o.key);
            assert!(longs.insert(&o.long), "duplicate long option {}", o.long);
            assert!(!o.help.is_empty(), "{} has no help", o.key);
        }
    }

    #[test]
    fn groups_name_known_options() {
        for k in DEFAULT_GROUP {
            assert!(common(k).is_some(), "{k}");
        }
        for (k, deps) in DEPENDENCIES {
            assert!(common(k).is_some() || MARKERS.contains(k), "{k}");
            for d in *deps {
                assert!(common(d).is_some(), "{d}");
            }
        }
    }

    #[test]
    fn usage_forms_match_fence_agents() {
        assert_eq!(common("ipaddr").unwrap().usage_form(), "-a, --ip=[ip]");
        assert_eq!(common("secure").unwrap().usage_form(), "-x, --ssh");
        assert_eq!(common("delay").unwrap().usage_form(), "--delay=[seconds]");
        assert_eq!(
            common("verbose_level").unwrap().usage_form(),
            "--verbose-level"
        );
        assert_eq!(
            common("snmp_priv_passwd_script").unwrap().usage_form(),
            "-R, --snmp-priv-passwd-script"
        );
    }
}
