//! A device's shell dialogue as data: how to log in, what its command prompt looks like,
//! what to type for each action and how to read the answers. Agent files carry it as a
//! `[shell]` table (agents/*.toml); build.rs reads every built-in one with this model and
//! checks it (a broken pattern or an unknown `{name}` stops the build).
//!
//! A dialogue is a list of *steps*. A step may send a line (a template: `{plug}` and the
//! option values the device layer hands in are filled in) and then waits for the command
//! prompt, or for one of its own `expect` branches first (a confirmation question to
//! answer, an error to fail on, a menu screen that ends the step).

use serde::Deserialize;

/// A whole device dialogue.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dialogue {
    /// The command prompt, as one or more regexes; `cmd_prompt` replaces them.
    pub prompt: Vec<String>,
    /// What a plug must look like (a regex over the whole plug); its named groups become
    /// names the templates may use (`{switch}`, `{outlet}`), an unmatched group taking
    /// the option of that name, if any. Without it, a plug is any text.
    #[serde(default)]
    pub plug: Option<String>,
    /// How a plug is written, for the message when one does not match `plug`.
    #[serde(default)]
    pub plug_form: Option<String>,
    /// What ends a line sent to the device.
    #[serde(default = "crlf")]
    pub eol: String,
    /// The device's own login (telnet, and devices that ask again inside SSH).
    #[serde(default)]
    pub login: LoginDialogue,
    /// Steps after the login, before any action (menus to enter, paging to turn off).
    #[serde(default)]
    pub after_login: Vec<Step>,
    pub status: Reading,
    pub on: Vec<Step>,
    pub off: Vec<Step>,
    /// A one-command power cycle (method=cycle), where the device has one.
    #[serde(default)]
    pub reboot: Option<Vec<Step>>,
    #[serde(default)]
    pub list: Option<Listing>,
    /// How to leave (nothing is awaited after these).
    #[serde(default)]
    pub logout: Vec<Step>,
    /// Patterns searched in what the device printed from the login to its first prompt
    /// (the prompt included): their named groups hold for the whole session, so that
    /// `when`/`unless` pick the steps of the model the banner names.
    #[serde(default)]
    pub detect: Vec<String>,
    /// Other commands for kinds of device the same agent drives, chosen by what the
    /// device printed to the last `after_login` step.
    #[serde(default)]
    pub variant: Vec<Variant>,
}

/// A kind of device with commands of its own: where `when` matches the output of the
/// last `after_login` step, its readings and steps replace the dialogue's.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    pub when: String,
    #[serde(default)]
    pub status: Option<Reading>,
    #[serde(default)]
    pub on: Option<Vec<Step>>,
    #[serde(default)]
    pub off: Option<Vec<Step>>,
    #[serde(default)]
    pub reboot: Option<Vec<Step>>,
    #[serde(default)]
    pub list: Option<Listing>,
}

impl Dialogue {
    /// The dialogue for a device whose last `after_login` step printed `output`: the
    /// first variant whose `when` matches it applied; None if none matches.
    pub fn variant_for(&self, output: &str) -> Option<Dialogue> {
        let v = self.variant.iter().find(|v| {
            regex_lite::Regex::new(&format!("(?m){}", v.when)).is_ok_and(|r| r.is_match(output))
        })?;
        Some(self.with_variant(v))
    }

    fn with_variant(&self, v: &Variant) -> Dialogue {
        let mut d = self.clone();
        d.variant.clear();
        if let Some(s) = &v.status {
            d.status = s.clone();
        }
        if let Some(s) = &v.on {
            d.on = s.clone();
        }
        if let Some(s) = &v.off {
            d.off = s.clone();
        }
        if let Some(s) = &v.reboot {
            d.reboot = Some(s.clone());
        }
        if let Some(l) = &v.list {
            d.list = Some(l.clone());
        }
        d
    }
}

/// Prompts of the device's own login.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginDialogue {
    /// The user name question.
    #[serde(default = "user_prompt")]
    pub user_prompt: String,
    /// The password question.
    #[serde(default = "password_prompt")]
    pub password_prompt: String,
    /// What the device says to a wrong user or password (besides asking again).
    #[serde(default)]
    pub refused: Option<String>,
    /// Whether the device asks for a user name and password inside an SSH session too.
    #[serde(default)]
    pub inside_ssh: bool,
}

