//! The multi-call binary: dispatch on argv[0], `fencebox <agent>`, `agents`, `link`,
//! unknown names, and site-local agent files.

mod common;
use common::{Sandbox, AGENT_BIN, BIN, SHELL_BIN};
use std::process::Command;

fn fencebox(sb: &Sandbox, args: &[&str]) -> common::Out {
    let out = Command::new(BIN)
        .args(args)
        .env("FENCEBOX_LOCK_DIR", sb.path("locks"))
        .env("FENCEBOX_AGENTS_DIR", sb.path("agents.d"))
        .output()
        .unwrap();
    common::Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn agents_lists_names_with_descriptions() {
    let sb = Sandbox::new("cli-agents");
    let out = fencebox(&sb, &["agents"]);
    assert_eq!(out.code, 0, "{out:?}");
    let dummy = out
        .stdout
        .lines()
        .find(|l| l.starts_with("fence_dummy "))
        .expect("fence_dummy listed");
    assert!(
        dummy.len() > "fence_dummy ".len() + 10,
        "with a description: {dummy}"
    );
    assert!(
        out.stdout.contains("fence_testshell"),
        "site agents are listed too"
    );
}

#[test]
fn runs_an_agent_named_as_argument() {
    let sb = Sandbox::new("cli-named");
    sb.set_state("on");
    let f = sb.status_file().display().to_string();
    for name in ["dummy", "fence_dummy"] {
        let out = fencebox(&sb, &[name, "-o", "status", "--status-file", &f]);
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (0, "Status: ON\n"),
            "{name}: {out:?}"
        );
    }
}

#[test]
fn version_and_help() {
    let sb = Sandbox::new("cli-version");
    let out = fencebox(&sb, &["--version"]);
    assert_eq!(out.code, 0);
    assert_eq!(
        out.stdout.trim(),
        format!("fencebox {}", env!("CARGO_PKG_VERSION"))
    );
    let out = fencebox(&sb, &["--help"]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("fencebox agents"), "{out:?}");
}

