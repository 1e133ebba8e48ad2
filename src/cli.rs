//! The multi-call entry point: `fence_<name>` (argv[0]) runs that agent; `fencebox`
//! itself lists agents, creates the links, or runs an agent named as its first argument.

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use std::sync::Arc;

use crate::contract::action::{Action, Document};
use crate::contract::agents::{BackendKind, Registry};
use crate::contract::error::FenceError;
use crate::contract::input;
use crate::contract::option_set;
use crate::contract::settings;
use crate::contract::{help, manpage, metadata};
use crate::engine::flow;
use crate::engine::{render, run};
use crate::runtime::call::{Call, CallId, Cancel};
use crate::runtime::clock::RealClock;
use crate::runtime::env::Env;
use crate::runtime::log::{self, Log};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Run as `args[0]` (argv[0]) says and return the exit code. Everything written to stdout
/// has been flushed when this returns, and a failed write of it is a failure (exit 1):
/// nobody has read the result. This is `fencebox`, which has every agent: SSH included.
pub fn main(args: Vec<OsString>) -> u8 {
    let start = Instant::now();
    crate::ssh::use_libssh2();
    let Some(argv0) = program_name(&args) else {
        return no_program_name();
    };
    let rest = args.get(1..).unwrap_or(&[]);
    let code = if argv0.starts_with("fence_") {
        run_agent(&argv0, rest, start)
    } else {
        fencebox_command(rest, start)
    };
    flushed(code)
}

/// `fencebox-agent`: runs every agent call that does not speak SSH (SNMP, IPMI, NUT,
/// dummy, device shells over telnet) and hands the others over in the same directory: to
/// `fencebox` by name before reading any input (power chains, unknown names, fencebox's
/// commands), to `fencebox-shell` with the input it read (a shell call over SSH).
/// src/bin/fencebox-agent.rs says why there are several binaries.
pub fn agent_main(args: Vec<OsString>) -> u8 {
    agent_binary_main(args, Instant::now(), false)
}

/// `fencebox-shell`: the agent calls that speak SSH (device shells), in a binary without
/// the fleet commands and the service, so that such a call maps less code than in
/// `fencebox` (src/bin/fencebox-shell.rs). Power chains, unknown names and fencebox's
/// commands are handed to `fencebox` beside it.
pub fn shell_main(args: Vec<OsString>) -> u8 {
    let start = Instant::now();
    crate::ssh::use_libssh2();
    agent_binary_main(args, start, true)
}

/// The entry of the agent binaries: the agent argv[0] names, or `fencebox` for anything
/// else; `has_ssh`: whether this binary can speak SSH (else such a call is handed over).
fn agent_binary_main(args: Vec<OsString>, start: Instant, has_ssh: bool) -> u8 {
    let Some(argv0) = program_name(&args) else {
        return no_program_name();
    };
    let env = Env::from_process();
    let registry = Registry::load(&env.agents_dir);
    let runs_here = argv0.starts_with("fence_")
        && matches!(registry.find(&argv0), Ok(Some(f)) if f.def.backend != BackendKind::Chain);
    if !runs_here {
        return hand_over(Binary::Whole, &args, None);
    }
    let rest = args.get(1..).unwrap_or(&[]);
    let log = Log::new(&argv0, Some(env.syslog_socket.clone()));
    let in_agent_binary = (!has_ssh).then_some(args.as_slice());
    let code = log::scope(&log, || {
        run_agent_logged(&registry, &argv0, rest, start, &env, &log, in_agent_binary)
    });
    flushed(code)
}

/// The binaries an agent call can run in (src/bin/ says why there are three).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Binary {
    /// Every agent call without SSH.
    Agent,
    /// The agent calls that speak SSH.
    Shell,
    /// Everything: power chains, fencebox's commands.
    Whole,
}