impl Default for LoginDialogue {
    fn default() -> Self {
        LoginDialogue {
            user_prompt: user_prompt(),
            password_prompt: password_prompt(),
            refused: None,
            inside_ssh: false,
        }
    }
}

fn crlf() -> String {
    "\r\n".into()
}
fn user_prompt() -> String {
    r"(?i)(login|user ?name|username)\s*:\s*$".into()
}
fn password_prompt() -> String {
    r"(?i)password\s*:\s*$".into()
}

/// Which of the call's timeouts bounds a wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Timeout {
    Login,
    #[default]
    Shell,
    Power,
}

/// One line sent (optionally) and what is awaited after it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// A line to send (a template).
    #[serde(default)]
    pub send: Option<String>,
    /// Branches tried before the prompt, in order.
    #[serde(default)]
    pub expect: Vec<Branch>,
    /// Whether the command prompt ends the step (false for menu screens, where only a
    /// branch with `then = "done"` does).
    #[serde(default = "yes")]
    pub prompt: bool,
    /// Whether to wait at all (false for a logout line).
    #[serde(default = "yes")]
    pub wait: bool,
    /// Whether `send` ends with the line end (false for single keys: a menu digit on
    /// devices that act on a key press, ESC, Ctrl-C; write them as "\u001b", "\u0003").
    #[serde(default = "yes")]
    pub line_end: bool,
    #[serde(default)]
    pub timeout: Timeout,
    /// `true`: this step's output is the one handed on (to status rules and list rows),
    /// not the last step's; the steps after it only find the way back (leave a menu).
    #[serde(default)]
    pub read: bool,
    /// Run the step only when each of these holds: `name` has a non-empty value (an
    /// option, a capture of `detect` or of an earlier branch), `name=value` has that value
    /// (ASCII case ignored).
    #[serde(default)]
    pub when: Vec<String>,
    /// Run the step only when none of these holds (same forms as `when`).
    #[serde(default)]
    pub unless: Vec<String>,
}

fn yes() -> bool {
    true
}

/// What to do when a branch's pattern appears. Its named groups become names the
/// templates of later steps may use (a menu item's number found on the screen).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Then {
    /// Keep waiting (for the prompt or another branch), e.g. after answering a question.
    #[default]
    Wait,
    /// The step is complete.
    Done,
    /// The device refused: the step fails with `message`.
    Fail,
    /// The device does not know the plug.
    Missing,
    /// The device refused the user name or password (a login done by a command of its
    /// own, e.g. KSHELL's `login USER PASSWORD`): reported as a refused login.
    Refused,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Branch {
    /// A regex over what the device printed since the step began.
    pub pattern: String,
    /// A line to send when it appears (a template).
    #[serde(default)]
    pub reply: Option<String>,
    /// Whether `reply` ends with the line end (false for a key press: "Press any key",
    /// where a line end would be a second key the menu then acts on).
    #[serde(default = "yes")]
    pub line_end: bool,
    #[serde(default)]
    pub then: Then,
    /// For `then = "fail"`: what went wrong, in words for the user.
    #[serde(default)]
    pub message: Option<String>,
}

/// How to read a plug's state: steps, then rules over the last step's output; or, with
/// `from_list`, the plug's row of the listing.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reading {
    #[serde(default)]
    pub steps: Vec<Step>,
    /// Tried in order over the output (multi-line regexes); the first that matches decides.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// `true`: run the list's steps and read the row whose `id` is the plug: its state by
    /// the list's `on`/`off` patterns, a state matching neither an error, no such row a
    /// missing plug (devices that show one table of every plug).
    #[serde(default)]
    pub from_list: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Meaning {
    On,
    Off,
    /// The device does not know the plug.
    Missing,
    /// The device refused; `message` says why.
    Error,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub pattern: String,
    pub means: Meaning,
    #[serde(default)]
    pub message: Option<String>,
}

