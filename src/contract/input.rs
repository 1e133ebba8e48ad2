//! Reading options: from argv when there are arguments, otherwise from stdin, never both
//! (fence-agents protocol §2). Both paths resolve names through the agent's option set
//! and produce the same map: internal key -> raw string value.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Read;

use clap::{Arg, ArgAction, Command};

use crate::contract::error::{FenceError, Result};
use crate::contract::options::{OptSpec, Text};

/// Longest stdin line accepted; real parameters are short, and a huge line is a mistake
/// (or an attack) that must not be mistaken for a value.
pub const MAX_LINE: usize = 64 * 1024;
/// Most stdin read in total.
pub const MAX_STDIN: usize = 1024 * 1024;

/// What was given, before validation.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RawInput {
    /// Internal key -> value as given ("1"/"0" for flags given on stdin, "" on argv).
    pub values: BTreeMap<Text, String>,
    /// Count of -v on argv.
    pub verbose_count: u32,
    pub from_argv: bool,
    /// Warnings to log once logging is set up (unknown keys, leftovers).
    pub warnings: Vec<String>,
}

impl RawInput {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }
}

/// Parse `args` (without argv[0]) or, when empty, all of `stdin`.
pub fn read(args: &[OsString], stdin: &mut dyn Read, opts: &[OptSpec]) -> Result<RawInput> {
    if args.is_empty() {
        let text = read_stdin(stdin)?;
        parse_stdin(&text, opts)
    } else {
        parse_argv(args, opts)
    }
}

fn read_stdin(stdin: &mut dyn Read) -> Result<String> {
    let mut buf = Vec::new();
    stdin
        .take(MAX_STDIN as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| FenceError::Usage(format!("Failed: cannot read standard input: {e}")))?;
    if buf.len() > MAX_STDIN {
        return Err(FenceError::Usage(format!(
            "Failed: standard input is larger than {} KiB; send one key=value line per option",
            MAX_STDIN / 1024
        )));
    }
    let line_of = |buf: &[u8], pos: usize| buf[..pos].iter().filter(|&&b| b == b'\n').count() + 1;
    if let Some(pos) = buf.iter().position(|&b| b == 0) {
        return Err(FenceError::Usage(format!(
            "Failed: standard input line {} contains a NUL byte; send plain key=value text",
            line_of(&buf, pos)
        )));
    }
    String::from_utf8(buf).map_err(|e| {
        let pos = e.utf8_error().valid_up_to();
        FenceError::Usage(format!(
            "Failed: standard input line {} is not valid UTF-8; send key=value lines in UTF-8",
            line_of(e.as_bytes(), pos)
        ))
    })
}

/// Which option a stdin key names: the internal key, or the long name with `-` or `_`.
pub fn resolve_key<'a>(name: &str, opts: &'a [OptSpec]) -> Option<&'a OptSpec> {
    let dashed = name.replace('_', "-");
    let underscored = name.replace('-', "_");
    opts.iter()
        .find(|o| o.long == underscored || o.long == dashed)
        .or_else(|| opts.iter().find(|o| o.key == name))
}

/// Whether a stored flag is on: given on argv (empty value) or as a true word on stdin.
/// A flag given as false is off (fence-agents would treat it as given; see
/// docs/compatibility.md).
pub fn flag_is_on(v: &str) -> bool {
    v.is_empty() || parse_bool(v) == Some(true)
}

/// Flag values on stdin: the four spellings of true and of false, nothing else.
pub fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "yes" | "on" | "true" => Some(true),
        "0" | "no" | "off" | "false" => Some(false),
        _ => None,
    }
}

pub fn parse_stdin(text: &str, opts: &[OptSpec]) -> Result<RawInput> {
    let mut input = RawInput::default();
    for (n, raw_line) in text.split('\n').enumerate() {
        if raw_line.len() > MAX_LINE {
            return Err(FenceError::Usage(format!(
                "Failed: standard input line {} is {} bytes long (at most {} KiB); send one short key=value per line",
                n + 1,
                raw_line.len(),
                MAX_LINE / 1024
            )));
        }
        let line = raw_line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, value) = line.split_once('=').unwrap_or((line, ""));
        let value = match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            Some(inner) if value.len() >= 2 => inner,
            _ => value,
        };
        let Some(spec) = resolve_key(name, opts) else {
            // Pacemaker always sends nodename; agents that do not use it ignore it quietly.
            if name != "nodename" {
                // Only the key: the value of a misspelt "pasword=" must not reach a log.
                input.warnings.push(format!(
                    "Parse error: Ignoring unknown option '{name}' (line {})",
                    n + 1
                ));
            }
            continue;
        };
        if spec.takes_value() {
            input.values.insert(spec.key.clone(), value.to_string());
        } else {
            match parse_bool(value) {
                Some(b) => {
                    input
                        .values
                        .insert(spec.key.clone(), if b { "1" } else { "0" }.to_string());
                }
                None => input.warnings.push(format!(
                    "Parse error: Ignoring option '{name}' because it does not have value (use 1/yes/on/true or 0/no/off/false)"
                )),
            }
        }
    }
    Ok(input)
}

