//! Devices reached by logging in to their shell over SSH or telnet (fence-agents' pexpect
//! agents): the agent file's `[shell]` dialogue says what to type and how to read the
//! answers; this module opens the transport, runs the dialogue and maps its errors once.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::contract::error::{FenceError, Result};
use crate::contract::input::flag_is_on;
use crate::contract::option_set::Agent;
use crate::contract::settings::Settings;
use crate::device::{self, Capabilities, CycleKind, Device, Outlet, PowerState, Problems};
use crate::runtime::clock::SharedClock;
use crate::runtime::env::Env;
use crate::runtime::lock::DeviceIdentity;
use crate::runtime::net;
use crate::shell::dialogue::{Dialogue, Meaning};
use crate::shell::expect::{Expect, ExpectError};
use crate::shell::script::{Compiled, ScriptError, Timeouts};
use crate::ssh::options::{self as ssh_options, AddressFamily, HostKeyPolicy, SshOptions};
use crate::ssh::session::{Algorithms, Login, Target};
use crate::ssh::SshError;
use crate::telnet;

/// A wait with the internal timeouts off (Pacemaker bounds the whole call instead).
const UNLIMITED_WAIT: Duration = Duration::from_secs(3600);

/// Options whose values never reach a template (they are secrets or say how to connect).
const NOT_FOR_TEMPLATES: &[&str] = &["passwd", "passwd_script", "identity_file", "ssh_options"];

enum Transport {
    Ssh(Box<SshTransport>),
    Telnet,
}

struct SshTransport {
    known_hosts: PathBuf,
    policy: HostKeyPolicy,
    algorithms: Algorithms,
    identity_file: Option<PathBuf>,
    remote_command: Option<String>,
}

/// A shell agent's options, read and checked (no Debug: it holds the password).
pub struct ShellConfig {
    host: String,
    port: u16,
    family: Option<AddressFamily>,
    transport: Transport,
    login: String,
    password: Zeroizing<String>,
    dialogue: Arc<Dialogue>,
    prompts: Vec<String>,
    values: HashMap<String, String>,
    timeouts: Timeouts,
    missing_as_off: bool,
}

pub struct ShellDevice {
    cfg: ShellConfig,
    addrs: Option<Vec<SocketAddr>>,
}

pub struct ShellSession {
    expect: Expect,
    /// The dialogue with its patterns compiled once for the session.
    script: Compiled,
    missing_as_off: bool,
    clock: SharedClock,
}

fn usage(msg: String) -> FenceError {
    FenceError::Usage(format!("Failed: {msg}"))
}

/// The one place shell failures become fence-agents' messages.
fn fence_error(e: ScriptError, plug: &str) -> FenceError {
    match e {
        ScriptError::LoginRefused(m) => FenceError::LoginDenied(m),
        ScriptError::Missing(_) => FenceError::PlugNotFound(plug.to_string()),
        ScriptError::Refused(m) | ScriptError::Unreadable(m) => FenceError::Device(m),
        ScriptError::Dialogue(m) => FenceError::Local(format!("Failed: the agent's dialogue: {m}")),
        ScriptError::Expect(e) => expect_error(e),
    }
}

fn expect_error(e: ExpectError) -> FenceError {
    match e {
        ExpectError::TimedOut { .. } => FenceError::TimedOut(e.to_string()),
        ExpectError::Closed { .. } | ExpectError::Io(_) => {
            FenceError::ConnectionLost(e.to_string())
        }
        ExpectError::Flooded { .. } => FenceError::Device(e.to_string()),
    }
}

fn ssh_error(e: SshError) -> FenceError {
    match e {
        SshError::AuthFailed(_) => FenceError::LoginDenied(e.to_string()),
        SshError::TimedOut(_) => FenceError::TimedOut(e.to_string()),
        SshError::HostKey(_) | SshError::Negotiation(_) => FenceError::LoginDenied(e.to_string()),
        SshError::Connect(_) | SshError::Channel(_) => FenceError::ConnectionLost(e.to_string()),
    }
}

fn limit(d: Option<Duration>) -> Duration {
    d.unwrap_or(UNLIMITED_WAIT).max(Duration::from_secs(1))
}

/// `cmd_prompt` as fence-agents writes it: one pattern, or a Python list of them as its
/// metadata shows the default (`['\\[EXPECT\\]#']`: quoted, backslashes doubled).
fn prompt_override(text: &str) -> Vec<String> {
    let t = text.trim();
    match t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        Some(inner) => inner
            .split(',')
            .map(|p| {
                p.trim()
                    .trim_matches(|c| c == '\'' || c == '"')
                    .replace("\\\\", "\\")
            })
            .filter(|p| !p.is_empty())
            .map(|p| from_python_re(&p))
            .collect(),
        None => vec![from_python_re(t)],
    }
}

