//! Three jobs, all about what every fencing call pays at start-up (docs/benchmarks.md):
//! the agent definitions in agents/ are checked and turned into data the binary reads
//! without a TOML parser, GCC's unwinder is linked statically, and relative relocations
//! are packed (RELR).
//!
//! ## Agent definitions
//!
//! agents/*.toml (one agent each) and agents/families/*.toml (`[[family]]` tables) are
//! the source. Parsing TOML at every call cost about a quarter of a call's instructions,
//! and decoding the JSON this script wrote instead still cost a parser per call; now each
//! agent file becomes const Rust data (`AgentDef` with borrowed texts) and each family
//! table a function that builds its `Family`, with an index (the names an agent answers
//! to; a family's name and sysObjectIDs) so that a call builds only the families it may
//! match. A shell agent's dialogue is the one part kept as text, as JSON (serde_json reads
//! it in a quarter of TOML's time), decoded only by a call of that agent. The family model
//! itself (src/snmp/family.rs, included below) reads and checks the family files here; a
//! file that is not valid TOML, an unknown field or a broken family stops the build,
//! naming the file. Site files (/etc/fencebox/agents.d) are TOML,
//! read once per process into the registry (src/contract/agents.rs).
//!
//! ## The unwinder
//!
//! fencebox runs once per fencing request, so its start-up is part of every request's cost
//! (docs/benchmarks.md). Loading libgcc_s.so.1 costs a library load, its relocations and
//! its constructor, which probes the CPU with CPUID (a trap on a virtual machine): about
//! 50 us per call, for an unwinder that only ever walks a stack to print a backtrace
//! (fencebox builds with panic=abort). This is what `gcc -static-libgcc` does for C
//! programs; rustc names gcc_s itself, so the static archive is put ahead of it here and
//! the linker's --as-needed then drops libgcc_s. Where no libgcc_eh.a exists the build
//! goes on with libgcc_s, slower to start but the same program.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    embed_agents();
    link_unwinder_statically();
    pack_relative_relocations();
}

#[path = "src/contract/agents/dir.rs"]
mod dir;

// The family model itself reads and checks the built-in family files here, so that a
// broken one stops the build and the binary gets code that builds each family.
// The dialogue model checks every built-in [shell] table (patterns, templates).
#[allow(dead_code)]
#[path = "src/shell/dialogue.rs"]
mod dialogue;

#[allow(dead_code)]
#[path = "src/snmp/family.rs"]
mod family;
#[allow(dead_code)]
#[path = "src/snmp/oid.rs"]
mod oid;
mod snmp {
    pub(crate) use super::oid;
}

fn toml_files(d: &Path) -> Vec<PathBuf> {
    dir::toml_files(d).unwrap_or_else(|e| panic!("cannot read {}: {e}", d.display()))
}

fn read_table(path: &Path) -> (String, toml::Table) {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let table = text
        .parse::<toml::Table>()
        .unwrap_or_else(|e| panic!("{} is not valid TOML: {e}", path.display()));
    let file = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    (file, table)
}

fn string_at<'a>(file: &str, t: &'a toml::Table, key: &str) -> &'a str {
    t.get(key)
        .and_then(toml::Value::as_str)
        .unwrap_or_else(|| panic!("{file}: every table needs a string '{key}'"))
}

fn tables<'a>(t: &'a toml::Table, key: &str) -> Vec<&'a toml::Table> {
    t.get(key)
        .and_then(toml::Value::as_array)
        .map(|a| a.iter().filter_map(toml::Value::as_table).collect())
        .unwrap_or_default()
}

fn strings<'a>(t: &'a toml::Table, key: &str) -> Vec<&'a str> {
    t.get(key)
        .and_then(toml::Value::as_array)
        .map(|a| a.iter().filter_map(toml::Value::as_str).collect())
        .unwrap_or_default()
}

/// One `[[family]]` table, read and checked by the family model, as Rust source that
/// builds it.
fn family_code(file: &str, t: &toml::Table) -> String {
    let f: family::FamilyFile = toml::Value::Table(t.clone())
        .try_into()
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    f.into_family()
        .unwrap_or_else(|e| panic!("{file}: {e}"))
        .to_rust()
}

