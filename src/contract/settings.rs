//! Validation: raw input -> settings the engine and backends can trust
//! (fence-agents protocol §1.6). Each problem is one line saying what is wrong and how to
//! fix it; all of them are reported (the backend's configure step adds its own, so that
//! validate-all lists every problem at once).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::contract::action::Action;
use crate::contract::error::FenceError;
use crate::contract::input::{flag_is_on, parse_bool, RawInput};
use crate::contract::option_set::Agent;
use crate::contract::options::{OptSpec, Text, ValueType, MISSING, NEEDED_SECRETS, SECRET_SCRIPTS};
use crate::runtime::clock::{Clock, RealClock};
use crate::runtime::env::Env;
use crate::runtime::log;
use crate::runtime::script::{self, ScriptError};

/// The longest `delay` (and fence_dummy's `random_sleep_range`) in seconds. Pacemaker's
/// fencing timeout (60 s by default) has to cover the wait anyway; anything beyond an hour
/// is a typo, and was slept as given (u64::MAX: for ever).
pub const MAX_DELAY_SECS: u64 = 3600;

/// How long a `*_script` may run when the internal timeouts are off or login_timeout is 0.
const SCRIPT_WAIT_UNLIMITED: Duration = Duration::from_secs(30);
/// The most a `*_script` may print: a secret, not a file.
const SCRIPT_OUTPUT_MAX: usize = 64 * 1024;

/// The most distinct plugs one call switches: a node's power supplies, a handful of
/// outlets. Every plug is switched and polled under the device lock, so a list of
/// thousands held the device for minutes.
pub const MAX_PLUGS: usize = 64;

/// Validated options of one call.
#[derive(Debug, Clone)]
pub struct Settings {
    pub action: Action,
    /// Internal key -> value, defaults filled in, choices in their declared spelling.
    pub values: BTreeMap<Text, String>,
    /// The plug value split on plug_separator; `[""]` when no plug was given.
    pub plugs: Vec<String>,
    /// `None`: no limit (timeouts disabled, or the option is 0).
    pub power_timeout: Option<Duration>,
    pub login_timeout: Option<Duration>,
    pub shell_timeout: Option<Duration>,
    pub power_wait: Duration,
    pub status_sleep: Duration,
    pub retry_on: u32,
    pub delay: Duration,
    pub method_cycle: bool,
    pub verbose_level: u32,
    pub timeouts_disabled: bool,
    /// Options whose problem validation has reported (a value that failed its checks, a
    /// required one missing): a backend's configure step does not report them again.
    pub rejected: Vec<Text>,
}

impl Settings {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// Whether validation has already reported a problem with this option.
    pub fn rejected(&self, key: &str) -> bool {
        self.rejected.iter().any(|k| k == key)
    }

    /// How long this call may take in the worst case; a call waiting for the device lock
    /// gives up after this (None: unbounded, as when Pacemaker owns the timeouts or
    /// power_timeout=0 polls without end). Saturating: any seconds value a user can give
    /// must not overflow.
    pub fn action_budget(&self) -> Option<Duration> {
        if self.timeouts_disabled {
            return None;
        }
        // One on or off phase: power_wait after the command, then polls for at most
        // power_timeout, the last poll's sleep (at least 1 s of device time) overshooting it.
        let poll = self.status_sleep.max(Duration::from_secs(1));
        let per_phase = self
            .power_timeout?
            .saturating_add(poll)
            .saturating_add(self.power_wait);
        // A reboot is two phases.
        Some(
            self.login_timeout
                .unwrap_or_default()
                .saturating_add(self.shell_timeout.unwrap_or_default())
                .saturating_add(per_phase.saturating_mul(2)),
        )
    }
}

/// The action named by the raw input, before any other check (metadata, manpage and
/// help must work whatever else is wrong).
fn raw_action(raw: &RawInput, agent: &Agent) -> String {
    raw.get("action")
        .map(str::to_string)
        .or_else(|| {
            agent
                .option("action")
                .and_then(|o| o.default.as_deref().map(String::from))
        })
        .unwrap_or_else(|| "reboot".into())
}

/// The action of a call, read once at the entry point and handed down as a value.
pub fn action(raw: &RawInput, agent: &Agent) -> Result<Action, FenceError> {
    Action::parse(&raw_action(raw, agent), agent)
}

fn is_false(v: &str) -> bool {
    parse_bool(v) == Some(false)
}

