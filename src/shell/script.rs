//! Running a dialogue (dialogue.rs) over an expect session: the login, steps, reading a
//! state, listing plugs. Patterns are compiled once per session (`Compiled`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use regex::Regex;

use super::dialogue::{Dialogue, Meaning, Step, Then, Timeout};
use super::expect::{Expect, ExpectError, Found, Pattern};
use crate::runtime::clock::Clock;

/// Why a dialogue did not reach its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptError {
    /// The device refused the user name or password.
    LoginRefused(String),
    /// The device does not know the plug.
    Missing(String),
    /// The device refused a command (a `fail` branch or an `error` rule), in its words.
    Refused(String),
    /// The answer named no state the dialogue knows.
    Unreadable(String),
    Expect(ExpectError),
    /// The dialogue itself is wrong (a bad pattern or template in a site file).
    Dialogue(String),
}

impl std::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScriptError::LoginRefused(m)
            | ScriptError::Missing(m)
            | ScriptError::Refused(m)
            | ScriptError::Unreadable(m)
            | ScriptError::Dialogue(m) => f.write_str(m),
            ScriptError::Expect(e) => e.fmt(f),
        }
    }
}

impl From<ExpectError> for ScriptError {
    fn from(e: ExpectError) -> Self {
        ScriptError::Expect(e)
    }
}

/// The call's three timeouts.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub login: Duration,
    pub shell: Duration,
    pub power: Duration,
}

impl Timeouts {
    fn of(&self, t: Timeout) -> Duration {
        match t {
            Timeout::Login => self.login,
            Timeout::Shell => self.shell,
            Timeout::Power => self.power,
        }
    }
}

/// A dialogue with its patterns compiled, the prompt override applied and the values
/// its templates use.
pub struct Compiled {
    pub dialogue: Arc<Dialogue>,
    prompts: Vec<Regex>,
    regexes: HashMap<String, Regex>,
    values: HashMap<String, String>,
    /// Named groups of the plug and of branches matched so far in this action.
    captured: HashMap<String, String>,
    plug_pattern: Option<Regex>,
    pub timeouts: Timeouts,
}

fn compile(p: &str) -> Result<Regex, ScriptError> {
    // (?m): `^` and `$` are line anchors, as device output is read line by line.
    Regex::new(&format!("(?m){p}"))
        .map_err(|e| ScriptError::Dialogue(format!("pattern '{p}': {e}")))
}

impl Compiled {
    /// `prompts`: the command prompt patterns (the dialogue's unless cmd_prompt gave
    /// others); `values`: what each `{name}` of the templates stands for (login, password
    /// and the device's options; plug is added per action).
    pub fn new(
        dialogue: Arc<Dialogue>,
        prompts: &[String],
        values: HashMap<String, String>,
        timeouts: Timeouts,
    ) -> Result<Compiled, ScriptError> {
        let prompts = prompts
            .iter()
            .map(|p| compile(p))
            .collect::<Result<Vec<_>, _>>()?;
        let plug_pattern = match &dialogue.plug {
            Some(p) => Some(
                Regex::new(&format!("^(?:{p})$"))
                    .map_err(|e| ScriptError::Dialogue(format!("plug pattern '{p}': {e}")))?,
            ),
            None => None,
        };
        Ok(Compiled {
            dialogue,
            prompts,
            regexes: HashMap::new(),
            values,
            captured: HashMap::new(),
            plug_pattern,
            timeouts,
        })
    }

    /// Whether `plug` has the form the device's plugs have (always, without a pattern).
    pub fn plug_fits(&self, plug: &str) -> bool {
        self.plug_pattern.as_ref().is_none_or(|r| r.is_match(plug))
    }

    /// Take the plug's named parts for the templates of the action about to run.
    fn begin(&mut self, plug: &str) {
        self.captured.clear();
        self.captured.insert("plug".into(), plug.to_string());
        let Some(r) = &self.plug_pattern else { return };
        let Some(c) = r.captures(plug) else { return };
        for name in r.capture_names().flatten() {
            let v = match c.name(name) {
                Some(m) => m.as_str().to_string(),
                None => self.values.get(name).cloned().unwrap_or_default(),
            };
            self.captured.insert(name.to_string(), v);
        }
    }