#[test]
fn unknown_agents_say_how_to_list_the_known_ones() {
    let sb = Sandbox::new("cli-unknown");
    let out = fencebox(&sb, &["nosuch"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("unknown agent 'fence_nosuch'")
            && out.stderr.contains("fencebox agents"),
        "{out:?}"
    );
    let out = sb.run_args("fence_nosuch", &["-o", "status"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("fencebox agents"), "{out:?}");
}

#[test]
fn link_creates_a_symlink_per_agent_and_leaves_files_alone() {
    let sb = Sandbox::new("cli-link");
    let dir = sb.path("sbin");
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.display().to_string();
    let out = fencebox(&sb, &["link", &d]);
    assert_eq!(out.code, 0, "{out:?}");
    let link = dir.join("fence_dummy");
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    sb.set_state("off");
    let out = Command::new(&link)
        .args([
            "-o",
            "status",
            "--status-file",
            sb.status_file().to_str().unwrap(),
        ])
        .env("FENCEBOX_LOCK_DIR", sb.path("locks"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let target = |name: &str| std::fs::read_link(dir.join(name)).unwrap();
    let lean = std::fs::canonicalize(AGENT_BIN).unwrap();
    let shell = std::fs::canonicalize(SHELL_BIN).unwrap();
    let whole = std::fs::canonicalize(BIN).unwrap();
    // The agents without SSH, telnet shells included, go to fencebox-agent; the shells
    // that speak SSH unless told otherwise to fencebox-shell; power chains to fencebox.
    for name in [
        "fence_dummy",
        "fence_apc_snmp",
        "fence_ipmilan",
        "fence_nut",
        "fence_testshell",
        "fence_apc",
        "fence_wti",
    ] {
        assert_eq!(target(name), lean, "{name}");
    }
    for name in ["fence_virsh", "fence_lpar"] {
        assert_eq!(target(name), shell, "{name}");
    }
    assert_eq!(target("fence_chain"), whole);
    // Again: links are replaced; a real file is not.
    std::fs::remove_file(dir.join("fence_testshell")).unwrap();
    std::fs::write(dir.join("fence_testshell"), "#!/bin/sh\n").unwrap();
    let out = fencebox(&sb, &["link", &d]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("is not a symlink; left alone"),
        "{out:?}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("fence_testshell")).unwrap(),
        "#!/bin/sh\n"
    );
}

#[test]
fn a_malformed_site_file_names_file_line_and_field_and_spares_builtin_agents() {
    let sb = Sandbox::new("cli-site");
    std::fs::write(
        sb.path("agents.d/fence_broken.toml"),
        "name = \"fence_broken\"\nshortdesc = \"x\"\nlongdesc = \"x\"\nbackend = \"dummy\"\ndevice_opt = \"not-a-list\"\n",
    )
    .unwrap();
    let out = sb.run_args("fence_broken", &["-o", "metadata"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("fence_broken.toml"),
        "names the file: {out:?}"
    );
    assert!(out.stderr.contains("line 5"), "names the line: {out:?}");
    assert!(
        out.stderr.contains("device_opt"),
        "names the field: {out:?}"
    );
    assert_eq!(out.stderr_lines().len(), 1, "one line: {out:?}");
    sb.set_state("on");
    let out = sb.run("fence_dummy", "action=status");
    assert_eq!(
        out.code, 0,
        "built-in agents do not read site files: {out:?}"
    );
}

/// A file in the site directory that is not TOML at all affects only itself: the site
/// agents beside it are still found (they were all refused with its error before), and
/// a name nobody defines still names it, as it may be the file meant to.
#[test]
fn a_file_that_is_not_toml_spares_the_site_agents_beside_it() {
    let sb = Sandbox::new("cli-site-garbage");
    std::fs::write(sb.path("agents.d/aa-notes.toml"), "this is { not toml\n").unwrap();
    let out = sb.run_args("fence_testshell", &["-o", "metadata"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("fence_testshell"), "{out:?}");
    let out = sb.run_args("fence_nosuchagent", &["-o", "metadata"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("aa-notes.toml"), "{out:?}");
}

#[test]
fn a_site_file_cannot_replace_a_builtin_agent() {
    let sb = Sandbox::new("cli-site-dup");
    let text = std::fs::read_to_string(sb.path("agents.d/fence_testshell.toml"))
        .unwrap()
        .replace("fence_testshell", "fence_dummy");
    std::fs::write(sb.path("agents.d/zz.toml"), text).unwrap();
    let out = fencebox(&sb, &["agents"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("is built in"), "{out:?}");
}

/// Run `cmd` with stdout on /dev/full (every write fails with ENOSPC) and stdin closed.
fn into_full_stdout(cmd: &mut Command) -> common::Out {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = cmd
        .stdin(std::process::Stdio::null())
        .stdout(full)
        .output()
        .unwrap();
    common::Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::new(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// An answer nobody could read is no success: help, metadata, status, off and the
/// fencebox commands all exit 1 with one line on stderr when stdout cannot be written.
#[test]
fn a_stdout_that_cannot_be_written_fails_every_answer() {
    let sb = Sandbox::new("cli-full");
    let f = sb.status_file().display().to_string();
    for args in [
        &["-o", "metadata"][..],
        &["-h"],
        &["-V"],
        &["-o", "status", "--status-file", &f],
    ] {
        sb.set_state("on");
        let out = into_full_stdout(sb.command("fence_dummy").args(args));
        assert_eq!(out.code, 1, "{args:?}: {out:?}");
        assert!(
            out.stderr
                .contains("could not be written to standard output"),
            "{args:?}: {out:?}"
        );
    }
    for args in [&["agents"][..], &["--version"], &["--help"], &["families"]] {
        let out = into_full_stdout(
            Command::new(BIN)
                .args(args)
                .env("FENCEBOX_AGENTS_DIR", sb.path("agents.d")),
        );
        assert_eq!(out.code, 1, "{args:?}: {out:?}");
        assert_eq!(out.stderr.lines().count(), 1, "{args:?}: {out:?}");
    }
}

/// A done off whose "Success" line is lost: exit 1, and the log says the device was
/// switched, so nobody takes the node for untouched.
#[test]
fn a_lost_success_line_fails_but_says_the_off_was_done() {
    let sb = Sandbox::new("cli-full-off");
    sb.set_state("on");
    let f = sb.status_file().display().to_string();
    let out = into_full_stdout(
        sb.command("fence_dummy")
            .args(["-o", "off", "--status-file", &f]),
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(sb.state(), "off");
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 1, "{out:?}");
    assert!(
        lines[0].contains("off was done and the device confirmed it")
            && lines[0].contains("No space left on device"),
        "{out:?}"
    );
}

/// The case of the issue: an SNMP outlet list into a full disk (Debian's agent exits 1).
#[test]
fn an_snmp_list_into_a_full_stdout_fails() {
    let pdu = common::hostile_snmp::Hostile::honest(&[1, 2, 1, 1]);
    let sb = Sandbox::new("cli-full-list");
    let port = pdu.port();
    let args = [
        "-a",
        "127.0.0.1",
        "-u",
        &port,
        "-c",
        "private",
        "-d",
        "2c",
        "-o",
        "list",
    ];
    let ok = sb.run_args("fence_apc_snmp", &args);
    assert!(ok.code == 0 && ok.stdout.lines().count() > 1, "{ok:?}");
    let out = into_full_stdout(sb.command("fence_apc_snmp").args(args));
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr
            .contains("the list result could not be written to standard output"),
        "{out:?}"
    );
}

/// argv[0] is all there is to say which agent runs. Without it (an empty string here;
/// a C library that leaves the standard library's argument list empty, in the next test)
/// nothing may pass for success: the old answer was usage and exit 0 to every off.
#[test]
fn an_empty_program_name_fails_instead_of_printing_usage() {
    use std::os::unix::process::CommandExt;
    let sb = Sandbox::new("cli-argv0");
    let mut cmd = Command::new(BIN);
    cmd.arg0("")
        .env("FENCEBOX_LOCK_DIR", sb.path("locks"))
        .env("FENCEBOX_AGENTS_DIR", sb.path("agents.d"));
    let out = common::finish(common::feed(&mut cmd, b"action=off\nport=1\n"));
    assert_eq!((out.code, out.stdout.as_str()), (1, ""), "{out:?}");
    assert!(out.stderr.contains("argv[0] is empty"), "{out:?}");
}

#[test]
fn an_empty_argument_list_fails() {
    assert_eq!(fencebox::cli::main(Vec::new()), 1);
    assert_eq!(fencebox::cli::main(vec!["".into(), "agents".into()]), 1);
}

/// A name from argv is quoted in the error with its control characters escaped.
#[test]
fn an_unknown_agent_name_is_quoted_without_raw_control_characters() {
    let sb = Sandbox::new("cli-esc");
    let out = fencebox(&sb, &["bad\u{1b}[2J\u{7}"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr
            .contains("unknown agent 'fence_bad\\x1b[2J\\x07'"),
        "{out:?}"
    );
    assert!(!out.stderr.contains('\u{1b}'), "{out:?}");
}

#[test]
fn links_in_the_binaries_own_directory_name_them_relatively() {
    let sb = Sandbox::new("cli-link-rel");
    let dir = installed_and_linked(
        &sb,
        &[
            (BIN, "fencebox"),
            (AGENT_BIN, "fencebox-agent"),
            (SHELL_BIN, "fencebox-shell"),
        ],
    );
    let target = |name: &str| std::fs::read_link(dir.join(name)).unwrap();
    assert_eq!(
        target("fence_apc_snmp"),
        std::path::Path::new("fencebox-agent")
    );
    assert_eq!(
        target("fence_virsh"),
        std::path::Path::new("fencebox-shell")
    );
    assert_eq!(target("fence_chain"), std::path::Path::new("fencebox"));
}

/// Without fencebox-shell beside it (a partial install), links and hand-overs of SSH
/// calls go to fencebox, which runs them too.
#[test]
fn without_fencebox_shell_ssh_agents_go_to_fencebox() {
    let sb = Sandbox::new("cli-no-shell");
    let dir = installed_and_linked(&sb, &[(BIN, "fencebox"), (AGENT_BIN, "fencebox-agent")]);
    let target = |name: &str| std::fs::read_link(dir.join(name)).unwrap();
    assert_eq!(target("fence_virsh"), std::path::Path::new("fencebox"));
    assert_eq!(target("fence_apc"), std::path::Path::new("fencebox-agent"));
    // fence_apc is a telnet agent: given ssh=1 it is handed over, here to fencebox.
    apc_over_ssh_is_run(&sb, &dir);
}

/// With every binary installed, fencebox-agent hands an SSH call to fencebox-shell: it
/// runs even with fencebox itself gone.
#[test]
fn fencebox_agent_hands_ssh_calls_to_fencebox_shell() {
    let sb = Sandbox::new("cli-to-shell");
    let dir = installed_and_linked(
        &sb,
        &[
            (BIN, "fencebox"),
            (AGENT_BIN, "fencebox-agent"),
            (SHELL_BIN, "fencebox-shell"),
        ],
    );
    std::fs::remove_file(dir.join("fencebox")).unwrap();
    apc_over_ssh_is_run(&sb, &dir);
}

/// `dir`'s fence_apc (a link to fencebox-agent) given ssh=1 towards a closed port: the
/// binary it is handed to runs the call with the whole input (it tries that port).
fn apc_over_ssh_is_run(sb: &Sandbox, dir: &std::path::Path) {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut cmd = Command::new(dir.join("fence_apc"));
    cmd.env("FENCEBOX_AGENTS_DIR", sb.path("no-site-agents"))
        .env("FENCEBOX_LOCK_DIR", sb.path("locks"));
    let input = format!(
        "ip=127.0.0.1\nipport={port}\nusername=u\npassword=p\nplug=1\nssh=1\naction=status\n"
    );
    let out = common::finish(common::feed(&mut cmd, input.as_bytes()));
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr
            .contains(&format!("cannot connect to 127.0.0.1:{port}")),
        "{out:?}"
    );
}

/// The SSH client (libssh2 and its static OpenSSL) is in fencebox and fencebox-shell only:
/// its start-up relocations would double the CPU of every SNMP or IPMI call (src/ssh/mod.rs).
#[test]
fn fencebox_agent_has_no_ssh_client_in_it() {
    let contains = |path: &str, what: &[u8]| {
        let bytes = std::fs::read(path).unwrap();
        bytes.windows(what.len()).any(|w| w == what)
    };
    assert!(
        contains(BIN, b"SSH-2.0-libssh2"),
        "the check itself looks for the wrong text"
    );
    assert!(!contains(AGENT_BIN, b"SSH-2.0-libssh2"));
    assert!(contains(SHELL_BIN, b"SSH-2.0-libssh2"));
}

/// fencebox-shell leaves the service, the fleet commands and their libraries out (that is
/// what makes an SSH call's peak RSS smaller there than in fencebox).
#[test]
fn fencebox_shell_has_no_service_in_it() {
    let contains = |path: &str, what: &[u8]| {
        let bytes = std::fs::read(path).unwrap();
        bytes.windows(what.len()).any(|w| w == what)
    };
    let marker = b"fencebox_http_requests_total";
    assert!(
        contains(BIN, marker),
        "the check itself looks for the wrong text"
    );
    assert!(!contains(SHELL_BIN, marker));
}

/// fencebox-agent hands SSH agents to fencebox-shell before reading their input: stdin
/// arrives whole.
#[test]
fn fencebox_agent_hands_ssh_agents_and_commands_over_with_their_input() {
    let sb = Sandbox::new("cli-handover");
    let out = sb.run("fence_virsh", "action=metadata\n");
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains("<resource-agent name=\"fence_virsh\""),
        "{out:?}"
    );
    let out = Command::new(AGENT_BIN).arg("--version").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("fencebox "),
        "{out:?}"
    );
}

/// A telnet agent told to use SSH is handed over after fencebox-agent read its input: the
/// input reaches fencebox-shell whole (the port below is the one it tries).
#[test]
fn fencebox_agent_hands_a_call_over_ssh_over_with_the_input_it_read() {
    let sb = Sandbox::new("cli-handover-ssh");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let out = sb.run(
        "fence_apc",
        &format!(
            "ip=127.0.0.1\nipport={port}\nusername=u\npassword=p\nplug=1\nssh=1\naction=status\n"
        ),
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert!(!out.stderr.contains("no SSH client"), "{out:?}");
    assert!(
        out.stderr
            .contains(&format!("cannot connect to 127.0.0.1:{port}")),
        "{out:?}"
    );
}

#[test]
fn fencebox_agent_without_fencebox_beside_it_says_so() {
    let sb = Sandbox::new("cli-alone");
    let alone = sb.path("alone/fencebox-agent");
    std::fs::create_dir_all(alone.parent().unwrap()).unwrap();
    std::fs::copy(AGENT_BIN, &alone).unwrap();
    let link = sb.path("alone/fence_virsh");
    std::os::unix::fs::symlink(&alone, &link).unwrap();
    let out = Command::new(&link).args(["-o", "status"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("install fencebox there"), "{stderr}");
    assert!(out.stdout.is_empty());
}

/// `binaries` copied into one directory as a package installs them, and `fencebox link`
/// run there; the directory.
fn installed_and_linked(sb: &Sandbox, binaries: &[(&str, &str)]) -> std::path::PathBuf {
    let dir = sb.path("usr-sbin");
    std::fs::create_dir_all(&dir).unwrap();
    for (bin, name) in binaries {
        std::fs::copy(bin, dir.join(name)).unwrap();
    }
    let out = Command::new(dir.join("fencebox"))
        .args(["link", dir.to_str().unwrap()])
        .env("FENCEBOX_AGENTS_DIR", sb.path("no-site-agents"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    dir
}
