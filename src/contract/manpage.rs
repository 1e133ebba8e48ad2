//! `-o manpage`: a section-8 man page in troff, from the same option table.

use crate::contract::metadata;
use crate::contract::option_set::Agent;
use crate::contract::options::OptSpec;

/// Escape text for troff: backslashes, and a leading dot or quote that would start a request.
fn esc(s: &str) -> String {
    let s = s.replace('\\', "\\e").replace('-', "\\-");
    if s.starts_with('.') || s.starts_with('\'') {
        format!("\\&{s}")
    } else {
        s
    }
}

/// The man page of `agent`, as invoked.
pub fn render(agent: &Agent) -> String {
    let mut m = heading(agent);
    m.push_str(".SH OPTIONS\n");
    for spec in metadata::options_in_order(agent) {
        m.push_str(&format!(".TP\n.B {}\n", esc(&spec.usage_form())));
        m.push_str(&option_text(spec));
        m.push('\n');
    }
    m.push_str(".SH ACTIONS\n");
    for a in agent.actions() {
        m.push_str(&format!(".TP\n.B {}\n{}\n", esc(a), esc(action_text(a))));
    }
    m.push_str(TRAILER);
    m
}

/// Title, name, synopsis and description (with the aliases the agent is installed as).
fn heading(agent: &Agent) -> String {
    let upper = agent.name.to_ascii_uppercase();
    let mut m = String::new();
    m.push_str(&format!(
        ".TH {} 8 \"{}\" \"fencebox {}\" \"System Manager's Manual\"\n",
        esc(&upper),
        env!("CARGO_PKG_VERSION"),
        env!("CARGO_PKG_VERSION")
    ));
    m.push_str(&format!(
        ".SH NAME\n{} \\- {}\n",
        esc(&agent.name),
        esc(&agent.def.shortdesc)
    ));
    m.push_str(&format!(
        ".SH SYNOPSIS\n.B {}\n[\\fIOPTIONS\\fR]\n.br\n.B {}\n< \\fIkey=value lines\\fR\n",
        esc(&agent.name),
        esc(&agent.name)
    ));
    m.push_str(&format!(".SH DESCRIPTION\n{}\n", esc(&agent.def.longdesc)));
    m.push_str(
        ".PP\nOptions come either as command-line arguments or, when there are none, as \
key=value lines on standard input, which is how Pacemaker passes them. On standard input \
an option is named by its long name with underscores (\\fBpower_timeout\\fR) or dashes, or by \
its old name shown in brackets below.\n",
    );
    if !agent.symlinks().is_empty() {
        let names: Vec<&str> = agent.symlinks().iter().map(|s| &*s.name).collect();
        m.push_str(&format!(
            ".PP\nThe same agent is also installed as {}.\n",
            esc(&names.join(", "))
        ));
    }
    m
}

/// One option's paragraph: its help, then its standard-input name, choices, default and
/// whether it is required.
fn option_text(spec: &OptSpec) -> String {
    let mut text = esc(&spec.help);
    let stdin_name = spec.canonical_name();
    if spec.has_deprecated_alias() {
        text.push_str(&format!(
            "\n.br\nStandard input: \\fB{}\\fR (old name \\fB{}\\fR)",
            esc(&stdin_name),
            esc(&spec.key)
        ));
    } else {
        text.push_str(&format!(
            "\n.br\nStandard input: \\fB{}\\fR",
            esc(&stdin_name)
        ));
    }
    if !spec.choices.is_empty() {
        text.push_str(&format!(
            "\n.br\nOne of: {}",
            esc(&spec.accepted_choices().join(", "))
        ));
    }
    if let Some(d) = &spec.default {
        text.push_str(&format!("\n.br\nDefault: {}", esc(d)));
    }
    if spec.required {
        text.push_str("\n.br\nRequired.");
    }
    text
}

/// Exit status, files and see also: the same for every agent.
const TRAILER: &str =
    ".SH EXIT STATUS\n.TP\n.B 0\nSuccess (status: the plug is on).\n.TP\n.B 1\nFailure; \
one line on standard error says why.\n.TP\n.B 2\nstatus only: the plug is off.\n\
.SH FILES\n.TP\n.I /run/lock/fencebox/\nPer-device lock files (FENCEBOX_LOCK_DIR overrides): \
calls through one device never interleave.\n\
.TP\n.I /etc/fencebox/fencebox.toml\nSite settings (FENCEBOX_CONFIG overrides); with [locks] backend = \"etcd\", \
calls on every host take turns on a device (see fencebox locks).\n\
.SH SEE ALSO\n.BR fencebox (8), \\fBstonith_admin\\fR(8), \\fBpacemaker-fenced\\fR(7)\n";

fn action_text(a: &str) -> &'static str {
    match a {
        "on" => "Power the plug on and confirm it.",
        "off" => "Power the plug off and confirm it.",
        "reboot" => "Power off, confirm, then power on. Succeeds once off is confirmed.",
        "status" => "Print Status: ON (exit 0) or Status: OFF (exit 2).",
        "list" => "Print every plug as id,alias.",
        "list-status" => "Print every plug as id,alias,state.",
        "monitor" => "Check that the device answers.",
        "metadata" => "Print the XML description Pacemaker reads.",
        "manpage" => "Print this manual page.",
        "validate-all" => "Check the options without contacting the device.",
        "diag" => "Send a diagnostic interrupt (a crash dump on most systems).",
        _ => "",
    }
}