    fn regex(&mut self, p: &str) -> Result<Regex, ScriptError> {
        if let Some(r) = self.regexes.get(p) {
            return Ok(r.clone());
        }
        let r = compile(p)?;
        self.regexes.insert(p.to_string(), r.clone());
        Ok(r)
    }

    fn fill(&self, template: &str, plug: &str) -> Result<String, ScriptError> {
        super::dialogue::fill(template, &|name| match name {
            "plug" => Some(plug.to_string()),
            other => self
                .captured
                .get(other)
                .or_else(|| self.values.get(other))
                .cloned(),
        })
        .map_err(ScriptError::Dialogue)
    }

    /// The device's own login: user name, password, then the command prompt. The login
    /// question coming back, or the device's refusal text, is a refused login (reported
    /// at once, not after a timeout).
    pub fn login(&mut self, x: &mut Expect, clock: &dyn Clock) -> Result<(), ScriptError> {
        let d = self.dialogue.clone();
        let spec = &d.login;
        let user_q = self.regex(&spec.user_prompt)?;
        let password_q = self.regex(&spec.password_prompt)?;
        let refused = spec.refused.as_deref().map(|r| self.regex(r)).transpose()?;
        let t = self.timeouts.login;
        let mut first = vec![
            Pattern {
                regex: &user_q,
                name: "the login prompt",
            },
            Pattern {
                regex: &password_q,
                name: "the password prompt",
            },
        ];
        first.extend(self.prompts.iter().map(|r| Pattern {
            regex: r,
            name: "the command prompt",
        }));
        let login = self.values.get("login").cloned().unwrap_or_default();
        let password = self.values.get("password").cloned().unwrap_or_default();
        let mut found = x.expect(&first, clock, t)?;
        if found.index >= 2 {
            drop(first);
            // no login asked (a device without passwords)
            return self.detect(&format!("{}{}", found.before, found.matched));
        }
        if found.index == 0 {
            x.send_line(&login, false, clock, t)?;
            found = x.expect(&first, clock, t)?;
            if found.index >= 2 {
                drop(first);
                return self.detect(&format!("{}{}", found.before, found.matched));
            }
            if found.index == 0 {
                return Err(ScriptError::LoginRefused(
                    "the device asked for the user name again".into(),
                ));
            }
        }
        x.send_line(&password, true, clock, t)?;
        let mut after = vec![
            Pattern {
                regex: &user_q,
                name: "the login prompt",
            },
            Pattern {
                regex: &password_q,
                name: "the password prompt",
            },
        ];
        if let Some(r) = &refused {
            after.push(Pattern {
                regex: r,
                name: "a refusal",
            });
        }
        let first_prompt = after.len();
        after.extend(self.prompts.iter().map(|r| Pattern {
            regex: r,
            name: "the command prompt",
        }));
        let found = x.expect(&after, clock, t)?;
        if found.index >= first_prompt {
            drop(after);
            self.detect(&format!("{}{}", found.before, found.matched))
        } else {
            Err(ScriptError::LoginRefused(format!(
                "the device refused the user name or password (it answered \"{}\")",
                found.matched.trim()
            )))
        }
    }

    /// Wait for the first command prompt (a session the transport logged in).
    pub fn first_prompt(&mut self, x: &mut Expect, clock: &dyn Clock) -> Result<(), ScriptError> {
        let pats: Vec<Pattern<'_>> = self
            .prompts
            .iter()
            .map(|r| Pattern {
                regex: r,
                name: "the command prompt",
            })
            .collect();
        let found = x.expect(&pats, clock, self.timeouts.login)?;
        drop(pats);
        self.detect(&format!("{}{}", found.before, found.matched))
    }

    /// Run `steps` for `plug`; the text the last step's wait ended on (without the echo of
    /// the line it sent).
    pub fn run(
        &mut self,
        x: &mut Expect,
        clock: &dyn Clock,
        steps: &[Step],
        plug: &str,
    ) -> Result<String, ScriptError> {
        self.begin(plug);
        let mut last = String::new();
        for step in steps {
            // Evaluated as the steps go: a branch of one step may decide the next.
            if !self.applies(step) {
                continue;
            }
            last = self.step(x, clock, step, plug)?;
        }
        Ok(last)
    }

