//! Imports run downward only (docs/architecture.md): every `crate::` path in src/ must name
//! a module of the same entry or of a lower layer. A module that is in no layer fails the
//! test too, so a new module has to be placed before it can be used.
//!
//! The check reads the source text (a crate split would enforce the same thing through
//! Cargo, at the cost of a workspace of seven crates for one binary; a test says it in
//! one table and names the offending file and line).

use std::path::{Path, PathBuf};

/// The layers, lowest first. Entries on one line are peers: they may not import each other
/// (the SNMP client knows nothing of IPMI), only lower layers.
const LAYERS: &[&[&str]] = &[
    &["runtime"],
    &["snmp", "ipmi", "nut", "ssh", "telnet", "shell", "etcd"],
    &["contract"],
    &["device"],
    &["engine"],
    &["fleet"],
    &["serve", "discover"],
    &["cli"],
];

/// Layer index and entry name of a module path such as `contract::settings`.
fn place(module: &str) -> Option<(usize, &'static str)> {
    let top = module.split("::").next().unwrap_or(module);
    LAYERS
        .iter()
        .enumerate()
        .find_map(|(i, entries)| entries.iter().find(|e| **e == top).map(|e| (i, *e)))
}

/// The module a source file defines: `src/contract/engine.rs` -> `contract::engine`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap_or(file);
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts.join("::")
}

/// Every module named after `crate::` in a line of code, `use crate::{a::b, c}` groups
/// included (the first path segment is what places it).
fn targets(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("crate::") {
        // `$crate::` in macros expands to this crate too.
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    found.push(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            // `crate::log_debug!`: exported macros live at the crate root, in no layer.
            let macro_call = rest[name.len()..].starts_with('!');
            if !name.is_empty() && !macro_call {
                found.push(name);
            }
        }
    }
    found
}

/// The upward or sideways imports of one file, as "file:line: why" lines.
fn violations(module: &str, shown: &str, text: &str) -> Vec<String> {
    let Some((layer, entry)) = place(module) else {
        return vec![format!(
            "{shown}: module `{module}` is in no layer; add it to LAYERS in tests/layering.rs \
             and to docs/architecture.md"
        )];
    };
    let mut bad = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        for target in targets(code) {
            if target == "self" || target == "super" {
                continue;
            }
            let why = match place(&target) {
                None => Some(format!("`{target}` is in no layer")),
                Some((l, e)) if l > layer => Some(format!(
                    "`{entry}` (layer {}) imports `{e}` (layer {}), which is above it",
                    layer + 1,
                    l + 1
                )),
                Some((l, e)) if l == layer && e != entry => Some(format!(
                    "`{entry}` imports its peer `{e}`; peers share only lower layers"
                )),
                _ => None,
            };
            if let Some(why) = why {
                bad.push(format!("{shown}:{}: {why}", n + 1));
            }
        }
    }
    bad
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn imports_run_downward_only() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut bad = Vec::new();
    let mut checked = 0;
    for file in &files {
        let module = module_of(&src, file);
        // The crate root and the binaries (their entries and shared start) sit above every
        // layer.
        if ["lib", "main", "process_start"].contains(&module.as_str())
            || module.starts_with("bin::")
        {
            continue;
        }
        let text = std::fs::read_to_string(file).expect("a readable source file");
        let shown = file
            .strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .unwrap_or(file);
        bad.extend(violations(&module, &shown.display().to_string(), &text));
        checked += 1;
    }
    assert!(checked > 30, "only {checked} source files found under src/");
    assert!(
        bad.is_empty(),
        "imports against the layer order:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_check_sees_upward_sideways_and_grouped_imports() {
    let upward = "use crate::contract::error::FenceError;\n";
    // Numbered as docs/architecture.md numbers them: runtime 1, contract 3.
    assert!(violations("runtime::lock", "lock.rs", upward)[0].contains("(layer 1)"));
    assert_eq!(violations("runtime::lock", "lock.rs", upward).len(), 1);
    let sideways = "    let x = crate::ipmi::wire::checksum(&b);\n";
    assert_eq!(violations("snmp::client", "client.rs", sideways).len(), 1);
    let grouped = "use crate::{runtime::clock::Clock, engine::Engine};\n";
    assert_eq!(violations("device::snmp", "snmp.rs", grouped).len(), 1);
    let fine = "use crate::runtime::log;\n// crate::cli in a comment\nuse super::x;\n";
    assert!(violations("device::snmp", "snmp.rs", fine).is_empty());
    assert_eq!(
        violations("newthing", "new.rs", fine).len(),
        1,
        "unplaced module"
    );
}

/// Definitions are loaded into a registry that owns them (issue 12): nothing in src/ is
/// leaked into 'static to live as long as the process, which a long-running service
/// that reloads its site files would pay for at every reload.
#[test]
fn nothing_is_leaked_into_static() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let leaks: Vec<String> = files
        .iter()
        .flat_map(|f| {
            let text = std::fs::read_to_string(f).expect("a readable source file");
            text.lines()
                .enumerate()
                .filter(|(_, l)| l.contains("::leak(") || l.contains(".leak()"))
                .map(|(n, l)| format!("{}:{}: {}", f.display(), n + 1, l.trim()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        leaks.is_empty(),
        "leaked allocations:\n{}",
        leaks.join("\n")
    );
}