/// The verbosity: `verbose_level` if given, else the -v count (argv) or verbose=1 (stdin).
pub fn verbose_level(raw: &RawInput) -> u32 {
    if let Some(v) = raw.get("verbose_level") {
        return v.trim().parse().unwrap_or_else(|_| {
            log_warning!("verbose_level '{v}' is not a whole number; using 0");
            0
        });
    }
    match raw.get("verbose") {
        Some(v) if raw.from_argv => raw.verbose_count.max(u32::from(v.is_empty())),
        Some(v) if is_false(v) => 0,
        Some(_) => 1,
        None => 0,
    }
}

/// Read the action and check everything; every problem found comes back. Password
/// scripts wait by a real clock (see `validate_partial` for the call's own).
pub fn validate(agent: &Agent, raw: &RawInput, env: &Env) -> Result<Settings, Vec<FenceError>> {
    let action = action(raw, agent).map_err(|e| vec![e])?;
    let clock = RealClock::started_at(std::time::Instant::now());
    let (settings, errors) = validate_partial(agent, action, raw, env, &clock);
    if errors.is_empty() {
        Ok(settings)
    } else {
        Err(errors)
    }
}

/// Check everything and build the settings all the same, without the values that failed
/// their checks (named in `rejected`), so that the backend's configure step can check
/// the rest and validate-all report every problem at once. Password scripts run here,
/// their wait going by the call's `clock`.
pub fn validate_partial(
    agent: &Agent,
    action: Action,
    raw: &RawInput,
    env: &Env,
    clock: &dyn Clock,
) -> (Settings, Vec<FenceError>) {
    let mut errors = Vec::new();
    let mut values = given_values(agent, raw);
    let mut rejected = check_values(agent, &mut values, &mut errors);
    rejected.extend(check_required(agent, action, &values, &mut errors));
    // Reported once: the backend must not see (and report again) what failed here.
    for key in &rejected {
        values.remove(key);
    }
    let disable_timeout = match values.get("disable_timeout") {
        Some(v) => parse_bool(v).unwrap_or(false),
        None => env.under_pacemaker,
    };
    register_secrets(
        agent,
        action,
        disable_timeout,
        clock,
        &mut values,
        &mut errors,
    );
    let plugs = split_plugs(&values, &mut errors);
    let t = timing(&values, disable_timeout);
    let settings = Settings {
        action,
        plugs,
        power_timeout: t.power_timeout,
        login_timeout: t.login_timeout,
        shell_timeout: t.shell_timeout,
        power_wait: t.power_wait,
        status_sleep: t.status_sleep,
        retry_on: t.retry_on,
        delay: t.delay,
        method_cycle: values
            .get("method")
            .is_some_and(|m| m.eq_ignore_ascii_case("cycle")),
        verbose_level: verbose_level(raw),
        timeouts_disabled: disable_timeout,
        rejected,
        values,
    };
    (settings, errors)
}

/// Whether the call logs in over SSH (`secure`, given or by the agent's default), decided
/// from the input alone: fencebox-agent, which has no SSH client, asks before it does
/// anything else.
pub fn speaks_ssh(agent: &Agent, raw: &RawInput) -> bool {
    agent.has("secure")
        && raw
            .get("secure")
            .or_else(|| agent.option("secure").and_then(|o| o.default.as_deref()))
            .is_some_and(flag_is_on)
}

/// The given values, and the defaults of the options not given.
fn given_values(agent: &Agent, raw: &RawInput) -> BTreeMap<Text, String> {
    let mut values: BTreeMap<Text, String> = BTreeMap::new();
    for o in &agent.options {
        match raw.values.get(&o.key) {
            Some(v) => {
                values.insert(o.key.clone(), v.clone());
            }
            None => {
                if let Some(d) = &o.default {
                    values.insert(o.key.clone(), d.to_string());
                }
            }
        }
    }
    // Shell agents: the port follows the transport when none is given (ssh=1 on an agent
    // that speaks telnet by default reaches port 22, ssh=0 on an SSH agent port 23, and an
    // agent whose metadata gives no port, as fence_cyberpower_ssh's, the transport's own).
    if agent.has("secure") && agent.has("ipport") && !raw.values.contains_key("ipport") {
        let ssh = values.get("secure").is_some_and(|v| flag_is_on(v));
        match (ssh, values.get("ipport").map(String::as_str)) {
            (true, _) => {
                values.insert("ipport".into(), "22".into());
            }
            (false, Some("22") | None) => {
                values.insert("ipport".into(), "23".into());
            }
            _ => {}
        }
    }
    // port_as_ip: the plug is the device address.
    if values.get("port_as_ip").is_some_and(|v| flag_is_on(v)) {
        if let Some(p) = values.get("port").cloned() {
            values.insert("ipaddr".into(), p);
        }
    }
    values
}

