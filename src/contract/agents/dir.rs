//! Listing the `.toml` files of a directory, in name order. build.rs (for the built-in
//! files under agents/) and the binary (for the site directory) both use it, build.rs
//! through a `#[path]` module, so it depends on nothing but std.

use std::path::{Path, PathBuf};

/// The `.toml` files of `dir`, sorted by name.
pub fn toml_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    Ok(files)
}