impl Binary {
    fn file_name(self) -> &'static str {
        match self {
            Binary::Agent => "fencebox-agent",
            Binary::Shell => "fencebox-shell",
            Binary::Whole => "fencebox",
        }
    }

    /// This binary in the directory of `own`, if it is installed there.
    fn beside(self, own: &Path) -> Option<PathBuf> {
        Some(own.with_file_name(self.file_name())).filter(|p| p.is_file())
    }
}

/// Which binary `fencebox link` points an agent at: power chains (whose devices may be
/// shells) to `fencebox`, the shells that speak SSH unless told otherwise to
/// `fencebox-shell` (a telnet agent given ssh=1 is handed over with its input), the rest
/// to `fencebox-agent`.
fn linked_binary(found: crate::contract::agents::Found) -> Binary {
    match found.def.backend {
        BackendKind::Chain => Binary::Whole,
        BackendKind::Shell
            if option_set::resolve(found.def, found.symlink.as_ref()).map_or(true, |agent| {
                settings::speaks_ssh(&agent, &input::RawInput::default())
            }) =>
        {
            Binary::Shell
        }
        _ => Binary::Agent,
    }
}

/// Replace this process with `to` beside it (`fencebox-shell` for an SSH call, when
/// there), called with the same argv and, when this process has read its standard input
/// already, that input.
fn hand_over(to: Binary, args: &[OsString], input: Option<&[u8]>) -> u8 {
    use std::os::unix::process::CommandExt;
    let own = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => return fail_plain(&format!("cannot find this binary's own path: {e}")),
    };
    // A build or an install may have no fencebox-shell: fencebox runs SSH calls too.
    let to = match to {
        Binary::Shell if Binary::Shell.beside(&own).is_none() => Binary::Whole,
        other => other,
    };
    let target = own.with_file_name(to.file_name());
    let mut cmd = std::process::Command::new(&target);
    if let Some(argv0) = args.first() {
        cmd.arg0(argv0);
    }
    if let Some(input) = input {
        match replayed(input) {
            Ok(stdin) => {
                cmd.stdin(stdin);
            }
            Err(e) => {
                return fail(&FenceError::Local(format!(
                    "Failed: cannot hand the input over to {} ({e})",
                    target.display()
                )))
            }
        }
    }
    let e = cmd.args(args.get(1..).unwrap_or(&[])).exec();
    let what = match to {
        Binary::Shell => "calls over SSH to fencebox-shell",
        _ => "the SSH agents, fence_chain and fencebox's commands to fencebox",
    };
    fail_plain(&format!(
        "cannot run {} ({e}): {} hands {what} in its own directory; install {} there",
        target.display(),
        own.display(),
        to.file_name()
    ))
}

/// `input` as a standard input to give a program: one end of a socket pair holding it,
/// whose other end closes here (so the program reads the input, then its end). Written
/// without blocking: more than the socket holds (some 200 KiB; fence-agents' input is a
/// few hundred bytes) is refused rather than waited on.
fn replayed(input: &[u8]) -> std::io::Result<std::process::Stdio> {
    let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
    ours.set_nonblocking(true)?;
    (&ours).write_all(input)?;
    Ok(std::process::Stdio::from(std::os::fd::OwnedFd::from(
        theirs,
    )))
}

/// The name the process was called by (argv[0]'s file name), if it has one.
fn program_name(args: &[OsString]) -> Option<String> {
    args.first()
        .and_then(|a| Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty())
}

fn no_program_name() -> u8 {
    // No name, no agent: answering with usage and exit 0 would pass for a done action.
    fail_plain(
        "no program name (argv[0] is empty or missing), so no agent to run; \
         run fencebox as fence_<agent> (a link to it) or as 'fencebox <agent>'",
    )
}

/// `code`, or 1 when stdout cannot be flushed.
fn flushed(code: u8) -> u8 {
    // Every path has flushed already; this only catches a write someone adds later.
    match std::io::stdout().flush() {
        Err(e) if code != 1 => fail_plain(&unwritten(&e)),
        _ => code,
    }
}