/// A Rust literal of a text of the definitions (`Text`, borrowed from the binary).
fn text(s: &str) -> String {
    format!("t({s:?})")
}

fn opt_text(s: Option<&str>) -> String {
    s.map_or("None".into(), |s| format!("Some({})", text(s)))
}

fn texts(items: &[&str]) -> String {
    let items: Vec<String> = items.iter().map(|s| text(s)).collect();
    format!("Cow::Borrowed(&[{}])", items.join(", "))
}

fn str_or<'a>(t: &'a toml::Table, key: &str, default: &'a str) -> &'a str {
    t.get(key).and_then(toml::Value::as_str).unwrap_or(default)
}

fn bool_or(t: &toml::Table, key: &str, default: bool) -> bool {
    t.get(key).and_then(toml::Value::as_bool).unwrap_or(default)
}

/// A table's keys must be known (as `deny_unknown_fields` checks site files).
fn known_keys(file: &str, t: &toml::Table, what: &str, known: &[&str]) {
    for k in t.keys() {
        assert!(
            known.contains(&k.as_str()),
            "{file}: unknown field '{k}' in {what} (known: {})",
            known.join(", ")
        );
    }
}

/// `[defaults]`-style tables as a slice of pairs (sorted by key, as a TOML table is).
fn pairs(file: &str, t: &toml::Table, key: &str) -> String {
    let Some(table) = t.get(key).and_then(toml::Value::as_table) else {
        return "Cow::Borrowed(&[])".into();
    };
    let items: Vec<String> = table
        .iter()
        .map(|(k, v)| {
            let v = v
                .as_str()
                .unwrap_or_else(|| panic!("{file}: {key}.{k} must be a string"));
            format!("({}, {})", text(k), text(v))
        })
        .collect();
    format!("Cow::Borrowed(&[{}])", items.join(", "))
}

/// One `[[option]]` table as an `OptSpec` literal.
fn option_literal(file: &str, o: &toml::Table) -> String {
    known_keys(
        file,
        o,
        "[[option]]",
        &[
            "key", "long", "short", "value", "default", "required", "type", "choices", "order",
            "help", "secret",
        ],
    );
    let short = o.get("short").and_then(toml::Value::as_str).map(|s| {
        let mut chars = s.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => format!("Some({c:?})"),
            _ => panic!("{file}: short '{s}' must be one character"),
        }
    });
    let value_type = match str_or(o, "type", "string") {
        "string" => "String",
        "integer" => "Integer",
        "second" => "Second",
        other => panic!("{file}: unknown option type '{other}'"),
    };
    let order = o
        .get("order")
        .and_then(toml::Value::as_integer)
        .unwrap_or(1);
    format!(
        "OptSpec {{ key: {}, long: {}, short: {}, value: {}, default: {}, required: {}, \
         value_type: ValueType::{value_type}, choices: {}, extra_choices: Cow::Borrowed(&[]), \
         order: {order}, help: {}, secret: {} }}",
        text(string_at(file, o, "key")),
        text(string_at(file, o, "long")),
        short.unwrap_or_else(|| "None".into()),
        opt_text(o.get("value").and_then(toml::Value::as_str)),
        opt_text(o.get("default").and_then(toml::Value::as_str)),
        bool_or(o, "required", false),
        texts(&strings(o, "choices")),
        text(string_at(file, o, "help")),
        bool_or(o, "secret", false),
    )
}

/// The `BackendKind` variant a backend name stands for.
fn backend_kind(file: &str, name: &str) -> String {
    match name {
        "dummy" => "BackendKind::Dummy",
        "snmp" => "BackendKind::Snmp",
        "ipmi" => "BackendKind::Ipmi",
        "nut" => "BackendKind::Nut",
        "shell" => "BackendKind::Shell",
        "chain" => "BackendKind::Chain",
        other => {
            panic!("{file}: unknown backend '{other}' (dummy, snmp, ipmi, nut, shell or chain)")
        }
    }
    .to_string()
}