/// How to list plugs: steps, then one regex per line of the last step's output.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listing {
    pub steps: Vec<Step>,
    /// Rows are only read after a line matching this (a table's header).
    #[serde(default)]
    pub after: Option<String>,
    /// A row: named groups `id` (required), `alias` and `state` (optional).
    pub row: String,
    /// What a row's `state` means; a state matching neither is left unknown.
    #[serde(default)]
    pub on: Option<String>,
    #[serde(default)]
    pub off: Option<String>,
    /// Rows that take several lines: `row` is matched over the whole output after the
    /// header, each match one row, instead of line by line.
    #[serde(default)]
    pub multiline: bool,
    /// A fixed set of plugs (devices that can only be asked plug by plug): the steps run
    /// once per plug (`{plug}` is it), and a row without an `id` group takes that plug.
    #[serde(default)]
    pub plugs: Vec<String>,
}

/// Names the device layer fills in besides the agent's options: `plug`, `login`,
/// `password`, and `sudo_prefix` (sudo_path and a space with use_sudo, else nothing).
pub const COMPUTED_NAMES: &[&str] = &[
    "plug",
    "login",
    "password",
    "sudo_prefix",
    "ipaddr",
    "ipport",
];

impl Dialogue {
    /// Check a dialogue of an agent whose options are `device_opt` and `own_options`
    /// (the keys of its `[[option]]` tables): the names its templates may use.
    pub fn check_for_agent(&self, device_opt: &[&str], own_options: &[&str]) -> Result<(), String> {
        let mut known: Vec<&str> = device_opt.to_vec();
        known.extend_from_slice(own_options);
        known.extend_from_slice(COMPUTED_NAMES);
        let captures = self.capture_names();
        known.extend(captures.iter().map(String::as_str));
        self.check(&known)
    }

    /// Check every pattern and template: `known` are the `{names}` the device layer fills
    /// in.
    pub fn check(&self, known: &[&str]) -> Result<(), String> {
        let mut c = Checker {
            known,
            problems: Vec::new(),
        };
        for p in &self.prompt {
            c.pattern("prompt", p);
        }
        if self.prompt.is_empty() {
            c.problems
                .push("prompt: at least one pattern is needed".into());
        }
        c.pattern("login.user_prompt", &self.login.user_prompt);
        c.pattern("login.password_prompt", &self.login.password_prompt);
        if let Some(r) = &self.login.refused {
            c.pattern("login.refused", r);
        }
        c.steps("after_login", &self.after_login);
        c.steps("status", &self.status.steps);
        if self.status.from_list {
            let l = self.list.as_ref();
            if l.is_none_or(|l| !l.row.contains("(?P<state>") || l.on.is_none() || l.off.is_none())
            {
                c.problems.push(
                    "status: from_list needs a list whose row has (?P<state>...) and on and off patterns"
                        .into(),
                );
            }
            if !self.status.steps.is_empty() || !self.status.rules.is_empty() {
                c.problems
                    .push("status: from_list takes no steps or rules of its own".into());
            }
        } else if self.status.steps.is_empty() || self.status.rules.is_empty() {
            c.problems.push("status: steps and rules are needed".into());
        }
        for r in &self.status.rules {
            c.pattern("status rule", &rule_pattern(&r.pattern, "plug"));
        }
        c.steps("on", &self.on);
        c.steps("off", &self.off);
        if let Some(r) = &self.reboot {
            c.steps("reboot", r);
        }
        if let Some(l) = &self.list {
            c.steps("list", &l.steps);
            c.pattern("list.row", &l.row);
            if !l.row.contains("(?P<id>") && l.plugs.is_empty() {
                c.problems
                    .push("list.row: a named group (?P<id>...) is needed (or list.plugs)".into());
            }
            for p in [&l.after, &l.on, &l.off].into_iter().flatten() {
                c.pattern("list", p);
            }
        }
        c.steps("logout", &self.logout);
        for v in &self.variant {
            c.pattern("variant.when", &v.when);
        }
        for (i, v) in self.variant.iter().enumerate() {
            if let Err(e) = self.with_variant(v).check(known) {
                c.problems.push(format!("variant {}: {e}", i + 1));
            }
        }
        for p in &self.detect {
            c.pattern("detect", p);
        }
        if c.problems.is_empty() {
            Ok(())
        } else {
            Err(c.problems.join("; "))
        }
    }