/// Type and choice checks of every value; the keys that failed come back.
fn check_values(
    agent: &Agent,
    values: &mut BTreeMap<Text, String>,
    errors: &mut Vec<FenceError>,
) -> Vec<Text> {
    let mut invalid = Vec::new();
    for o in &agent.options {
        if let Some(v) = values.get_mut(&o.key) {
            if let Err(e) = check_value(o, v) {
                errors.push(e);
                invalid.push(o.key.clone());
            }
        }
    }
    invalid
}

/// Run the `*_script` options, then register every secret before anything could log it.
fn register_secrets(
    agent: &Agent,
    action: Action,
    disable_timeout: bool,
    clock: &dyn Clock,
    values: &mut BTreeMap<Text, String>,
    errors: &mut Vec<FenceError>,
) {
    // A script gets login_timeout (it stands for logging in), or a fixed bound when the
    // internal timeouts are off: Pacemaker's kill would not reach its process group.
    let script_limit = match values.get("login_timeout").and_then(|v| v.parse().ok()) {
        Some(s) if s > 0 && !disable_timeout => Duration::from_secs(s),
        _ => SCRIPT_WAIT_UNLIMITED,
    };
    if !(action.is_read_only() && agent.has("password_only_to_switch")) {
        run_scripts(agent, action, script_limit, clock, values, errors);
    }
    for o in agent.options.iter().filter(|o| o.secret) {
        if let Some(v) = values.get(&o.key) {
            log::add_secret(v);
        }
    }
}

/// The timing fields of the settings.
struct Timing {
    power_timeout: Option<Duration>,
    login_timeout: Option<Duration>,
    shell_timeout: Option<Duration>,
    power_wait: Duration,
    status_sleep: Duration,
    retry_on: u32,
    delay: Duration,
}

fn timing(values: &BTreeMap<Text, String>, disable_timeout: bool) -> Timing {
    let secs = |k: &str| -> u64 { values.get(k).and_then(|v| v.parse().ok()).unwrap_or(0) };
    let limit = |k: &str| -> Option<Duration> {
        let s = secs(k);
        (!disable_timeout && s > 0).then(|| Duration::from_secs(s))
    };
    Timing {
        power_timeout: limit("power_timeout"),
        login_timeout: limit("login_timeout"),
        shell_timeout: limit("shell_timeout"),
        power_wait: Duration::from_secs(secs("power_wait")),
        status_sleep: Duration::from_secs(secs("stonith_status_sleep")),
        retry_on: u32::try_from(secs("retry_on")).unwrap_or(u32::MAX),
        delay: Duration::from_secs(secs("delay")),
    }
}

/// The plug value split on plug_separator, repeats merged; `[""]` when no plug was given.
fn split_plugs(values: &BTreeMap<Text, String>, errors: &mut Vec<FenceError>) -> Vec<String> {
    let separator = values.get("plug_separator").map_or(",", String::as_str);
    let plugs = match values.get("port") {
        Some(p) if !separator.is_empty() => p.split(separator).map(String::from).collect(),
        Some(p) => vec![p.clone()],
        None => vec![String::new()],
    };
    distinct_plugs(plugs, errors)
}

/// The plug list without repeats (first occurrence kept; a plug switched twice is one
/// plug), and at most MAX_PLUGS of them.
fn distinct_plugs(plugs: Vec<String>, errors: &mut Vec<FenceError>) -> Vec<String> {
    let given = plugs.len();
    let mut seen = std::collections::HashSet::new();
    let plugs: Vec<String> = plugs
        .into_iter()
        .filter(|p| seen.insert(p.clone()))
        .collect();
    if plugs.len() < given {
        log_debug!(
            1,
            "plug list: {} repeated plug(s) merged",
            given - plugs.len()
        );
    }
    if plugs.len() > MAX_PLUGS {
        errors.push(FenceError::Usage(format!(
            "Failed: plug names {} different plugs; at most {MAX_PLUGS} can be switched in one call (split them over several fencing devices)",
            plugs.len()
        )));
    }
    plugs
}