/// One agent file as an `AgentDef` literal.
fn agent_literal(file: &str, t: &toml::Table) -> String {
    known_keys(
        file,
        t,
        "the agent",
        &[
            "name",
            "shortdesc",
            "longdesc",
            "vendor_url",
            "backend",
            "device_opt",
            "option",
            "defaults",
            "symlink",
            "snmp",
            "shell",
        ],
    );
    let options: Vec<String> = tables(t, "option")
        .iter()
        .map(|o| option_literal(file, o))
        .collect();
    let symlinks: Vec<String> = tables(t, "symlink")
        .iter()
        .map(|s| {
            known_keys(file, s, "[[symlink]]", &["name", "shortdesc", "defaults"]);
            format!(
                "Symlink {{ name: {}, shortdesc: {}, defaults: {} }}",
                text(string_at(file, s, "name")),
                text(string_at(file, s, "shortdesc")),
                pairs(file, s, "defaults")
            )
        })
        .collect();
    let snmp = t.get("snmp").and_then(toml::Value::as_table).map(|s| {
        known_keys(file, s, "[snmp]", &["families", "fallback", "detect"]);
        format!(
            "Some(SnmpAgent {{ families: {}, fallback: {}, detect: {} }})",
            texts(&strings(s, "families")),
            opt_text(s.get("fallback").and_then(toml::Value::as_str)),
            bool_or(s, "detect", true)
        )
    });
    format!(
        "AgentDef {{ name: {}, shortdesc: {}, longdesc: {}, vendor_url: {}, backend: {}, \
         device_opt: {}, options: Cow::Borrowed(&[{}]), defaults: {}, \
         symlinks: Cow::Borrowed(&[{}]), snmp: {}, shell: {} }}",
        text(string_at(file, t, "name")),
        text(string_at(file, t, "shortdesc")),
        text(string_at(file, t, "longdesc")),
        text(str_or(t, "vendor_url", "")),
        backend_kind(file, string_at(file, t, "backend")),
        texts(&strings(t, "device_opt")),
        options.join(", "),
        pairs(file, t, "defaults"),
        symlinks.join(", "),
        snmp.unwrap_or_else(|| "None".into()),
        shell_source(file, t),
    )
}

/// A `[shell]` table, read and checked by the dialogue model, as the JSON text the binary
/// reads when a call of the agent needs it (JSON rather than TOML: the same table read in
/// a quarter of the time, for every shell call).
fn shell_source(file: &str, t: &toml::Table) -> String {
    let backend = string_at(file, t, "backend");
    let Some(table) = t.get("shell").and_then(toml::Value::as_table) else {
        assert!(
            backend != "shell",
            "{file}: backend \"shell\" needs a [shell] table"
        );
        return "None".into();
    };
    assert!(
        backend == "shell",
        "{file}: a [shell] table belongs to backend \"shell\" only"
    );
    let d: dialogue::Dialogue = toml::Value::Table(table.clone())
        .try_into()
        .unwrap_or_else(|e| panic!("{file}: [shell]: {e}"));
    let own: Vec<&str> = tables(t, "option")
        .iter()
        .map(|o| string_at(file, o, "key"))
        .collect();
    d.check_for_agent(&strings(t, "device_opt"), &own)
        .unwrap_or_else(|e| panic!("{file}: [shell]: {e}"));
    let source = serde_json::to_string(table).unwrap_or_else(|e| panic!("{file}: [shell]: {e}"));
    format!("Some(ShellDef::Source({source:?}))")
}

