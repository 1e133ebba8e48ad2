//! Running a dialogue (dialogue.rs) over an expect session: the login, steps, reading a
//! state, listing plugs. Patterns are compiled once per session (`Compiled`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use regex_lite::Regex;

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

    /// The session is at its first command prompt: what the device printed up to it
    /// (banner included) is searched by the `detect` patterns.
    fn at_first_prompt(&mut self, found: &Found) -> Result<(), ScriptError> {
        self.detect(&format!("{}{}", found.before, found.matched))
    }

    /// The device's own login: user name, password, then the command prompt. The login
    /// question coming back, or the device's refusal text, is a refused login (reported
    /// at once, not after a timeout).
    pub fn login(&mut self, x: &mut Expect, clock: &dyn Clock) -> Result<(), ScriptError> {
        let d = self.dialogue.clone();
        let user_q = self.regex(&d.login.user_prompt)?;
        let password_q = self.regex(&d.login.password_prompt)?;
        let refused = d
            .login
            .refused
            .as_deref()
            .map(|r| self.regex(r))
            .transpose()?;
        let t = self.timeouts.login;
        let login = self.values.get("login").cloned().unwrap_or_default();
        let password = self.values.get("password").cloned().unwrap_or_default();
        // Index 0: the user name question, 1: the password question, then the refusal
        // (after the password only) and the prompts.
        let questions = [
            Pattern {
                regex: &user_q,
                name: "the login prompt",
            },
            Pattern {
                regex: &password_q,
                name: "the password prompt",
            },
        ];
        let before_password: Vec<Pattern<'_>> = questions
            .iter()
            .copied()
            .chain(prompt_patterns(&self.prompts))
            .collect();
        let mut found = x.expect(&before_password, clock, t)?;
        if found.index == 0 {
            x.send_line(&login, false, clock, t)?;
            found = x.expect(&before_password, clock, t)?;
            if found.index == 0 {
                return Err(ScriptError::LoginRefused(
                    "the device asked for the user name again".into(),
                ));
            }
        }
        drop(before_password);
        if found.index >= 2 {
            // No (more) question: a device without a password.
            return self.at_first_prompt(&found);
        }
        x.send_line(&password, true, clock, t)?;
        let refusal = refused.as_ref().map(|r| Pattern {
            regex: r,
            name: "a refusal",
        });
        let after_password: Vec<Pattern<'_>> = questions
            .iter()
            .copied()
            .chain(refusal)
            .chain(prompt_patterns(&self.prompts))
            .collect();
        let first_prompt = 2 + usize::from(refused.is_some());
        let found = x.expect(&after_password, clock, t)?;
        drop(after_password);
        if found.index >= first_prompt {
            self.at_first_prompt(&found)
        } else {
            Err(ScriptError::LoginRefused(format!(
                "the device refused the user name or password (it answered \"{}\")",
                found.matched.trim()
            )))
        }
    }

    /// Wait for the first command prompt (a session the transport logged in).
    pub fn first_prompt(&mut self, x: &mut Expect, clock: &dyn Clock) -> Result<(), ScriptError> {
        let pats: Vec<Pattern<'_>> = prompt_patterns(&self.prompts).collect();
        let found = x.expect(&pats, clock, self.timeouts.login)?;
        drop(pats);
        self.at_first_prompt(&found)
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
        let mut kept = None;
        for step in steps {
            // Evaluated as the steps go: a branch of one step may decide the next.
            if !self.applies(step) {
                continue;
            }
            last = self.step(x, clock, step, plug)?;
            if step.read {
                kept = Some(last.clone());
            }
        }
        Ok(kept.unwrap_or(last))
    }

    /// The value of `name` for this action: a capture, else an option ("" when neither).
    fn value(&self, name: &str) -> &str {
        self.captured
            .get(name)
            .or_else(|| self.values.get(name))
            .map_or("", String::as_str)
    }

    /// Drive another kind of device of the agent (`[[variant]]`) when what the device
    /// showed after the login (`shown`) says it is one.
    pub fn use_variant(&mut self, shown: &str) {
        if let Some(d) = self.dialogue.variant_for(shown) {
            self.dialogue = Arc::new(d);
        }
    }

    /// Keep what the steps run so far captured as values for every later action (after
    /// the login: which firmware, which menu).
    pub fn remember_captured(&mut self) {
        let captured = std::mem::take(&mut self.captured);
        self.values.extend(captured);
    }

    /// Whether one `when`/`unless` condition holds: `name` (non-empty) or `name=value`.
    fn holds(&self, cond: &str) -> bool {
        let (name, want) = match cond.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim())),
            None => (cond.trim(), None),
        };
        let have = self.value(name).trim();
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
            pats.extend(prompt_patterns(&self.prompts));
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
                    // An empty pattern fails a step that `when` chose (nothing was said).
                    return Err(ScriptError::Refused(match matched.trim() {
                        "" => why,
                        said => format!("{why} (the device said \"{said}\")"),
                    }));
                }
                Then::Missing => return Err(ScriptError::Missing(matched.trim().to_string())),
                Then::Refused => {
                    return Err(ScriptError::LoginRefused(format!(
                        "the device refused the user name or password (it answered \"{}\")",
                        matched.trim()
                    )))
                }
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
                if branch.line_end {
                    x.send_line(&line, false, clock, t)?;
                } else {
                    x.send_keys(&line, clock, t)?;
                }
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
        if reading.from_list {
            let rows = self.list(x, clock)?;
            return match rows.into_iter().find(|(id, _, _)| id == plug) {
                Some((_, _, Some(true))) => Ok(Meaning::On),
                Some((_, _, Some(false))) => Ok(Meaning::Off),
                Some((_, _, None)) => Err(ScriptError::Unreadable(format!(
                    "the device's answer names no state fencebox knows for plug {plug}"
                ))),
                None => Err(ScriptError::Missing(plug.to_string())),
            };
        }
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
        // One output, or one per plug of a fixed set (each row's id is then its plug).
        let mut outputs: Vec<(Option<&str>, String)> = Vec::new();
        if listing.plugs.is_empty() {
            outputs.push((None, self.run(x, clock, &listing.steps, "")?));
        } else {
            for p in &listing.plugs {
                outputs.push((Some(p), self.run(x, clock, &listing.steps, p)?));
            }
        }
        let row = self.regex(&listing.row)?;
        let after = listing
            .after
            .as_deref()
            .map(|p| self.regex(p))
            .transpose()?;
        let on = listing.on.as_deref().map(|p| self.regex(p)).transpose()?;
        let off = listing.off.as_deref().map(|p| self.regex(p)).transpose()?;
        let mut rows = Vec::new();
        for (plug, out) in &outputs {
            // The rows: after the first line matching `after` (everything without it).
            let mut body = if after.is_none() { out.as_str() } else { "" };
            let mut offset = 0;
            for line in out.split_inclusive('\n') {
                offset += line.len();
                if after.as_ref().is_some_and(|a| a.is_match(line.trim_end())) {
                    body = out.get(offset..).unwrap_or_default();
                    break;
                }
            }
            let found: Vec<regex_lite::Captures<'_>> = if listing.multiline {
                row.captures_iter(body).collect()
            } else {
                body.lines().filter_map(|l| row.captures(l)).collect()
            };
            for c in found {
                let Some(id) = c.name("id").map(|m| m.as_str()).or(*plug) else {
                    continue;
                };
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
                rows.push((id.trim().to_string(), alias.to_string(), state));
            }
        }
        Ok(rows)
    }
}