/// Type and choice checks of one given value; choices are rewritten to their declared
/// spelling (fence-agents uppercases them; see docs/compatibility.md).
fn check_value(o: &OptSpec, v: &mut String) -> Result<(), FenceError> {
    if !o.takes_value() {
        return Ok(());
    }
    let name = o.canonical_name();
    if !o.choices.is_empty() {
        return match o.accepted_choices().into_iter().find(|c| c.eq_ignore_ascii_case(v)) {
            Some(c) => {
                *v = c.to_string();
                Ok(())
            }
            None => Err(FenceError::Usage(format!(
                "Failed: You have to enter a valid choice for --{} from the valid values: {} (got '{}')",
                o.long,
                o.accepted_choices().join(", "),
                shown(o, v)
            ))),
        };
    }
    match (&*o.key, o.value_type) {
        ("verbose_level", _) => Ok(()),
        ("disable_timeout", _) if parse_bool(v).is_none() => Err(FenceError::Usage(format!(
            "Failed: {name} must be true or false (also 1/0, yes/no, on/off), not '{}'",
            shown(o, v)
        ))),
        ("plug_separator", _) if v.is_empty() => Err(FenceError::Usage(
            "Failed: plug_separator must not be empty; leave it out to use ','".into(),
        )),
        ("delay", ValueType::Second) => match whole_number(v) {
            Some(n) if n <= MAX_DELAY_SECS => Ok(()),
            Some(_) => Err(FenceError::Usage(format!(
                "Failed: {name} must be at most {MAX_DELAY_SECS} seconds, not '{v}'; the fencing timeout must cover the delay too"
            ))),
            None => Err(FenceError::Usage(format!(
                "Failed: {name} must be a whole number of seconds, 0 to {MAX_DELAY_SECS}, not '{v}'"
            ))),
        },
        (_, ValueType::Second) => whole_number(v).map(|_| ()).ok_or_else(|| {
            FenceError::Usage(format!(
                "Failed: {name} must be a whole number of seconds, 0 or more, not '{}'",
                shown(o, v)
            ))
        }),
        (_, ValueType::Integer) => whole_number(v).map(|_| ()).ok_or_else(|| {
            FenceError::Usage(format!(
                "Failed: {name} must be a whole number, 0 or more, not '{}'",
                shown(o, v)
            ))
        }),
        _ => Ok(()),
    }
}

/// A given value as an error message may quote it: never a secret option's.
fn shown<'a>(o: &OptSpec, v: &'a str) -> &'a str {
    if o.secret {
        "[secret]"
    } else {
        v
    }
}

/// A non-negative integer, surrounding blanks allowed; stored back without them.
fn whole_number(v: &mut String) -> Option<u64> {
    let n: u64 = v.trim().parse().ok()?;
    *v = n.to_string();
    Some(n)
}

/// Options that must be given and are not (`MISSING` order); the keys come back.
fn check_required(
    agent: &Agent,
    action: Action,
    values: &BTreeMap<Text, String>,
    errors: &mut Vec<FenceError>,
) -> Vec<Text> {
    if matches!(action, Action::Describe(_)) {
        return Vec::new();
    }
    let mut missing: Vec<(Text, FenceError)> = agent
        .options
        .iter()
        .filter(|o| o.required && needed_for(agent, action, o) && is_missing(o, values))
        .map(|o| (o.key.clone(), missing_error(o)))
        .collect();
    let given = |k: &str| values.contains_key(k);
    for n in NEEDED_SECRETS {
        let by_script = SECRET_SCRIPTS
            .iter()
            .any(|(script, target)| *target == n.key && given(script));
        if agent.has(n.key)
            && !agent.has(n.waived_by)
            && !given(n.key)
            && !by_script
            && !n.alternatives.iter().any(|k| given(k))
        {
            missing.push((n.key.into(), FenceError::Usage(n.missing.into())));
        }
    }
    if let Some(f) = values.get("identity_file") {
        if !std::path::Path::new(f).is_file() {
            missing.push((
                "identity_file".into(),
                FenceError::Usage(format!(
                    "Failed: identity_file '{f}' is not a readable file"
                )),
            ));
        }
    }
    let rank = |k: &str| {
        MISSING
            .iter()
            .position(|(m, _)| *m == k)
            .unwrap_or(MISSING.len())
    };
    missing.sort_by_key(|(k, _)| rank(k));
    missing
        .into_iter()
        .map(|(k, e)| {
            errors.push(e);
            k
        })
        .collect()
}