    /// Whether one `when`/`unless` condition holds: `name` (non-empty) or `name=value`.
    fn holds(&self, cond: &str) -> bool {
        let (name, want) = match cond.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim())),
            None => (cond.trim(), None),
        };
        let have = self
            .captured
            .get(name)
            .or_else(|| self.values.get(name))
            .map_or("", |v| v.trim());
        match want {
            Some(v) => v.split('|').any(|v| have.eq_ignore_ascii_case(v.trim())),
            None => !have.is_empty(),
        }
    }

    /// Whether a step's `when` and `unless` let it run now.
    fn applies(&self, step: &Step) -> bool {
        step.when.iter().all(|c| self.holds(c)) && !step.unless.iter().any(|c| self.holds(c))
    }

    /// Keep the named groups of the dialogue's `detect` patterns found in `text` (what
    /// the device printed up to its first prompt) for the rest of the session; a name
    /// that already has a value (an option given, an earlier pattern) keeps it.
    fn detect(&mut self, text: &str) -> Result<(), ScriptError> {
        let d = self.dialogue.clone();
        for p in &d.detect {
            let r = self.regex(p)?;
            if let Some(c) = r.captures(text) {
                for n in r.capture_names().flatten() {
                    // An option the user gave, or an earlier pattern's find, stays.
                    let set = self.values.get(n).is_some_and(|v| !v.trim().is_empty());
                    if let (Some(m), false) = (c.name(n), set) {
                        self.values.insert(n.to_string(), m.as_str().to_string());
                    }
                }
            }
        }
        Ok(())
    }

    fn step(
        &mut self,
        x: &mut Expect,
        clock: &dyn Clock,
        step: &Step,
        plug: &str,
    ) -> Result<String, ScriptError> {
        let t = self.timeouts.of(step.timeout);
        let sent = match &step.send {
            Some(template) => {
                let line = self.fill(template, plug)?;
                if step.line_end {
                    x.send_line(&line, false, clock, t)?;
                } else {
                    x.send_keys(&line, clock, t)?;
                }
                Some(line)
            }
            None => None,
        };
        if !step.wait {
            return Ok(String::new());
        }
        let branches: Vec<Regex> = step
            .expect
            .iter()
            .map(|b| self.regex(&b.pattern))
            .collect::<Result<_, _>>()?;
        let mut pats: Vec<Pattern<'_>> = branches
            .iter()
            .map(|r| Pattern {
                regex: r,
                name: "an expected answer",
            })
            .collect();
        if step.prompt {
            pats.extend(self.prompts.iter().map(|r| Pattern {
                regex: r,
                name: "the command prompt",
            }));
        }
        let mut output = String::new();
        loop {
            let Found {
                index,
                before,
                matched,
            } = x.expect(&pats, clock, t)?;
            output.push_str(&before);
            let Some(branch) = step.expect.get(index) else {
                break; // the prompt
            };
            match branch.then {
                Then::Fail => {
                    let why = branch.message.clone().unwrap_or_default();
                    return Err(ScriptError::Refused(format!(
                        "{why} (the device said \"{}\")",
                        matched.trim()
                    )));
                }
                Then::Missing => return Err(ScriptError::Missing(matched.trim().to_string())),
                Then::Done | Then::Wait => {}
            }
            if let Some(c) = branches.get(index).and_then(|r| r.captures(&matched)) {
                for (name, m) in branches[index]
                    .capture_names()
                    .flatten()
                    .filter_map(|n| c.name(n).map(|m| (n, m)))
                {
                    self.captured
                        .insert(name.to_string(), m.as_str().to_string());
                }
            }
            output.push_str(&matched);
            if let Some(r) = &branch.reply {
                let line = self.fill(r, plug)?;
                x.send_line(&line, false, clock, t)?;
            }
            if branch.then == Then::Done {
                break;
            }
        }
        Ok(strip_echo(output, sent.as_deref()))
    }

    /// The state of `plug` by the status reading's rules.
    pub fn status(
        &mut self,
        x: &mut Expect,
        clock: &dyn Clock,
        plug: &str,
    ) -> Result<Meaning, ScriptError> {
        let d = self.dialogue.clone();
        let reading = &d.status;
        let out = self.run(x, clock, &reading.steps, plug)?;
        for rule in &reading.rules {
            let pattern = super::dialogue::rule_pattern(&rule.pattern, plug);
            if self.regex(&pattern)?.is_match(&out) {
                return match rule.means {
                    Meaning::Error => Err(ScriptError::Refused(
                        rule.message.clone().unwrap_or_else(|| first_line(&out)),
                    )),
                    m => Ok(m),
                };
            }
        }
        Err(ScriptError::Unreadable(format!(
            "the device's answer names no state fencebox knows: \"{}\"",
            first_line(&out)
        )))
    }

    /// Every plug: (id, alias, Some(on?)) per row of the listing.
    pub fn list(
        &mut self,
        x: &mut Expect,
        clock: &dyn Clock,
    ) -> Result<Vec<(String, String, Option<bool>)>, ScriptError> {
        let d = self.dialogue.clone();
        let Some(listing) = &d.list else {
            return Err(ScriptError::Dialogue("this device has no list".into()));
        };
        let out = self.run(x, clock, &listing.steps, "")?;
        let row = self.regex(&listing.row)?;
        let after = listing
            .after
            .as_deref()
            .map(|p| self.regex(p))
            .transpose()?;
        let on = listing.on.as_deref().map(|p| self.regex(p)).transpose()?;
        let off = listing.off.as_deref().map(|p| self.regex(p)).transpose()?;
        let mut reading = after.is_none();
        let mut rows = Vec::new();
        for line in out.lines() {
            if !reading {
                reading = after.as_ref().is_some_and(|a| a.is_match(line));
                continue;
            }
            let Some(c) = row.captures(line) else {
                continue;
            };
            let Some(id) = c.name("id") else { continue };
            let alias = c.name("alias").map_or("", |m| m.as_str()).trim();
            let state = c.name("state").map(|m| m.as_str().trim()).and_then(|s| {
                if on.as_ref().is_some_and(|r| r.is_match(s)) {
                    Some(true)
                } else if off.as_ref().is_some_and(|r| r.is_match(s)) {
                    Some(false)
                } else {
                    None
                }
            });
            rows.push((id.as_str().trim().to_string(), alias.to_string(), state));
        }
        Ok(rows)
    }
}