/// Write all of `text` to stdout and flush it.
fn print(text: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()
}

fn unwritten(e: &std::io::Error) -> String {
    format!("Failed: the answer could not be written to standard output ({e}); check what the output goes to (a full disk, a reader that went away)")
}

/// Exit code of a `fencebox` command whose whole answer is `text`.
fn answer(text: &str) -> u8 {
    match print(text) {
        Ok(()) => 0,
        Err(e) => fail_plain(&unwritten(&e)),
    }
}

/// Exit code of an agent call whose whole answer is `text` (help, metadata, version).
fn agent_answer(text: &str) -> u8 {
    match print(text) {
        Ok(()) => 0,
        Err(e) => fail(&FenceError::Local(unwritten(&e))),
    }
}

fn usage() -> String {
    format!(
        "fencebox {VERSION}: fence agents for Pacemaker clusters, one binary\n\n\
Usage:\n\
\tfence_<agent> [options]        run an agent (fencebox is installed under each agent's name)\n\
\tfencebox <agent> [options]     the same, agent named with or without fence_\n\
\tfencebox agents                list the agents\n\
\tfencebox families              list the SNMP device families (built in and site files)\n\
\tfencebox families suggest WALK propose a family file from an snmpwalk -On dump of an unknown PDU\n\
\tfencebox link DIR              create a fence_<agent> symlink in DIR for every agent, to the binary that runs it\n\
\tfencebox power ACTION NODES    list, status, on, off or reboot nodes by the inventory (--help)\n\
\tfencebox inventory check       check the inventory (docs/inventory.md)\n\
\tfencebox chain NODES | check   show the nodes' power chains, or check them for risks\n\
\tfencebox stats NAMES           outlet current, power and energy; UPS load; BMC power (--help)\n\
\tfencebox discover TARGETS      scan addresses for PDUs, BMCs, upsd and device shells (--help)\n\
\tfencebox locks                 who holds or waits for which device, here and across hosts (--help)\n\
\tfencebox serve [--config F]    run the power service (docs/api.md)\n\
\tfencebox token add NAME ...    make an API token (list, remove)\n\
\tfencebox --version | --help\n"
    )
}