/// A Python `re` pattern as a Rust one where the two differ in a prompt: `\<` and `\>` are
/// the characters `<` and `>` in Python (fence_alom's `sc\>\ `), word boundaries in Rust.
fn from_python_re(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    let mut chars = p.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(n @ ('<' | '>')) => out.push(n),
            Some(n) => {
                out.push(c);
                out.push(n);
            }
            None => out.push(c),
        }
    }
    out
}

/// The ssh_options text to apply: `given`, unless it is the agent's own default
/// (`own_default`, what fence-agents ships) and fencebox's SSH cannot take it. fence_apc's
/// default "-1 -c blowfish" asks for SSH protocol 1, which no current ssh speaks: fencebox
/// negotiates current algorithms itself instead of failing every call.
fn ssh_options_in_force<'a>(given: Option<&'a str>, own_default: Option<&str>) -> Option<&'a str> {
    given.filter(|g| Some(*g) != own_default || ssh_options::parse(g).is_ok())
}

/// `cmd_prompt` when it replaces the dialogue's prompt: given, and not the agent's own
/// default (upstream's spelling of the dialogue's prompt, shown in the metadata); a
/// pattern that is no regex is a problem.
fn prompt_option(
    agent: &Agent,
    settings: &Settings,
    problems: &mut Problems,
) -> Option<Vec<String>> {
    let own_default = agent
        .option("cmd_prompt")
        .and_then(|o| o.default.as_deref());
    let prompts = settings
        .get("cmd_prompt")
        .filter(|p| !p.trim().is_empty() && Some(*p) != own_default)
        .map(prompt_override)?;
    for p in &prompts {
        if let Err(e) = regex_lite::Regex::new(p) {
            problems.push(usage(format!(
                "cmd_prompt '{p}' is not a valid pattern: {}",
                e.to_string().lines().last().unwrap_or_default()
            )));
        }
    }
    Some(prompts)
}

/// What the dialogue's `{names}` stand for: the options (no secrets, nothing about the
/// connection), `login`, `password` and `sudo_prefix`.
fn template_values(settings: &Settings, login: &str, password: &str) -> HashMap<String, String> {
    let mut values: HashMap<String, String> = settings
        .values
        .iter()
        .filter(|(k, _)| !NOT_FOR_TEMPLATES.contains(&k.as_ref()))
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let sudo = match (
        settings.get("sudo").is_some_and(flag_is_on),
        settings.get("sudo_path"),
    ) {
        (true, Some(p)) => format!("{p} "),
        (true, None) => "sudo ".into(),
        _ => String::new(),
    };
    values.insert("sudo_prefix".into(), sudo);
    values.insert("login".into(), login.to_string());
    values.insert("password".into(), password.to_string());
    values
}

/// The SSH side of a connection: known hosts, algorithms and key from the options.
fn ssh_transport(settings: &Settings, env: &Env, opts: &SshOptions) -> SshTransport {
    SshTransport {
        known_hosts: opts
            .known_hosts_file
            .clone()
            .unwrap_or_else(|| env.known_hosts.clone()),
        policy: opts
            .host_key_policy
            .unwrap_or(HostKeyPolicy::TrustOnFirstUse),
        algorithms: Algorithms {
            kex: opts.kex.clone(),
            host_keys: opts.host_key_algorithms.clone(),
            ciphers: opts.ciphers.clone(),
            macs: opts.macs.clone(),
        },
        identity_file: settings
            .get("identity_file")
            .filter(|f| !f.is_empty())
            .map(PathBuf::from)
            .or(opts.identity_file.clone()),
        remote_command: opts.remote_command.clone(),
    }
}