    /// The named groups of the plug pattern and of every branch: names later templates
    /// may use.
    pub fn capture_names(&self) -> Vec<String> {
        let mut patterns: Vec<&str> = self.plug.iter().map(String::as_str).collect();
        patterns.extend(self.detect.iter().map(String::as_str));
        let mut steps: Vec<&Step> = Vec::new();
        steps.extend(&self.after_login);
        steps.extend(&self.status.steps);
        steps.extend(&self.on);
        steps.extend(&self.off);
        steps.extend(self.reboot.iter().flatten());
        steps.extend(self.list.iter().flat_map(|l| &l.steps));
        steps.extend(&self.logout);
        patterns.extend(
            steps
                .iter()
                .flat_map(|s| s.expect.iter().map(|b| b.pattern.as_str())),
        );
        let mut names = Vec::new();
        for p in patterns {
            if let Ok(r) = regex_lite::Regex::new(p) {
                for n in r.capture_names().flatten() {
                    if !names.iter().any(|x| x == n) {
                        names.push(n.to_string());
                    }
                }
            }
        }
        names
    }

    /// Every `{name}` the dialogue's templates use.
    pub fn names(&self) -> Vec<String> {
        let mut all = Vec::new();
        let mut add = |steps: &[Step]| {
            for s in steps {
                for t in s
                    .send
                    .iter()
                    .chain(s.expect.iter().filter_map(|b| b.reply.as_ref()))
                {
                    for n in template_names(t) {
                        if !all.contains(&n) {
                            all.push(n);
                        }
                    }
                }
            }
        };
        add(&self.after_login);
        add(&self.status.steps);
        add(&self.on);
        add(&self.off);
        if let Some(r) = &self.reboot {
            add(r);
        }
        if let Some(l) = &self.list {
            add(&l.steps);
        }
        add(&self.logout);
        all
    }
}

struct Checker<'a> {
    known: &'a [&'a str],
    problems: Vec<String>,
}

impl Checker<'_> {
    fn pattern(&mut self, what: &str, p: &str) {
        if let Err(e) = regex_lite::Regex::new(p) {
            let first = e.to_string();
            let first = first.lines().last().unwrap_or_default().to_string();
            self.problems.push(format!(
                "{what}: pattern '{p}' is not a valid regex: {first}"
            ));
        }
    }

    fn template(&mut self, what: &str, t: &str) {
        if let Err(e) = check_template(t) {
            self.problems.push(format!("{what}: {e}"));
            return;
        }
        for n in template_names(t) {
            if !self.known.contains(&n.as_str()) {
                self.problems.push(format!(
                    "{what}: '{{{n}}}' is not a name the device fills in ({})",
                    self.known.join(", ")
                ));
            }
        }
    }

    fn steps(&mut self, what: &str, steps: &[Step]) {
        for (i, s) in steps.iter().enumerate() {
            let here = format!("{what} step {}", i + 1);
            if let Some(t) = &s.send {
                self.template(&here, t);
            }
            for c in s.when.iter().chain(&s.unless) {
                let n = c.split_once('=').map_or(c.as_str(), |(n, _)| n).trim();
                if !self.known.contains(&n) {
                    self.problems.push(format!(
                        "{here}: when/unless name '{n}' is not a name the device fills in ({})",
                        self.known.join(", ")
                    ));
                }
            }
            if !s.prompt && s.wait && !s.expect.iter().any(|b| b.then != Then::Wait) {
                self.problems.push(format!(
                    "{here}: without the prompt, a branch must end the step (then = done, fail or missing)"
                ));
            }
            for b in &s.expect {
                self.pattern(&here, &b.pattern);
                if let Some(r) = &b.reply {
                    self.template(&here, r);
                }
                if b.then == Then::Fail && b.message.is_none() {
                    self.problems
                        .push(format!("{here}: a branch with then = fail needs a message"));
                }
            }
        }
    }
}

/// A status rule's pattern for `plug`: `{plug}` in it stands for the plug, as literal text
/// (devices that answer with a table of every plug: the plug's row decides).
pub fn rule_pattern(pattern: &str, plug: &str) -> String {
    pattern.replace("{plug}", &regex_lite::escape(plug))
}

