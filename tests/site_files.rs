//! Site family files (`[[family]]` tables in the site directory) against snmpsim: a
//! broken file affects only the families it defines, with a warning naming file and line
//! otherwise; malformed row patterns are errors naming file and line, never a panic;
//! files are read as TOML (literal strings, comments).

mod common;
use common::{sims, Out, Sandbox};

use common::V3;

/// Arguments addressing a device's v3 simulator instance, then `rest`.
fn v3_at<'a>(port: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    [&["-a", "127.0.0.1", "-u", port][..], rest, V3].concat()
}

/// A family table; `row` is its control row (line 8), `oid` its sysObjectID.
fn family(name: &str, oid: &str, row: &str) -> String {
    format!(
        r#"
[[family]]
name = "{name}"
vendor = "Example"
description = "A site family"
sysobjectid = ["{oid}"]
status = {{ column = "1.3.6.1.2.1.2.2.1.7", row = "{{plug}}" }}
control = {{ column = "1.3.6.1.2.1.2.2.1.7", row = "{row}" }}
names = {{ column = "1.3.6.1.2.1.2.2.1.2" }}
on = [1]
off = [2]
set_on = 1
set_off = 2
"#
    )
}

fn write(sb: &Sandbox, file: &str, text: &str) {
    std::fs::write(sb.path(&format!("agents.d/{file}")), text).unwrap();
}

fn no_panic(out: &Out) {
    assert!(
        !out.stderr.contains("panicked") && out.code != 101 && out.code >= 0,
        "{out:?}"
    );
}

/// The APC rPDU simulator's outlet 1, read only (other tests switch other outlets).
fn apc_status(sb: &Sandbox) -> Out {
    let port = sims().v3("private").to_string();
    sb.run_args(
        "fence_apc_snmp",
        &v3_at(&port, &["-n", "1", "-o", "status"]),
    )
}

#[test]
fn broken_site_files_do_not_break_built_in_families() {
    let sb = Sandbox::new("site-broken");
    // Unreadable (a directory cannot be read as a file, even by root).
    std::fs::create_dir(sb.path("agents.d/unreadable.toml")).unwrap();
    // A copy of a built-in family under its name.
    write(
        &sb,
        "apc-copy.toml",
        &family("apc-rpdu", "1.3.6.1.4.1.318.1.3.4.5", "{switch}.1.{plug}"),
    );
    // Two files defining one site family.
    write(
        &sb,
        "lab1.toml",
        &family("lab", "1.3.6.1.4.1.99999.1", "{plug}"),
    );
    write(
        &sb,
        "lab2.toml",
        &family("lab", "1.3.6.1.4.1.99999.1", "{plug}"),
    );
    // Not TOML.
    write(&sb, "zz-syntax.toml", "[[family]]\nname = \"unterminated\n");
    let out = apc_status(&sb);
    no_panic(&out);
    assert!(
        matches!(
            (out.code, out.stdout.as_str()),
            (0, "Status: ON\n") | (2, "Status: OFF\n")
        ),
        "{out:?}"
    );
    for warning in [
        "unreadable.toml",
        "apc-copy.toml: line 2: family apc-rpdu is built in",
        "lab2.toml: line 2: family lab is also defined at",
        "zz-syntax.toml: line 2",
    ] {
        assert!(
            out.stderr_lines()
                .iter()
                .any(|l| l.contains("WARNING") && l.contains(warning)),
            "a warning naming {warning}: {out:?}"
        );
    }
    // The family defined twice is not used: asking for it says why.
    let port = sims().v3("ifmib").to_string();
    let out = sb.run_args(
        "fence_pdu",
        &v3_at(&port, &["-n", "1", "--family", "lab", "-o", "status"]),
    );
    no_panic(&out);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("Failed: ") && out.stderr.contains("family lab is also defined at"),
        "{out:?}"
    );
}

#[test]
fn malformed_row_patterns_name_file_and_line() {
    let sb = Sandbox::new("site-patterns");
    let port = sims().v3("ifmib").to_string();
    for (row, why) in [
        ("{p\u{e9}}", "bad component"),
        ("{path}.{path}", "not several"),
        ("{plug+99999999999999999999}", "out of range"),
        ("{p99999999999}", "bad component"),
        ("{plug5}", "bad offset"),
    ] {
        write(&sb, "lab.toml", &family("lab", "1.3.6.1.4.1.99999.1", row));
        let out = sb.run_args(
            "fence_pdu",
            &v3_at(&port, &["-n", "1", "--family", "lab", "-o", "status"]),
        );
        no_panic(&out);
        assert_eq!(out.code, 1, "{row}: {out:?}");
        let failed: Vec<&str> = out
            .stderr_lines()
            .into_iter()
            .filter(|l| l.contains("Failed: "))
            .collect();
        assert_eq!(failed.len(), 1, "{row}: {out:?}");
        assert_eq!(
            out.stderr_lines().len(),
            1,
            "said once, not also warned: {out:?}"
        );
        assert!(
            failed[0].contains("lab.toml: line 8") && failed[0].contains(why),
            "{row}: names file, line and problem: {out:?}"
        );
    }
}

/// A broken family for the device's own sysObjectID stops detection: going past it could
/// pick a family that drives other OIDs.
#[test]
fn a_broken_family_for_the_device_is_an_error_not_skipped() {
    let sb = Sandbox::new("site-detect-broken");
    write(
        &sb,
        "lab.toml",
        &family("lab", "1.3.6.1.4.1.9.1.1", "{path}.{path}"),
    );
    let port = sims().v3("ifmib").to_string();
    let out = sb.run_args("fence_pdu", &v3_at(&port, &["-n", "1", "-o", "status"]));
    no_panic(&out);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("lab.toml: line 8") && out.stderr.contains("may describe this device"),
        "{out:?}"
    );
}

/// Site files are TOML: literal strings and comments are read as TOML reads them.
#[test]
fn literal_strings_and_comments_are_read_as_toml() {
    let sb = Sandbox::new("site-toml");
    write(
        &sb,
        "site-switch.toml",
        r#"
# Our lab switch.
[[family]]   # one table
name = 'site-switch'   # a literal string
vendor = 'Example'
description = "Our lab switch, ports through IF-MIB"
sysobjectid = [ '.1.3.6.1.4.1.9.1.1' ]   # as snmpget prints it
status = { column = '1.3.6.1.2.1.2.2.1.7' }
control = { column = "1.3.6.1.2.1.2.2.1.7" }
names = { column = '1.3.6.1.2.1.2.2.1.2' }
on = [1]
off = [2]
set_on = 1
set_off = 2
"#,
    );
    let port = sims().v3("ifmib").to_string();
    let out = sb.run_args(
        "fence_pdu",
        &v3_at(&port, &["-n", "Ethernet1/2", "-v", "-o", "status"]),
    );
    no_panic(&out);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "Status: ON\n"),
        "{out:?}"
    );
    assert!(out.stderr.contains("SNMP family site-switch ("), "{out:?}");
}