/// Read a shell agent's options: every problem at once.
pub fn configure(
    agent: &Agent,
    settings: &Settings,
    env: &Env,
) -> std::result::Result<ShellConfig, Vec<FenceError>> {
    let mut problems = Problems::default();
    let dialogue = problems.take(agent.def.dialogue().map_err(|e| {
        FenceError::Local(format!(
            "Failed: the [shell] dialogue of {}: {e}",
            agent.name
        ))
    }));
    let on = |k: &str| settings.get(k).is_some_and(flag_is_on);
    let secure = on("secure");
    let address = device::address(settings, &mut problems);
    let own_default = agent
        .option("ssh_options")
        .and_then(|o| o.default.as_deref());
    let given = settings.get("ssh_options").filter(|_| secure);
    let parsed = match ssh_options_in_force(given, own_default) {
        Some(text) => {
            problems.take(ssh_options::parse(text).map_err(|e| usage(format!("ssh_options: {e}"))))
        }
        None => Some(SshOptions::default()),
    };
    let prompts = prompt_option(agent, settings, &mut problems);
    let family = if on("inet6_only") {
        Some(AddressFamily::V6)
    } else if on("inet4_only") {
        Some(AddressFamily::V4)
    } else {
        None
    };
    let login = settings.get("login").unwrap_or_default().to_string();
    let password = Zeroizing::new(settings.get("passwd").unwrap_or_default().to_string());
    let values = template_values(settings, &login, &password);
    problems.finish(|| {
        let (host, port) = address?;
        let opts = parsed?;
        let dialogue = dialogue?;
        let transport = if secure {
            Transport::Ssh(Box::new(ssh_transport(settings, env, &opts)))
        } else {
            Transport::Telnet
        };
        Some(ShellConfig {
            host,
            port: opts.port.unwrap_or(port),
            family: opts.family.or(family),
            transport,
            login,
            password,
            prompts: prompts.unwrap_or_else(|| dialogue.prompt.clone()),
            dialogue,
            values,
            timeouts: Timeouts {
                login: limit(settings.login_timeout),
                shell: limit(settings.shell_timeout),
                power: limit(settings.power_timeout),
            },
            missing_as_off: on("missing_as_off"),
        })
    })
}

impl ShellDevice {
    pub fn new(cfg: ShellConfig) -> Self {
        let addrs = net::resolve_all(&cfg.host, cfg.port).ok().map(|all| {
            all.into_iter()
                .filter(|a| match cfg.family {
                    Some(AddressFamily::V4) => a.is_ipv4(),
                    Some(AddressFamily::V6) => a.is_ipv6(),
                    None => true,
                })
                .collect()
        });
        ShellDevice { cfg, addrs }
    }

    fn transport_name(&self) -> &'static str {
        match self.cfg.transport {
            Transport::Ssh(_) => "ssh",
            Transport::Telnet => "telnet",
        }
    }

    fn addrs(&self) -> Result<Vec<SocketAddr>> {
        match &self.addrs {
            Some(a) if !a.is_empty() => Ok(a.clone()),
            _ => Err(FenceError::ConnectionLost(format!(
                "cannot resolve {} (of the address family asked for)",
                self.cfg.host
            ))),
        }
    }

    fn open_stream(
        &self,
        deadline: Instant,
    ) -> Result<Box<dyn crate::runtime::stream::ByteStream + Send>> {
        let addrs = self.addrs()?;
        match &self.cfg.transport {
            Transport::Telnet => {
                let s = telnet::connect(&addrs, deadline)
                    .map_err(|e| FenceError::ConnectionLost(e.to_string()))?;
                Ok(Box::new(s))
            }
            Transport::Ssh(ssh) => {
                let SshTransport {
                    known_hosts,
                    policy,
                    algorithms,
                    identity_file,
                    remote_command,
                } = &**ssh;
                let target = Target {
                    addrs,
                    host: self.cfg.host.clone(),
                    port: self.cfg.port,
                    username: self.cfg.login.clone(),
                    known_hosts: known_hosts.clone(),
                    host_key_policy: *policy,
                    algorithms: algorithms.clone(),
                };
                let login = match identity_file {
                    Some(file) => Login::Key {
                        file: file.clone(),
                        passphrase: Some(self.cfg.password.to_string()).filter(|p| !p.is_empty()),
                    },
                    None => Login::Password(self.cfg.password.to_string()),
                };
                let open = crate::ssh::client().ok_or_else(|| {
                    FenceError::Local(
                        "this binary has no SSH client (fencebox-agent); run the agent through \
                         fencebox-shell or fencebox (a fence_* link to either)"
                            .into(),
                    )
                })?;
                open(&target, &login, remote_command.as_deref(), deadline).map_err(ssh_error)
            }
        }
    }
}

impl Device for ShellDevice {
    type Session<'d> = ShellSession;

    fn identity(&self) -> DeviceIdentity {
        let t = self.transport_name();
        match &self.addrs {
            Some(a) if !a.is_empty() => DeviceIdentity::for_addrs(t, a, self.cfg.port),
            _ => DeviceIdentity::network(t, &self.cfg.host, self.cfg.port),
        }
    }

