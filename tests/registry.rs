//! The agent registry (issue 12): loaded once per process, read from many threads, its
//! site directory read once. A long-running process (the power service) loads it once
//! and runs every call on it, so it must be shareable and must not re-read per lookup.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use fencebox::contract::agents::Registry;

/// A site family table (the shape tests/site_files.rs writes).
const SITE_FAMILY: &str = r#"
[[family]]
name = "lab"
vendor = "Example"
description = "A site family"
sysobjectid = ["1.3.6.1.4.1.99999.1"]
status = { column = "1.3.6.1.2.1.2.2.1.7", row = "{plug}" }
control = { column = "1.3.6.1.2.1.2.2.1.7", row = "{plug}" }
names = { column = "1.3.6.1.2.1.2.2.1.2" }
on = [1]
off = [2]
set_on = 1
set_off = 2
"#;

/// A fresh site directory holding the test agents and a family file, and with `note` a
/// file that is not TOML (which must affect only itself).
fn site_dir(name: &str, note: bool) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fencebox-registry-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/agents.d");
    for file in ["fence_testshell.toml", "fence_testsnmp.toml"] {
        std::fs::copy(fixtures.join(file), dir.join(file)).expect("a fixture agent file");
    }
    std::fs::write(dir.join("lab.toml"), SITE_FAMILY).expect("a family file");
    if note {
        std::fs::write(dir.join("aa-notes.toml"), "this is { not toml\n").expect("a note");
    }
    dir
}

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn a_registry_is_shared_between_threads() {
    assert_send_sync::<Registry>();
    let dir = site_dir("threads", true);
    let registry = Arc::new(Registry::load(&dir));
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let registry = Arc::clone(&registry);
            std::thread::spawn(move || {
                for _ in 0..50 {
                    let name = if i % 2 == 0 {
                        "fence_testshell"
                    } else {
                        "dummy"
                    };
                    let found = registry.find(name).expect("no error").expect("found");
                    assert!(found.def.name.ends_with(name.trim_start_matches("fence_")));
                    assert!(registry.families().names().contains(&"lab"));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a thread that did not panic");
    }
    // The listing does not leave an agent out unsaid: it names the file it cannot read.
    let err = registry.all_names().expect_err("a broken site file");
    assert!(err.contains("aa-notes.toml"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The site directory is read when first needed and not again: a registry answers from
/// what it read even after the files are gone.
#[test]
fn the_site_directory_is_read_once() {
    let dir = site_dir("once", false);
    let registry = Registry::load(&dir);
    let before = registry.all_names().expect("all names").len();
    assert!(registry.find("testshell").expect("no error").is_some());
    std::fs::remove_dir_all(&dir).expect("the site directory removed");
    for _ in 0..100 {
        assert!(registry
            .find("fence_testshell")
            .expect("no error")
            .is_some());
        assert!(registry.find("fence_testsnmp").expect("no error").is_some());
        assert_eq!(registry.all_names().expect("all names").len(), before);
        let lab = registry.families().by_name("lab").expect("no error");
        assert!(lab.is_some_and(|f| f.name == "lab"));
    }
}

/// Loading a registry many times (as a service reloading its site files would) gives the
/// same answers each time; nothing is kept from one load to the next.
#[test]
fn a_registry_loads_the_same_many_times() {
    let dir = site_dir("reload", false);
    let first: Vec<String> = Registry::load(&dir)
        .all_names()
        .expect("all names")
        .iter()
        .map(|(n, _)| n.to_string())
        .collect();
    assert!(first.iter().any(|n| n == "fence_testshell"), "{first:?}");
    assert!(first.iter().any(|n| n == "fence_dummy"), "{first:?}");
    let builtin_families = Registry::load(Path::new("/nonexistent"))
        .families()
        .all()
        .expect("built-in families")
        .len();
    for _ in 0..200 {
        let registry = Registry::load(&dir);
        let names: Vec<String> = registry
            .all_names()
            .expect("all names")
            .iter()
            .map(|(n, _)| n.to_string())
            .collect();
        assert_eq!(names, first);
        let families = registry.families().all().expect("families");
        assert_eq!(
            families.len(),
            builtin_families + 1,
            "the built-in ones and lab"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