/// Whether this call needs the option: a plug is not needed to list or monitor, nor by
/// an agent without plugs.
fn needed_for(agent: &Agent, action: Action, o: &OptSpec) -> bool {
    o.key != "port"
        || !(agent.has("no_port") || matches!(action, Action::Device(a) if !a.needs_plug()))
}

/// A plug must not be empty either; other options only have to be there.
fn is_missing(o: &OptSpec, values: &BTreeMap<Text, String>) -> bool {
    match values.get(&o.key) {
        None => true,
        Some(v) => o.key == "port" && v.is_empty(),
    }
}

/// "You have to ..." with both spellings of the option.
fn missing_error(o: &OptSpec) -> FenceError {
    let name = o.canonical_name();
    let what = MISSING
        .iter()
        .find(|(k, w)| *k == o.key && !w.is_empty())
        .map_or_else(|| format!("You have to set {name}"), |(_, w)| w.to_string());
    let flag = match o.short {
        Some(c) => format!("-{c}"),
        None => format!("--{}", o.long),
    };
    FenceError::Usage(format!(
        "Failed: {what} ({name}=... on stdin, {flag} on the command line)"
    ))
}

/// Run the `*_script` options and put their output in place of the secrets they stand for.
fn run_scripts(
    agent: &Agent,
    action: Action,
    limit: Duration,
    clock: &dyn Clock,
    values: &mut BTreeMap<Text, String>,
    errors: &mut Vec<FenceError>,
) {
    for &(script_key, target) in SECRET_SCRIPTS {
        if let Some(cmd) = values.get(script_key).cloned() {
            if action == Action::ValidateAll && !errors.is_empty() {
                continue;
            }
            let shown = agent
                .option(script_key)
                .map(OptSpec::canonical_name)
                .unwrap_or_else(|| script_key.to_string());
            match run_secret_script(&shown, &cmd, limit, clock) {
                Ok(secret) => {
                    values.insert(target.into(), secret);
                }
                Err(e) => errors.push(e),
            }
        }
    }
}