    fn connect(&mut self, clock: &SharedClock) -> Result<ShellSession> {
        // A login_timeout beyond what a clock can hold waits a year, not a panic.
        let now = Instant::now();
        let deadline = now
            .checked_add(self.cfg.timeouts.login)
            .unwrap_or_else(|| now + Duration::from_secs(365 * 86_400));
        let stream = self.open_stream(deadline)?;
        let script = Compiled::new(
            self.cfg.dialogue.clone(),
            &self.cfg.prompts,
            self.cfg.values.clone(),
            self.cfg.timeouts,
        )
        .map_err(|e| fence_error(e, ""))?;
        let mut session = ShellSession {
            expect: Expect::new(stream, &self.cfg.dialogue.eol),
            script,
            missing_as_off: self.cfg.missing_as_off,
            clock: clock.clone(),
        };
        let own_login = match self.cfg.transport {
            Transport::Telnet => true,
            Transport::Ssh(_) => self.cfg.dialogue.login.inside_ssh,
        };
        session.with_script("", |c, x, clock| {
            if own_login {
                c.login(x, clock)?;
            } else {
                c.first_prompt(x, clock)?;
            }
            let d = c.dialogue.clone();
            let shown = c.run(x, clock, &d.after_login, "")?;
            // What after_login saw (which firmware, which menu, which kind of device)
            // holds for every later action.
            c.remember_captured();
            c.use_variant(&shown);
            Ok(())
        })?;
        Ok(session)
    }
}

impl ShellSession {
    /// Run `f` with the session's compiled dialogue.
    fn with_script<T>(
        &mut self,
        plug: &str,
        f: impl FnOnce(
            &mut Compiled,
            &mut Expect,
            &dyn crate::runtime::clock::Clock,
        ) -> std::result::Result<T, ScriptError>,
    ) -> Result<T> {
        f(&mut self.script, &mut self.expect, &*self.clock).map_err(|e| fence_error(e, plug))
    }
}