fn fencebox_command(args: &[OsString], start: Instant) -> u8 {
    let first = args.first().map(|a| a.to_string_lossy().into_owned());
    match first.as_deref() {
        None | Some("-h") | Some("--help") | Some("help") => answer(&usage()),
        Some("-V") | Some("--version") => answer(&format!("fencebox {VERSION}\n")),
        Some("agents") => match Registry::load(&Env::from_process().agents_dir).all_names() {
            Ok(names) => answer(
                &names
                    .iter()
                    .map(|(name, desc)| format!("{name:<24} {desc}\n"))
                    .collect::<String>(),
            ),
            Err(e) => fail_plain(&e),
        },
        Some("families") if args.get(1).is_some_and(|a| a == "suggest") => {
            match args.get(2).map(|p| (p, std::fs::read(p))) {
                None => fail_plain(
                    "families suggest WALKFILE: give an snmpwalk -On dump of the device (snmpwalk -On -v2c -c COMMUNITY ADDRESS .1.3.6.1 > WALKFILE)",
                ),
                Some((path, Err(e))) => {
                    fail_plain(&format!("cannot read {}: {e}", Path::new(path).display()))
                }
                Some((path, Ok(bytes))) => {
                    let source = Path::new(path).display().to_string();
                    match crate::discover::suggest::suggest(&String::from_utf8_lossy(&bytes), &source) {
                        Ok(text) => answer(&text),
                        Err(e) => fail_plain(&e),
                    }
                }
            }
        }
        Some("families") => match Registry::load(&Env::from_process().agents_dir)
            .families()
            .all()
        {
            Ok(families) => {
                let mut text = String::new();
                for f in families {
                    let ids: Vec<String> = f
                        .sysobjectid
                        .iter()
                        .map(|o| crate::snmp::oid::format_oid(o))
                        .chain(
                            f.sysobjectid_prefix
                                .iter()
                                .map(|o| format!("{}.*", crate::snmp::oid::format_oid(o))),
                        )
                        .collect();
                    text.push_str(&format!(
                        "{:<24} {:<12} {}\n{:<24} {:<12} sysObjectID {}\n",
                        f.name,
                        f.vendor,
                        f.description,
                        "",
                        "",
                        if ids.is_empty() {
                            "(not detected; choose with family=)".to_string()
                        } else {
                            ids.join(" ")
                        }
                    ));
                }
                answer(&text)
            }
            Err(e) => fail_plain(&e),
        },
        Some("power") => fleet_answer(crate::fleet::command::power, &args[1..]),
        Some("inventory") => fleet_answer(crate::fleet::command::inventory, &args[1..]),
        Some("chain") => fleet_answer(crate::fleet::command::chain, &args[1..]),
        Some("stats") => fleet_answer(crate::fleet::command::stats, &args[1..]),
        Some("discover") => fleet_answer(
            |args, _env, registry| crate::discover::command::discover(args, registry),
            &args[1..],
        ),
        Some("locks") => service_answer(crate::fleet::locks::locks, &args[1..]),
        Some("serve") => service_answer(crate::serve::command::serve, &args[1..]),
        Some("token") => service_answer(crate::serve::command::token, &args[1..]),
        Some("link") => match args.get(1) {
            Some(dir) if args.len() == 2 => link(Path::new(dir)),
            _ => fail_plain("usage: fencebox link DIR (the directory to put the fence_* links in)"),
        },
        Some(name) => {
            let agent_name = if name.starts_with("fence_") {
                name.to_string()
            } else {
                format!("fence_{name}")
            };
            run_agent(&agent_name, &args[1..], start)
        }
    }
}

/// Run a service command with the process's environment and print its answer.
fn service_answer(
    command: fn(&[OsString], &Env) -> crate::fleet::command::Answer,
    args: &[OsString],
) -> u8 {
    match command(args, &Env::from_process()) {
        Ok((text, code)) => answer(&text).max(code),
        Err(line) => fail_plain(&line),
    }
}

/// Run a fleet command with the process's environment and print its answer.
fn fleet_answer(
    command: fn(&[OsString], &Env, &Registry) -> crate::fleet::command::Answer,
    args: &[OsString],
) -> u8 {
    let env = Env::from_process();
    let registry = Registry::load(&env.agents_dir);
    match command(args, &env, &registry) {
        Ok((text, code)) => answer(&text).max(code),
        Err(line) => fail_plain(&line),
    }
}

fn fail_plain(msg: &str) -> u8 {
    // The message may quote argv (an agent name): no raw control characters to stderr.
    let _ = writeln!(std::io::stderr(), "fencebox: {}", log::escape_controls(msg));
    1
}