/// Run a `*_script` option through /bin/sh within `limit` and take its trimmed stdout as
/// the secret.
fn run_secret_script(
    key: &str,
    cmd: &str,
    limit: Duration,
    clock: &dyn Clock,
) -> Result<String, FenceError> {
    let fail = |why: String| {
        FenceError::Usage(format!(
            "Failed: {key} {why}; check that the command prints the secret and exits 0"
        ))
    };
    let out = script::run(cmd, limit, SCRIPT_OUTPUT_MAX, clock).map_err(|e| match e {
        ScriptError::Start(e) => fail(format!("could not be started ({e})")),
        ScriptError::TimedOut => FenceError::Usage(format!(
            "Failed: {key} did not finish within {} s and was stopped; make it print the secret and exit sooner, or raise login_timeout",
            limit.as_secs()
        )),
        ScriptError::TooLong => fail(format!("printed more than {SCRIPT_OUTPUT_MAX} bytes")),
        ScriptError::Io(e) => fail(format!("could not be read ({e})")),
    })?;
    if !out.status.success() {
        let how = match out.status.code() {
            Some(c) => format!("exited with status {c}"),
            None => "was killed by a signal".to_string(),
        };
        return Err(fail(how));
    }
    let text = String::from_utf8(out.stdout)
        .map_err(|_| fail("printed something that is not UTF-8".into()))?;
    let secret = text.trim_end().to_string();
    log::add_secret(&secret);
    if secret.is_empty() {
        return Err(fail("printed nothing".into()));
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::agents;
    use crate::contract::{input, option_set};

    const AGENT: &str = r#"
name = "fence_unit"
shortdesc = "unit"
longdesc = "unit"
backend = "dummy"
device_opt = ["ipaddr", "port"]
"#;

    fn settings(stdin: &str) -> std::result::Result<Settings, Vec<FenceError>> {
        let def = agents::parse_agent("unit.toml", AGENT).unwrap();
        let agent = option_set::resolve(def, None).unwrap();
        let raw = input::parse_stdin(&format!("ip=127.0.0.1\n{stdin}"), &agent.options).unwrap();
        validate(&agent, &raw, &Env::default())
    }

    fn budget(stdin: &str) -> Option<Duration> {
        settings(stdin).unwrap().action_budget()
    }

    #[test]
    fn budget_is_login_shell_and_two_phases() {
        // Defaults: 5 + 3 + 2 × (20 + 1 + 0).
        assert_eq!(budget("plug=1"), Some(Duration::from_secs(50)));
        assert_eq!(
            budget("plug=1\npower_timeout=10\nstonith_status_sleep=4\npower_wait=2"),
            Some(Duration::from_secs(5 + 3 + 2 * (10 + 4 + 2)))
        );
        assert_eq!(budget("plug=1\npower_timeout=0"), None, "polls without end");
        assert_eq!(budget("plug=1\ndisable_timeout=1"), None);
    }

    #[test]
    fn huge_seconds_saturate_instead_of_overflowing() {
        let max = "18446744073709551615";
        for stdin in [
            format!("plug=1\nlogin_timeout={max}"),
            format!("plug=1\nshell_timeout={max}"),
            format!("plug=1\npower_wait={max}"),
            "plug=1\npower_timeout=3037000500\nstonith_status_sleep=3037000500".to_string(),
            format!("plug=1\npower_timeout={max}\nstonith_status_sleep={max}\nlogin_timeout={max}\nshell_timeout={max}\npower_wait={max}"),
        ] {
            let b = budget(&stdin).expect("bounded");
            assert!(b >= Duration::from_secs(3_037_000_500), "{stdin}: {b:?}");
        }
    }

    #[test]
    fn repeated_plugs_are_merged_and_the_list_is_bounded() {
        let s = settings("plug=1,2,1,3,2,1").unwrap();
        assert_eq!(s.plugs, ["1", "2", "3"]);
        let many: Vec<String> = (1..=MAX_PLUGS).map(|n| n.to_string()).collect();
        let s = settings(&format!("plug={},1,2", many.join(","))).unwrap();
        assert_eq!(s.plugs.len(), MAX_PLUGS);
        let too_many = format!("plug={},x", many.join(","));
        let e = settings(&too_many).unwrap_err();
        assert!(e[0].to_string().contains("at most 64"), "{e:?}");
    }

    #[test]
    fn retry_on_beyond_u32_is_clamped() {
        let s = settings("plug=1\nretry_on=18446744073709551615").unwrap();
        assert_eq!(s.retry_on, u32::MAX);
    }

    /// `required` comes from the option table and agent files: an option an agent file
    /// marks required is checked like the built-in ones, and a password script stands for
    /// the password (options::SECRET_SCRIPTS).
    #[test]
    fn required_options_and_secret_scripts_come_from_data() {
        const SITE: &str = r#"
name = "fence_site"
shortdesc = "site"
longdesc = "site"
backend = "dummy"
device_opt = ["ipaddr", "port", "passwd", "zone"]

[[option]]
key = "zone"
long = "zone"
value = "name"
required = true
help = "zone"
"#;
        let def = agents::parse_agent("site.toml", SITE).unwrap();
        let agent = option_set::resolve(def, None).unwrap();
        let check = |stdin: &str| {
            let raw = input::parse_stdin(stdin, &agent.options).unwrap();
            validate(&agent, &raw, &Env::default())
        };
        let e = check("ip=h\nplug=1\npassword=x").unwrap_err();
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].to_string()
                .contains("You have to set zone (zone=... on stdin, --zone on the command line)"),
            "{e:?}"
        );
        let e = check("plug=1\nzone=a").unwrap_err();
        let lines: Vec<String> = e.iter().map(ToString::to_string).collect();
        assert!(lines[0].contains("enter fence address"), "{lines:?}");
        assert!(
            lines[1].contains("password or password script"),
            "{lines:?}"
        );
        let s = check("ip=h\nplug=1\nzone=a\npassword_script=echo secret").unwrap();
        assert_eq!(s.get("passwd"), Some("secret"));
        // Checked, not reported again by the backend.
        let raw = input::parse_stdin("plug=1\nzone=a\npassword=x", &agent.options).unwrap();
        let action = action(&raw, &agent).unwrap();
        let clock = RealClock::started_at(std::time::Instant::now());
        let (s, e) = validate_partial(&agent, action, &raw, &Env::default(), &clock);
        assert_eq!(e.len(), 1);
        assert!(s.rejected("ipaddr"));
    }
}