/// The argv parser is generated from the option table, so it cannot disagree with it.
fn command(opts: &[OptSpec]) -> Command {
    let mut cmd = Command::new("fence-agent")
        .no_binary_name(true)
        .disable_help_flag(true)
        .disable_version_flag(true)
        .infer_long_args(true)
        .args_override_self(true);
    for o in opts {
        let mut a = Arg::new(clap_text(&o.key)).long(clap_text(&o.long));
        if let Some(c) = o.short {
            a = a.short(c);
        }
        a = if o.takes_value() {
            // getopt takes the next word as the value even when it starts with '-'.
            a.action(ArgAction::Set)
                .num_args(1)
                .allow_hyphen_values(true)
        } else if o.key == "verbose" {
            a.action(ArgAction::Count)
        } else {
            a.action(ArgAction::SetTrue)
        };
        cmd = cmd.arg(a);
    }
    cmd.arg(
        Arg::new(LEFTOVER)
            .num_args(0..)
            .action(ArgAction::Append)
            .value_parser(clap::builder::OsStringValueParser::new()),
    )
}

/// A text for clap: the built-in ones as they are (no copy at every call).
fn clap_text(t: &Text) -> clap::builder::Str {
    match t {
        std::borrow::Cow::Borrowed(s) => (*s).into(),
        std::borrow::Cow::Owned(s) => s.clone().into(),
    }
}

const LEFTOVER: &str = "\u{0}leftover";

pub fn parse_argv(args: &[OsString], opts: &[OptSpec]) -> Result<RawInput> {
    let matches = command(opts)
        .try_get_matches_from(args)
        .map_err(|e| FenceError::Usage(clap_one_line(&e)))?;
    let mut input = RawInput {
        from_argv: true,
        ..Default::default()
    };
    for o in opts {
        if o.takes_value() {
            match matches.try_get_one::<String>(&o.key) {
                Ok(Some(v)) => {
                    input.values.insert(o.key.clone(), v.clone());
                }
                Ok(None) => {}
                Err(_) => {
                    return Err(FenceError::Usage(format!(
                        "Parse error: the value of --{} is not valid UTF-8",
                        o.long
                    )))
                }
            }
        } else if o.key == "verbose" {
            let n = u32::from(matches.get_count(&o.key));
            if n > 0 {
                input.verbose_count = n;
                input.values.insert(o.key.clone(), String::new());
            }
        } else if matches.get_flag(&o.key) {
            input.values.insert(o.key.clone(), String::new());
        }
    }
    if let Some(rest) = matches.get_many::<OsString>(LEFTOVER) {
        let rest: Vec<String> = rest.map(|s| s.to_string_lossy().into_owned()).collect();
        input.warnings.push(format!(
            "Unused arguments on command line: {}",
            rest.join(" ")
        ));
    }
    Ok(input)
}

/// clap's error as one line in fence-agents' "Parse error: ..." form.
fn clap_one_line(e: &clap::Error) -> String {
    let rendered = e.to_string();
    let first = rendered
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("invalid arguments");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    format!("Parse error: {first}; use -h to list the options")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::agents;
    use crate::contract::option_set;

    fn dummy_opts() -> Vec<OptSpec> {
        let f = agents::Registry::load(&crate::runtime::env::Env::default().agents_dir)
            .find("fence_dummy")
            .unwrap()
            .unwrap();
        option_set::resolve(f.def, None).unwrap().options
    }

    #[test]
    fn stdin_grammar() {
        let o = dummy_opts();
        let i = parse_stdin(
            "  action=status  \n# comment\n\nstatus-file=\"/tmp/a=b\"\nstatus_file=/tmp/x\nverbose=yes\nAction=off\nnodename=n1\nnodeid=3\nquiet=maybe\n",
            &o,
        )
        .unwrap();
        assert_eq!(i.get("action"), Some("status"));
        assert_eq!(i.get("status_file"), Some("/tmp/x"), "last duplicate wins");
        assert_eq!(i.get("verbose"), Some("1"));
        assert_eq!(i.get("quiet"), None);
        assert_eq!(i.warnings.len(), 3, "{:?}", i.warnings); // Action, nodeid, quiet=maybe
    }

    #[test]
    fn quotes_stripped_once_and_equals_kept() {
        let o = dummy_opts();
        let i = parse_stdin("status_file=\"\"/a=b\"\"\n", &o).unwrap();
        assert_eq!(i.get("status_file"), Some("\"/a=b\""));
        let i = parse_stdin("status_file=\"\n", &o).unwrap();
        assert_eq!(i.get("status_file"), Some("\""));
    }

    #[test]
    fn argv_forms() {
        let o = dummy_opts();
        let args: Vec<OsString> = ["-o", "status", "--status-file=/x", "-vvv", "--power-t", "5"]
            .iter()
            .map(OsString::from)
            .collect();
        let i = parse_argv(&args, &o).unwrap();
        assert_eq!(i.get("action"), Some("status"));
        assert_eq!(i.get("status_file"), Some("/x"));
        assert_eq!(i.get("power_timeout"), Some("5"));
        assert_eq!(i.verbose_count, 3);
    }

    #[test]
    fn argv_unknown_option_is_one_line() {
        let o = dummy_opts();
        let err = parse_argv(&[OsString::from("--bogus")], &o).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("Parse error:"), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
    }
}