/// A `fence_<agent>` link in `dir` for every agent, to the binary that runs it
/// (`fencebox-agent` or `fencebox-shell` beside this one, when there; else this one). Links in the binaries' own
/// directory name them by file name (relative), others by their whole path.
fn link(dir: &Path) -> u8 {
    let exe = match std::env::current_exe().and_then(|p| p.canonicalize()) {
        Ok(p) => p,
        Err(e) => return fail_plain(&format!("cannot find this binary's own path: {e}")),
    };
    let relative = dir.canonicalize().ok().as_deref() == exe.parent();
    let registry = Registry::load(&Env::from_process().agents_dir);
    let names = match registry.all_names() {
        Ok(n) => n,
        Err(e) => return fail_plain(&e),
    };
    let mut failed = false;
    let mut made = String::new();
    for (name, _) in names {
        let target = dir.join(name);
        if let Ok(meta) = std::fs::symlink_metadata(&target) {
            if !meta.file_type().is_symlink() {
                let _ = fail_plain(&format!(
                    "{} exists and is not a symlink; left alone",
                    target.display()
                ));
                failed = true;
                continue;
            }
            let _ = std::fs::remove_file(&target);
        }
        let wanted = registry
            .find(name)
            .ok()
            .flatten()
            .map_or(Binary::Whole, linked_binary);
        let binary = match wanted {
            Binary::Whole => exe.clone(),
            other => other.beside(&exe).unwrap_or_else(|| exe.clone()),
        };
        let binary = match binary.file_name() {
            Some(file) if relative => Path::new(file),
            _ => binary.as_path(),
        };
        match std::os::unix::fs::symlink(binary, &target) {
            Ok(()) => made.push_str(&format!("{} -> {}\n", target.display(), binary.display())),
            Err(e) => {
                let _ = fail_plain(&format!("cannot create {}: {e}", target.display()));
                failed = true;
            }
        }
    }
    answer(&made).max(u8::from(failed))
}

/// Log a failure the fence-agents way and give its exit code.
fn fail(e: &FenceError) -> u8 {
    log_error!("{e}");
    e.exit_code()
}

fn run_agent(name: &str, args: &[OsString], start: Instant) -> u8 {
    let env = Env::from_process();
    let log = Log::new(name, Some(env.syslog_socket.clone()));
    let registry = Registry::load(&env.agents_dir);
    log::scope(&log, || {
        run_agent_logged(&registry, name, args, start, &env, &log, None)
    })
}

/// `in_agent_binary`: the whole argv when this is fencebox-agent, which hands a call that
/// speaks SSH to fencebox-shell before doing anything else.
fn run_agent_logged(
    registry: &Registry,
    name: &str,
    args: &[OsString],
    start: Instant,
    env: &Env,
    log: &Arc<Log>,
    in_agent_binary: Option<&[OsString]>,
) -> u8 {
    let mut kept = in_agent_binary.map(|_| Kept::default());
    let (agent, raw) = match agent_and_input(registry, name, args, kept.as_mut()) {
        Ok(found) => found,
        Err(code) => return code,
    };
    if let Some(all_args) = in_agent_binary {
        if agent.def.backend == BackendKind::Shell && settings::speaks_ssh(&agent, &raw) {
            let input = kept
                .as_ref()
                .filter(|_| args.is_empty())
                .map(|k| k.0.as_slice());
            return hand_over(Binary::Shell, all_args, input);
        }
    }
    run::register_public(&agent, &raw);
    // Read once; help, metadata, the man page and version answer whatever else is wrong
    // with the input, an unknown action included.
    let action = settings::action(&raw, &agent);
    if let Some(code) = answer_at_once(&agent, &raw, action.as_ref().ok()) {
        return code;
    }
    if let Err(code) = configure_log(&raw, log) {
        return code;
    }
    for w in &raw.warnings {
        log_warning!("{w}");
    }
    let action = match action {
        Ok(a) => a,
        Err(e) => return fail(&e),
    };
    let call = Call {
        id: CallId::next(),
        env,
        clock: Arc::new(RealClock::started_at(start)),
        log: Arc::clone(log),
        cancel: Cancel::default(),
    };
    let result = match agent.def.backend {
        // A node's power chain runs in the fleet layer, over the devices' own backends.
        BackendKind::Chain => crate::fleet::agent::run(registry, &agent, action, &raw, &call),
        _ => run::run(registry, &agent, action, &raw, &call),
    };
    report(&agent, action, &raw, result)
}