/// `{name}` parts of a template; `{{` and `}}` are literal braces.
pub fn template_names(t: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = t;
    while let Some(i) = rest.find(['{', '}']) {
        let tail = rest.get(i..).unwrap_or_default();
        if tail.starts_with("{{") || tail.starts_with("}}") {
            rest = tail.get(2..).unwrap_or_default();
            continue;
        }
        if let (true, Some(end)) = (tail.starts_with('{'), tail.find('}')) {
            names.push(tail.get(1..end).unwrap_or_default().to_string());
            rest = tail.get(end + 1..).unwrap_or_default();
        } else {
            rest = tail.get(1..).unwrap_or_default();
        }
    }
    names
}

fn check_template(t: &str) -> Result<(), String> {
    let mut rest = t;
    while let Some(i) = rest.find(['{', '}']) {
        let tail = rest.get(i..).unwrap_or_default();
        if tail.starts_with("{{") || tail.starts_with("}}") {
            rest = tail.get(2..).unwrap_or_default();
        } else if tail.starts_with('}') {
            return Err(format!("template '{t}': a lone '}}' (write '}}}}')"));
        } else {
            let end = tail
                .find('}')
                .ok_or_else(|| format!("template '{t}': an unclosed '{{'"))?;
            let name = tail.get(1..end).unwrap_or_default();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("template '{t}': '{{{name}}}' is not a name"));
            }
            rest = tail.get(end + 1..).unwrap_or_default();
        }
    }
    Ok(())
}

/// Fill a template: `value` gives each name's text (None: an unknown name, an error).
pub fn fill(t: &str, value: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    check_template(t)?;
    let mut out = String::with_capacity(t.len());
    let mut rest = t;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(rest.get(..i).unwrap_or_default());
        let tail = rest.get(i..).unwrap_or_default();
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(tail.get(..1).unwrap_or_default());
            rest = tail.get(2..).unwrap_or_default();
        } else {
            let end = tail.find('}').unwrap_or(tail.len());
            let name = tail.get(1..end).unwrap_or_default();
            out.push_str(&value(name).ok_or_else(|| format!("no value for {{{name}}}"))?);
            rest = tail.get(end + 1..).unwrap_or_default();
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENCLOSURE: &str = r#"
prompt = ['oa>']
after_login = [{ send = "show enclosure info" }]
status = { steps = [{ send = "show server status {plug}" }], rules = [{ pattern = 'Power: On', means = "on" }] }
on = [{ send = "poweron server {plug}" }]
off = [{ send = "poweroff server {plug}" }]
[[variant]]
when = '^\s*Enclosure Type: Superdome'
status = { steps = [{ send = "parstatus -M -p {plug}" }], rules = [{ pattern = '/ACTIVE', means = "on" }] }
off = [{ send = "poweroff partition {plug} force" }]
"#;

    #[test]
    fn a_variant_replaces_what_it_gives_where_its_when_matches() {
        let d: Dialogue = toml::from_str(ENCLOSURE).unwrap();
        d.check(&["plug"]).unwrap();
        assert!(d.variant_for("Enclosure Type: BladeSystem c7000").is_none());
        let v = d
            .variant_for("Enclosure Information:\n\tEnclosure Type: Superdome X\n")
            .unwrap();
        assert_eq!(
            v.status.steps[0].send.as_deref(),
            Some("parstatus -M -p {plug}")
        );
        assert_eq!(
            v.off[0].send.as_deref(),
            Some("poweroff partition {plug} force")
        );
        // What the variant does not give stays.
        assert_eq!(v.on[0].send.as_deref(), Some("poweron server {plug}"));
        assert!(v.variant.is_empty());

        // A variant's patterns and templates are checked like the rest.
        let bad: Dialogue = toml::from_str(
            &ENCLOSURE
                .replace("/ACTIVE", "(")
                .replace("{plug} force", "{nope}"),
        )
        .unwrap();
        let e = bad.check(&["plug"]).unwrap_err();
        assert!(e.contains("variant 1") && e.contains("nope"), "{e}");
    }
}