/// Write `$OUT_DIR/builtin_agents.rs` (see the module comment); src/contract/agents.rs includes it.
fn embed_agents() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let agents = root.join("agents");
    println!("cargo:rerun-if-changed={}", agents.display());
    let mut out = String::from("// Generated by build.rs from agents/; do not edit.\n\n");
    out.push_str("static BUILTIN_AGENTS: &[BuiltinAgent] = &[\n");
    for path in toml_files(&agents) {
        let (file, t) = read_table(&path);
        let mut names = vec![string_at(&file, &t, "name")];
        names.extend(
            tables(&t, "symlink")
                .iter()
                .map(|s| string_at(&file, s, "name")),
        );
        let _ = writeln!(
            out,
            "    BuiltinAgent {{ file: {file:?}, names: &{names:?}, def: {} }},",
            agent_literal(&file, &t)
        );
    }
    out.push_str("];\n\nconst BUILTIN_FAMILIES: &[BuiltinFamily] = &[\n");
    let mut builders = String::new();
    for path in toml_files(&agents.join("families")) {
        let (file, t) = read_table(&path);
        for f in tables(&t, "family") {
            let mut oids = strings(f, "sysobjectid");
            oids.extend(strings(f, "sysobjectid_prefix"));
            let oids: Vec<&str> = oids.iter().map(|o| o.trim_start_matches('.')).collect();
            let n = builders.matches("\nfn ").count();
            let _ = writeln!(
                out,
                "    BuiltinFamily {{ file: {file:?}, name: {:?}, oids: &{oids:?}, build: builtin_family_{n} }},",
                string_at(&file, f, "name"),
            );
            let _ = write!(
                builders,
                "\nfn builtin_family_{n}() -> crate::snmp::family::Family {{\n    {}\n}}\n",
                family_code(&file, f)
            );
        }
    }
    out.push_str("];\n");
    out.push_str(&builders);
    let dest =
        PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("builtin_agents.rs");
    std::fs::write(&dest, out).unwrap_or_else(|e| panic!("cannot write {}: {e}", dest.display()));
}

fn link_unwinder_statically() {
    println!("cargo:rerun-if-env-changed=CC");
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    if var("CARGO_CFG_TARGET_OS") != "linux" || var("CARGO_CFG_TARGET_ENV") != "gnu" {
        return;
    }
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let found = Command::new(&cc)
        .arg("-print-file-name=libgcc_eh.a")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|p| Path::new(p).is_absolute() && Path::new(p).is_file());
    match found.as_deref().and_then(|p| Path::new(p).parent()) {
        Some(dir) => {
            println!("cargo:rustc-link-search=native={}", dir.display());
            println!("cargo:rustc-link-lib=static:-bundle=gcc_eh");
        }
        None => println!(
            "cargo:warning={cc} knows no libgcc_eh.a: linking libgcc_s.so.1 (slower start-up)"
        ),
    }
}

/// Every start of an agent applies the binary's relative relocations (36,000 in `fencebox`,
/// most of them OpenSSL's and the service's tables): as RELA entries that is 870 kB of
/// table read from the file at every call, as RELR (glibc 2.36, binutils 2.38) a few
/// kilobytes. Less to fault in and to walk: lower peak RSS and CPU per call. Used only
/// when the toolchain links a test program with it (the linker then also marks the binary
/// as needing a glibc that reads RELR).
fn pack_relative_relocations() {
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    if var("CARGO_CFG_TARGET_OS") != "linux" || var("CARGO_CFG_TARGET_ENV") != "gnu" {
        return;
    }
    // The probe runs the host's compiler: it says nothing of a cross linker and its glibc.
    if var("HOST") != var("TARGET") {
        return;
    }
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let out = PathBuf::from(var("OUT_DIR")).join("relr-probe");
    let probe = Command::new(&cc)
        .args(["-x", "c", "-", "-o"])
        .arg(&out)
        .arg("-Wl,-z,pack-relative-relocs")
        .arg("-Wl,--fatal-warnings")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            if let Some(mut stdin) = child.stdin.take() {
                stdin.write_all(b"int main(void) { return 0; }\n")?;
            }
            child.wait()
        });
    if probe.is_ok_and(|s| s.success()) {
        println!("cargo:rustc-link-arg=-Wl,-z,pack-relative-relocs");
    } else {
        println!("cargo:warning={cc} cannot link with -z pack-relative-relocs: RELA relocations (slower start-up)");
    }
}