/// The output without the device's echo of the line sent (its first line, when it holds
/// that line), so that a plug named like a state cannot be read as one.
fn strip_echo(output: String, sent: Option<&str>) -> String {
    let Some(sent) = sent.map(str::trim).filter(|s| !s.is_empty()) else {
        return output;
    };
    match output.split_once('\n') {
        Some((first, rest)) if first.contains(sent) => rest.to_string(),
        None if output.contains(sent) => String::new(),
        _ => output,
    }
}

fn first_line(out: &str) -> String {
    out.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
        .chars()
        .take(200)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::clock::RealClock;
    use crate::runtime::stream::{ByteStream, StreamError};
    use std::sync::Mutex;
    use std::time::Instant;

    /// Chunks to read in turn, then a close; what was written is kept.
    struct Chunks {
        chunks: Vec<Vec<u8>>,
        written: Arc<Mutex<Vec<u8>>>,
    }

    impl ByteStream for Chunks {
        fn read_some(&mut self, buf: &mut [u8], _: Instant) -> Result<usize, StreamError> {
            if self.chunks.is_empty() {
                return Ok(0);
            }
            let next = self.chunks.remove(0);
            buf[..next.len()].copy_from_slice(&next);
            Ok(next.len())
        }
        fn write_all(&mut self, data: &[u8], _: Instant) -> Result<(), StreamError> {
            self.written.lock().unwrap().extend_from_slice(data);
            Ok(())
        }
        fn close(&mut self) {}
    }

    const DIALOGUE: &str = r#"
prompt = ['\$ ']
eol = "\n"
detect = ['(?P<cmc>CMC)', '(?P<model>DRAC 5)', '(?P<model>Chassis)']
on = [{ send = "x" }]
off = [{ send = "y" }]
[status]
steps = [
  { send = "model {plug}", when = ["model=Chassis|Modular"] },
  { send = "chassis {plug}", when = ["cmc", "plug"], unless = ["model"] },
  { send = "single", unless = ["cmc", "model=Chassis|Modular"] },
]
rules = [{ pattern = 'ON', means = "on" }, { pattern = 'OFF', means = "off" }]
"#;

    #[test]
    fn detect_keeps_what_the_banner_names_and_when_unless_pick_the_steps() {
        let d: Dialogue = toml::from_str(DIALOGUE).unwrap();
        d.check_for_agent(&["model"], &[]).unwrap();
        let d = Arc::new(d);
        let timeouts = Timeouts {
            login: Duration::from_secs(1),
            shell: Duration::from_secs(1),
            power: Duration::from_secs(1),
        };
        let clock = RealClock::started_at(Instant::now());
        for (banner, model, sent, state) in [
            ("Welcome to the CMC\n$ ", "", "chassis 3\n", Meaning::Off),
            (
                "Welcome to the CMC\n$ ",
                "modular",
                "model 3\n",
                Meaning::Off,
            ),
            // The first pattern that finds a name sets it; an option given stays.
            ("DRAC 5 Chassis\n$ ", "", "single\n", Meaning::On),
            ("Chassis DRAC 5\n$ ", "", "single\n", Meaning::On),
            ("Chassis\n$ ", "", "model 3\n", Meaning::On),
            ("Chassis\n$ ", "DRAC 5", "single\n", Meaning::Off),
        ] {
            let written = Arc::new(Mutex::new(Vec::new()));
            let answer = if state == Meaning::On {
                "ON\n$ "
            } else {
                "OFF\n$ "
            };
            let s = Chunks {
                chunks: vec![banner.as_bytes().to_vec(), answer.as_bytes().to_vec()],
                written: written.clone(),
            };
            let mut x = Expect::new(Box::new(s), "\n");
            let values = HashMap::from([("model".to_string(), model.to_string())]);
            let mut c = Compiled::new(d.clone(), &d.prompt, values, timeouts).unwrap();
            c.first_prompt(&mut x, &clock).unwrap();
            assert_eq!(c.status(&mut x, &clock, "3").unwrap(), state);
            assert_eq!(String::from_utf8_lossy(&written.lock().unwrap()), sent);
        }
    }

    #[test]
    fn a_status_rule_may_name_the_plug_as_literal_text() {
        let text = r#"
prompt = ['\$ ']
eol = "\n"
on = [{ send = "x" }]
off = [{ send = "y" }]
[status]
steps = [{ send = "table" }]
rules = [
  { pattern = '(?m)^{plug}\s+ON$', means = "on" },
  { pattern = '(?m)^{plug}\s+OFF$', means = "off" },
]
"#;
        let d: Dialogue = toml::from_str(text).unwrap();
        d.check_for_agent(&[], &[]).unwrap();
        let d = Arc::new(d);
        let timeouts = Timeouts {
            login: Duration::from_secs(1),
            shell: Duration::from_secs(1),
            power: Duration::from_secs(1),
        };
        let clock = RealClock::started_at(Instant::now());
        let table = "a.1 ON\nax1 OFF\nb OFF\n$ ";
        for (plug, state) in [
            ("a.1", Some(Meaning::On)),
            ("b", Some(Meaning::Off)),
            ("a", None),
        ] {
            let s = Chunks {
                chunks: vec![table.as_bytes().to_vec()],
                written: Arc::new(Mutex::new(Vec::new())),
            };
            let mut x = Expect::new(Box::new(s), "\n");
            let mut c = Compiled::new(d.clone(), &d.prompt, HashMap::new(), timeouts).unwrap();
            assert_eq!(c.status(&mut x, &clock, plug).ok(), state, "{plug}");
        }
    }

    #[test]
    fn a_when_name_nothing_fills_in_is_refused() {
        let text = DIALOGUE.replace(r#"when = ["cmc", "plug"]"#, r#"when = ["cnc", "plug"]"#);
        let d: Dialogue = toml::from_str(&text).unwrap();
        let e = d.check_for_agent(&["model"], &[]).unwrap_err();
        assert!(e.contains("'cnc'"), "{e}");
    }
}