/// The command prompt's patterns, for a wait.
fn prompt_patterns(prompts: &[Regex]) -> impl Iterator<Item = Pattern<'_>> {
    prompts.iter().map(|r| Pattern {
        regex: r,
        name: "the command prompt",
    })
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
    use crate::shell::testing::Script;
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    /// A menu device: the table is shown by the second step, the third leaves the menu.
    const MENU: &str = r#"
[shell]
prompt = ['> $']
[shell.status]
from_list = true
[[shell.on]]
send = "on"
[[shell.off]]
send = "off"
[shell.list]
steps = [{ send = "menu" }, { send = "table", read = true }, { send = "back" }]
after = '^--'
row = '^(?P<id>\d+)\s+(?P<state>\S+)'
on = '^On$'
off = '^Off$'
"#;

    fn status(plug: &str, answers: Vec<&'static str>) -> Result<Meaning, ScriptError> {
        #[derive(serde::Deserialize)]
        struct File {
            shell: Dialogue,
        }
        let d = toml::from_str::<File>(MENU)
            .map_err(|e| e.to_string())
            .expect("the test dialogue")
            .shell;
        d.check(&["plug"]).expect("a valid dialogue");
        let t = Timeouts {
            login: Duration::from_secs(1),
            shell: Duration::from_secs(1),
            power: Duration::from_secs(1),
        };
        let prompts = d.prompt.clone();
        let mut c = Compiled::new(Arc::new(d), &prompts, HashMap::new(), t)?;
        let mut x = Expect::new(Box::new(Script::new(&answers).0), "\n");
        c.status(&mut x, &RealClock::started_at(Instant::now()), plug)
    }

    fn answers() -> Vec<&'static str> {
        vec![
            "menu\r\nA menu\r\n> ",
            "table\r\n#  Power\r\n--\r\n0  On\r\n1  Off\r\n2  Dimmed\r\n> ",
            "back\r\nMain\r\n> ",
        ]
    }

    #[test]
    fn status_from_the_plugs_row_of_the_step_marked_read() {
        assert_eq!(status("0", answers()), Ok(Meaning::On));
        assert_eq!(status("1", answers()), Ok(Meaning::Off));
        assert!(matches!(
            status("2", answers()),
            Err(ScriptError::Unreadable(_))
        ));
        assert_eq!(
            status("7", answers()),
            Err(ScriptError::Missing("7".into()))
        );
        // The rows are those of the step marked `read`, not of the last one.
        let mut later = answers();
        later[2] = "back\r\n--\r\n0  Off\r\n> ";
        assert_eq!(status("0", later), Ok(Meaning::On));
    }

    const DIALOGUE: &str = r#"