/// The agent called `name` and its input (argv, stdin); the exit code when either fails.
fn agent_and_input(
    registry: &Registry,
    name: &str,
    args: &[OsString],
    kept: Option<&mut Kept>,
) -> Result<(option_set::Agent, input::RawInput), u8> {
    let found = match registry.find(name) {
        Ok(Some(f)) => f,
        Ok(None) => {
            return Err(fail_plain(&format!(
                "unknown agent '{name}'; run 'fencebox agents' to list the agents this build has"
            )))
        }
        Err(e) => return Err(fail_plain(&e)),
    };
    let agent =
        option_set::resolve(found.def, found.symlink.as_ref()).map_err(|e| fail_plain(&e))?;
    let mut stdin = std::io::stdin().lock();
    let raw = match kept {
        Some(kept) => input::read(
            args,
            &mut Keeping {
                inner: &mut stdin,
                kept,
            },
            &agent.options,
        ),
        None => input::read(args, &mut stdin, &agent.options),
    }
    .map_err(|e| fail(&e))?;
    Ok((agent, raw))
}

/// A copy of what was read from standard input (it holds secrets: wiped when dropped).
#[derive(Default)]
struct Kept(zeroize::Zeroizing<Vec<u8>>);

/// A reader that keeps a copy of what it reads.
struct Keeping<'a, R> {
    inner: &'a mut R,
    kept: &'a mut Kept,
}

impl<R: std::io::Read> std::io::Read for Keeping<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let copy = &mut self.kept.0;
        if copy.capacity() - copy.len() < n {
            // Grown by hand, so that no unwiped copy is left behind in freed memory.
            let mut bigger =
                zeroize::Zeroizing::new(Vec::with_capacity((copy.len() + n).max(4096) * 2));
            bigger.extend_from_slice(copy);
            *copy = bigger;
        }
        copy.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

/// Help, metadata, the man page and version: answered before any validation.
fn answer_at_once(
    agent: &option_set::Agent,
    raw: &input::RawInput,
    action: Option<&Action>,
) -> Option<u8> {
    if raw.values.contains_key("help") {
        return Some(agent_answer(&help::render(agent)));
    }
    match action {
        Some(Action::Describe(Document::Metadata)) => {
            return Some(agent_answer(&metadata::render(agent)))
        }
        Some(Action::Describe(Document::Manpage)) => {
            return Some(agent_answer(&manpage::render(agent)))
        }
        _ => {}
    }
    raw.values
        .contains_key("version")
        .then(|| agent_answer(&format!("{VERSION} (fencebox)\n")))
}

/// The call's log as the options ask: quiet, verbosity, debug file.
fn configure_log(raw: &input::RawInput, log: &Log) -> Result<(), u8> {
    let quiet = raw.get("quiet").is_some_and(input::flag_is_on);
    let debug_file = match raw.get("debug") {
        Some(path) => match OpenOptions::new().create(true).append(true).open(path) {
            Ok(f) => Some(f),
            Err(e) => {
                return Err(fail(&FenceError::Usage(format!(
                "Failed: cannot open debug_file {path} for appending ({e}); name a writable file"
            ))))
            }
        },
        None => None,
    };
    log.configure(quiet, settings::verbose_level(raw), debug_file);
    Ok(())
}

/// Print a report (or log the errors) and give the exit code.
fn report(
    agent: &option_set::Agent,
    action: Action,
    raw: &input::RawInput,
    result: Result<crate::engine::outcome::Report, Vec<FenceError>>,
) -> u8 {
    match result {
        Ok(report) => {
            let sep = raw.get("separator").unwrap_or(",");
            let (text, code) = render::fence_agents(&report, sep);
            // One write: a list is one write, not one per outlet. Nobody has read a
            // result that could not be written, so that is a failure.
            if let Err(e) = print(&text) {
                return fail(&flow::unwritten(report.action, &e));
            }
            if action != Action::ValidateAll {
                log_info!("{} {}: done (exit {code})", agent.name, action.name());
            }
            code
        }
        Err(errors) => {
            for e in &errors {
                log_error!("{e}");
            }
            if action == Action::ValidateAll {
                log_error!("validate-all failed");
            }
            errors.first().map_or(1, FenceError::exit_code)
        }
    }
}