impl device::Session for ShellSession {
    type Plug = String;

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            list: self.script.dialogue.list.is_some(),
            cycle: self.script.dialogue.reboot.is_some(),
            diag: false,
        }
    }

    fn plug(&mut self, given: &str) -> Result<String> {
        let plug = given.trim().to_string();
        let fits = self.with_script(&plug, |c, _, _| Ok(c.plug_fits(&plug)))?;
        if fits {
            return Ok(plug);
        }
        let form = self
            .script
            .dialogue
            .plug_form
            .as_deref()
            .unwrap_or("as the device names them");
        Err(FenceError::Usage(format!(
            "Failed: plug '{plug}' is not a plug of this device: write plugs {form}"
        )))
    }

    fn status(&mut self, plug: &String) -> Result<PowerState> {
        let missing_as_off = self.missing_as_off;
        let meaning = self.with_script(plug, |c, x, clock| c.status(x, clock, plug));
        match meaning {
            Ok(Meaning::On) => Ok(PowerState::On),
            Ok(Meaning::Off) => Ok(PowerState::Off),
            Ok(Meaning::Missing) | Err(FenceError::PlugNotFound(_)) if missing_as_off => {
                Ok(PowerState::Off)
            }
            Ok(Meaning::Missing) => Err(FenceError::PlugNotFound(plug.clone())),
            Ok(Meaning::Error) => Err(FenceError::Device(
                "the device refused the status command".into(),
            )),
            Err(e) => Err(e),
        }
    }

    fn set_power(&mut self, plug: &String, state: PowerState) -> Result<()> {
        self.with_script(plug, |c, x, clock| {
            let d = c.dialogue.clone();
            let steps = match state {
                PowerState::On => &d.on,
                PowerState::Off => &d.off,
            };
            c.run(x, clock, steps, plug).map(|_| ())
        })
    }

    fn list(&mut self, with_state: bool) -> Result<Vec<Outlet>> {
        let rows = self.with_script("", |c, x, clock| c.list(x, clock))?;
        Ok(rows
            .into_iter()
            .map(|(id, alias, on)| Outlet {
                id,
                alias,
                state: on.filter(|_| with_state).map(|on| {
                    if on {
                        PowerState::On
                    } else {
                        PowerState::Off
                    }
                }),
            })
            .collect())
    }

    fn cycle(&mut self, plug: &String, kind: CycleKind) -> Result<bool> {
        if kind == CycleKind::Diag {
            return Ok(false);
        }
        self.with_script(plug, |c, x, clock| match &c.dialogue.clone().reboot {
            Some(steps) => c.run(x, clock, steps, plug).map(|_| true),
            None => Ok(false),
        })
    }

    fn close(mut self) {
        let _ = self.with_script("", |c, x, clock| {
            let d = c.dialogue.clone();
            c.run(x, clock, &d.logout, "").map(|_| ())
        });
        self.expect.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{agents, input, option_set, settings};

    const AGENT: &str = r#"
name = "fence_unit"
shortdesc = "unit"
longdesc = "unit"
backend = "shell"
device_opt = ["ipaddr", "login", "passwd", "cmd_prompt", "telnet"]

[defaults]
ipport = "23"
cmd_prompt = "['\\[username\\]# ']"

[shell]
prompt = ['^\[[^\]]*\]# ?$']
on = [{ send = "on" }]
off = [{ send = "off" }]
[shell.status]
steps = [{ send = "s" }]
rules = [{ pattern = "ON", means = "on" }]
"#;

    fn prompts(stdin: &str) -> Vec<String> {
        let def = agents::parse_agent("unit.toml", AGENT).unwrap();
        let agent = option_set::resolve(def, None).unwrap();
        let raw = input::parse_stdin(
            &format!("ip=127.0.0.1\nusername=u\npassword=p\naction=status\n{stdin}"),
            &agent.options,
        )
        .unwrap();
        let env = Env::default();
        let s = settings::validate(&agent, &raw, &env).unwrap();
        match configure(&agent, &s, &env) {
            Ok(cfg) => cfg.prompts,
            Err(e) => panic!("{:?}", e.iter().map(|e| e.to_string()).collect::<Vec<_>>()),
        }
    }

    #[test]
    fn the_agents_own_cmd_prompt_default_keeps_the_dialogues_prompt() {
        assert_eq!(prompts(""), vec![r"^\[[^\]]*\]# ?$"]);
        assert_eq!(prompts("cmd_prompt=u>"), vec!["u>"]);
    }

    #[test]
    fn an_agent_default_fencebox_cannot_take_is_dropped_a_given_one_is_not() {
        use super::ssh_options_in_force as f;
        let apc = Some("-1 -c blowfish");
        assert_eq!(f(Some("-1 -c blowfish"), apc), None);
        assert_eq!(f(Some("-1 -c blowfish"), None), Some("-1 -c blowfish"));
        assert_eq!(f(Some("-p 2222"), apc), Some("-p 2222"));
        assert_eq!(f(Some("-t ls"), Some("-t ls")), Some("-t ls"));
        assert_eq!(f(None, apc), None);
    }

    #[test]
    fn without_a_port_default_the_transport_gives_one() {
        use crate::contract::{agents, input, option_set, settings};
        let def = agents::parse_agent(
            "unit.toml",
            r#"
name = "fence_unit"
shortdesc = "unit"
longdesc = "unit"
backend = "shell"
device_opt = ["ipaddr", "login", "passwd", "cmd_prompt", "secure", "port"]
[shell]
prompt = ['> ']
status = { steps = [{ send = "s" }], rules = [{ pattern = 'on', means = "on" }] }
on = []
off = []
"#,
        )
        .unwrap();
        let agent = option_set::resolve(def, None).unwrap();
        let env = crate::runtime::env::Env::default();
        let port = |stdin: &str| {
            let raw = input::parse_stdin(
                &format!("ip=127.0.0.1\nusername=u\npassword=p\nplug=1\n{stdin}"),
                &agent.options,
            )
            .unwrap();
            let s = settings::validate(&agent, &raw, &env).unwrap();
            super::configure(&agent, &s, &env).ok().map(|c| c.port)
        };
        assert_eq!(port(""), Some(23));
        assert_eq!(port("ssh=1\n"), Some(22));
        assert_eq!(port("ssh=1\nipport=2222\n"), Some(2222));
    }

    #[test]
    fn cmd_prompt_as_a_pattern_or_as_the_python_list_of_the_metadata() {
        assert_eq!(prompt_override(r"\[EXPECT\]#"), vec![r"\[EXPECT\]#"]);
        assert_eq!(
            prompt_override(r"['\\[EXPECT\\]#', 'apc>']"),
            vec![r"\[EXPECT\]#", "apc>"]
        );
    }

    #[test]
    fn python_escapes_of_angle_brackets_are_the_characters() {
        assert_eq!(prompt_override(r"['sc\\>\\ ']"), vec![r"sc>\ "]);
        assert_eq!(prompt_override(r"a\\>b\<"), vec![r"a\\>b<"]);
        let re = regex_lite::Regex::new(&prompt_override(r"['sc\\>\\ ']")[0]).unwrap();
        assert!(re.is_match("sc> "));
    }
}