prompt = ['\n> ']
eol = "\n"
after_login = [{ send = "", expect = [{ pattern = '(?P<menu>- Logout)' }] }]
on = [{ send = "x" }]
off = [{ send = "y" }]
[status]
steps = [
  { send = "menu {plug}", when = ["menu"] },
  { send = "cli {plug}", unless = ["menu"] },
]
rules = [{ pattern = 'ON', means = "on" }, { pattern = 'OFF', means = "off" }]
"#;

    #[test]
    fn when_and_unless_choose_steps_by_what_after_login_captured() {
        let d: Dialogue = toml::from_str(DIALOGUE).unwrap();
        d.check_for_agent(&[], &[]).unwrap();
        let timeouts = Timeouts {
            login: Duration::from_secs(1),
            shell: Duration::from_secs(1),
            power: Duration::from_secs(1),
        };
        let clock = RealClock::started_at(Instant::now());
        for (first, second, sent, state) in [
            ("4- Logout\n> ", "OFF\n> ", "\nmenu 3\n", Meaning::Off),
            ("\n> ", "ON\n> ", "\ncli 3\n", Meaning::On),
        ] {
            let written = Arc::new(Mutex::new(Vec::new()));
            let s = Script {
                chunks: vec![first.as_bytes().to_vec(), second.as_bytes().to_vec()],
                written: written.clone(),
            };
            let mut x = Expect::new(Box::new(s), "\n");
            let mut c =
                Compiled::new(Arc::new(d.clone()), &d.prompt, HashMap::new(), timeouts).unwrap();
            c.run(&mut x, &clock, &d.after_login, "").unwrap();
            // What after_login captured stays a value for the session's later actions.
            c.remember_captured();
            assert_eq!(c.status(&mut x, &clock, "3").unwrap(), state);
            assert_eq!(String::from_utf8_lossy(&written.lock().unwrap()), sent);
        }
    }

    #[test]
    fn a_step_chosen_by_when_can_fail_with_its_message_alone() {
        let text = DIALOGUE.replace(
            r#"{ send = "cli {plug}", unless = ["menu"] },"#,
            r#"{ unless = ["menu"], expect = [{ pattern = '', then = "fail", message = "no menu" }] },"#,
        );
        let d: Dialogue = toml::from_str(&text).unwrap();
        let s = Script {
            chunks: vec![b"\n> ".to_vec()],
            written: Arc::new(Mutex::new(Vec::new())),
        };
        let mut x = Expect::new(Box::new(s), "\n");
        let t = Duration::from_secs(1);
        let timeouts = Timeouts {
            login: t,
            shell: t,
            power: t,
        };
        let prompts = d.prompt.clone();
        let mut c = Compiled::new(Arc::new(d), &prompts, HashMap::new(), timeouts).unwrap();
        let clock = RealClock::started_at(Instant::now());
        assert_eq!(
            c.status(&mut x, &clock, "3"),
            Err(ScriptError::Refused("no menu".into()))
        );
    }

    #[test]
    fn a_when_name_nothing_fills_in_is_refused() {
        let text = DIALOGUE.replace(r#"when = ["menu"]"#, r#"when = ["nemu"]"#);
        let d: Dialogue = toml::from_str(&text).unwrap();
        let e = d.check_for_agent(&[], &[]).unwrap_err();
        assert!(e.contains("'nemu'"), "{e}");
    }

    /// A device that answers every line with `reply`.
    struct Answer(Vec<u8>, &'static [u8]);

    impl ByteStream for Answer {
        fn read_some(&mut self, buf: &mut [u8], _: Instant) -> Result<usize, StreamError> {
            if self.0.is_empty() {
                return Err(StreamError::TimedOut { read: Vec::new() });
            }
            let n = self.0.len().min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0.drain(..n);
            Ok(n)
        }
        fn write_all(&mut self, data: &[u8], _: Instant) -> Result<(), StreamError> {
            if data.ends_with(b"\n") {
                self.0.extend_from_slice(self.1);
            }
            Ok(())
        }
        fn close(&mut self) {}
    }

    fn compiled(toml_text: &str) -> Compiled {
        let d: Dialogue = toml::from_str(toml_text).unwrap();
        d.check(&["plug", "login", "password"]).unwrap();
        let t = Duration::from_secs(1);
        let timeouts = Timeouts {
            login: t,
            shell: t,
            power: t,
        };
        let prompts = d.prompt.clone();
        let values = HashMap::from([
            ("login".to_string(), "admin".to_string()),
            ("password".to_string(), "wrong".to_string()),
        ]);
        Compiled::new(Arc::new(d), &prompts, values, timeouts).unwrap()
    }

    #[test]
    fn list_rows_over_several_lines() {
        let mut c = compiled(
            r#"
prompt = ['\[PDU\] # ']
status = { from_list = true }
on = []
off = []
[list]
steps = [{ send = "show outlets" }]
multiline = true
row = '^Outlet (?P<id>\d+)(?: - (?P<alias>[^\n]*))?:\s*\nPower state: (?P<state>\w+)'
on = '^On$'
off = '^Off$'
"#,
        );
        let mut x = Expect::new(
            Box::new(Answer(
                Vec::new(),
                b"show outlets\r\n\r\nOutlet 1 - web1:\r\nPower state: On\r\n\r\nOutlet 2:\r\nPower state: Off\r\n\r\n[PDU] # ",
            )),
            "\r\n",
        );
        let clock = RealClock::started_at(Instant::now());
        assert_eq!(
            c.list(&mut x, &clock),
            Ok(vec![
                ("1".into(), "web1".into(), Some(true)),
                ("2".into(), String::new(), Some(false)),
            ])
        );
        assert_eq!(c.status(&mut x, &clock, "2"), Ok(Meaning::Off));
    }

    #[test]
    fn a_refused_branch_is_a_refused_login() {
        let mut c = compiled(
            r#"
prompt = ['^[1-5]\d\d [^\n]*\n']
after_login = [{ send = "login {login} {password}", expect = [{ pattern = '^5\d\d [^\n]*\n', then = "refused" }] }]
status = { steps = [{ send = "port {plug}" }], rules = [{ pattern = '1', means = "on" }] }
on = []
off = []
"#,
        );
        let mut x = Expect::new(
            Box::new(Answer(Vec::new(), b"503 INVALID LOGIN\r\n")),
            "\r\n",
        );
        let clock = RealClock::started_at(Instant::now());
        let steps = c.dialogue.after_login.clone();
        assert!(matches!(
            c.run(&mut x, &clock, &steps, ""),
            Err(ScriptError::LoginRefused(m)) if m.contains("503 INVALID LOGIN")
        ));
    }

    /// A device that answers "port setup N" with N's name, one line each.
    struct Setup(Vec<u8>);

    impl ByteStream for Setup {
        fn read_some(&mut self, buf: &mut [u8], _: Instant) -> Result<usize, StreamError> {
            if self.0.is_empty() {
                return Err(StreamError::TimedOut { read: Vec::new() });
            }
            let n = self.0.len().min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0.drain(..n);
            Ok(n)
        }
        fn write_all(&mut self, data: &[u8], _: Instant) -> Result<(), StreamError> {
            let text = String::from_utf8_lossy(data);
            let n = text
                .trim()
                .rsplit(' ')
                .next()
                .unwrap_or_default()
                .to_string();
            self.0
                .extend_from_slice(format!("250 \"out{n}\" manual 2 1\r\n").as_bytes());
            Ok(())
        }
        fn close(&mut self) {}
    }

    #[test]
    fn list_plug_by_plug() {
        let mut c = compiled(
            r#"
prompt = ['^[1-5]\d\d [^\n]*\n']
status = { steps = [{ send = "port {plug}" }], rules = [{ pattern = '1', means = "on" }] }
on = []
off = []
[list]
plugs = ["1", "2", "3"]
steps = [{ send = "port setup {plug}", prompt = false, expect = [{ pattern = '^250 [^\n]*\n', then = "done" }] }]
row = '^250 "(?P<alias>[^"]*)"'
"#,
        );
        let mut x = Expect::new(Box::new(Setup(Vec::new())), "\r\n");
        let clock = RealClock::started_at(Instant::now());
        assert_eq!(
            c.list(&mut x, &clock),
            Ok(vec![
                ("1".into(), "out1".into(), None),
                ("2".into(), "out2".into(), None),
                ("3".into(), "out3".into(), None),
            ])
        );
    }

    const DETECT_DIALOGUE: &str = r#"
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
        let d: Dialogue = toml::from_str(DETECT_DIALOGUE).unwrap();
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
            let s = Script {
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
            let s = Script {
                chunks: vec![table.as_bytes().to_vec()],
                written: Arc::new(Mutex::new(Vec::new())),
            };
            let mut x = Expect::new(Box::new(s), "\n");
            let mut c = Compiled::new(d.clone(), &d.prompt, HashMap::new(), timeouts).unwrap();
            assert_eq!(c.status(&mut x, &clock, plug).ok(), state, "{plug}");
        }
    }

    #[test]
    fn a_condition_name_nothing_fills_in_is_refused() {
        let text =
            DETECT_DIALOGUE.replace(r#"when = ["cmc", "plug"]"#, r#"when = ["cnc", "plug"]"#);
        let d: Dialogue = toml::from_str(&text).unwrap();
        let e = d.check_for_agent(&["model"], &[]).unwrap_err();
        assert!(e.contains("'cnc'"), "{e}");
    }

    #[test]
    fn a_reply_without_line_end_is_one_key_press() {
        let d: Dialogue = toml::from_str(
            r#"
prompt = ['> $']
eol = "\r\n"
on = [{ send = "4", line_end = false, expect = [{ pattern = 'any key', reply = " ", line_end = false }] }]
off = []
[status]
steps = [{ send = "s" }]
rules = [{ pattern = 'x', means = "on" }]
"#,
        )
        .unwrap();
        d.check(&[]).unwrap();
        let written = Arc::new(Mutex::new(Vec::new()));
        let s = Script {
            chunks: vec![b"Press any key".to_vec(), b"\r\n> ".to_vec()],
            written: written.clone(),
        };
        let mut x = Expect::new(Box::new(s), "\r\n");
        let t = Duration::from_secs(1);
        let timeouts = Timeouts {
            login: t,
            shell: t,
            power: t,
        };
        let on = d.on.clone();
        let mut c =
            Compiled::new(Arc::new(d), &["> $".to_string()], HashMap::new(), timeouts).unwrap();
        c.run(&mut x, &RealClock::started_at(Instant::now()), &on, "1")
            .unwrap();
        assert_eq!(&*written.lock().unwrap(), b"4 ");
    }
}
