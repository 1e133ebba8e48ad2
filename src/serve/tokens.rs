//! Bearer tokens of the API. The tokens file holds, per token, a name, a scope and the
//! nodes it may switch, and the SHA-256 of the token, never the token: a token is shown
//! once, when `fencebox token add` makes it (32 random bytes from the kernel, so a plain
//! hash is enough; there is nothing to guess that a slow hash would protect).
//!
//! A request's token is hashed and looked up; names, not tokens, go to logs and journal.

use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::fleet::hostlist::{self, Term};
use crate::fleet::inventory::Node;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Read everything.
    Read,
    /// Read everything, and switch the nodes of its `nodes` list.
    Control,
}

impl Scope {
    pub fn parse(word: &str) -> Result<Scope, String> {
        match word {
            "read" => Ok(Scope::Read),
            "control" => Ok(Scope::Control),
            other => Err(format!("scope is read or control, not '{other}'")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub name: String,
    pub scope: Scope,
    /// A host list (`all`, `@rack2`, `node[01-08]`): the nodes it may switch.
    pub nodes: String,
    /// Hex SHA-256 of the token.
    pub sha256: String,
}

/// A token that was presented and found.
#[derive(Debug, Clone)]
pub struct Holder {
    pub name: String,
    pub scope: Scope,
    terms: Vec<Term>,
}

impl Holder {
    /// Whether this token may switch `node`.
    pub fn may_switch(&self, node: &Node) -> bool {
        self.scope == Scope::Control
            && self.terms.iter().any(|t| match t {
                Term::All => true,
                Term::Group(g) => node.groups.iter().any(|x| x == g),
                Term::Names(names) => names.contains(&node.name),
            })
    }

    /// Whether this token may switch anything at all, an outlet no node names included.
    pub fn may_switch_all(&self) -> bool {
        self.scope == Scope::Control && self.terms.contains(&Term::All)
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    token: Vec<Entry>,
}

#[derive(Debug, Clone, Default)]
pub struct Tokens {
    entries: Vec<(Entry, Vec<Term>)>,
}

impl Tokens {
    /// Read the tokens file. It must not be writable by others (whoever writes it grants
    /// themselves any scope). A missing file is no tokens: the API then refuses everyone.
    pub fn load(path: &Path) -> Result<Tokens, String> {
        match read_checked(path)? {
            Some(text) => Tokens::parse(path, &text),
            None => Ok(Tokens::default()),
        }
    }

    pub fn parse(path: &Path, text: &str) -> Result<Tokens, String> {
        let file: File =
            toml::from_str(text).map_err(|e| crate::serve::config::toml_error(path, text, &e))?;
        let mut entries = Vec::new();
        for e in file.token {
            let terms = hostlist::parse(&e.nodes)
                .map_err(|m| format!("{}: token {}: nodes: {m}", path.display(), e.name))?;
            if e.sha256.len() != 64 || !e.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!(
                    "{}: token {}: sha256 is 64 hex digits",
                    path.display(),
                    e.name
                ));
            }
            entries.push((e, terms));
        }
        Ok(Tokens { entries })
    }

    /// The holder of a presented token, if it is one of ours.
    pub fn find(&self, presented: &str) -> Option<Holder> {
        self.find_digest(&digest(presented))
    }

    /// The holder of the token whose SHA-256 (hex) this is: a console session keeps the
    /// digest, never the token, and finds its holder anew at each request, so that a
    /// token removed (and reloaded) ends its sessions.
    pub fn find_digest(&self, digest: &str) -> Option<Holder> {
        self.entries
            .iter()
            .find(|(e, _)| e.sha256.eq_ignore_ascii_case(digest))
            .map(|(e, terms)| Holder {
                name: e.name.clone(),
                scope: e.scope,
                terms: terms.clone(),
            })
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The SHA-256 (hex) of a token, as the tokens file keeps it.
pub fn digest(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new token: `fbx_` and 64 hex digits of kernel randomness.
pub fn generate() -> Result<String, String> {
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).map_err(|e| format!("no randomness from the kernel: {e}"))?;
    Ok(format!("fbx_{}", hex(&raw)))
}

/// Add a token to the file (made 0600 when new) and return the token, to be shown once.
pub fn add(path: &Path, name: &str, scope: Scope, nodes: &str) -> Result<String, String> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
    {
        return Err(format!(
            "token name '{name}': letters, digits and - _ . @ only"
        ));
    }
    hostlist::parse(nodes).map_err(|e| format!("--nodes: {e}"))?;
    let mut file = read_file(path)?.unwrap_or_default();
    if file.token.iter().any(|t| t.name == name) {
        return Err(format!(
            "{}: a token named {name} exists; remove it first (fencebox token remove {name})",
            path.display()
        ));
    }
    let token = generate()?;
    file.token.push(Entry {
        name: name.to_string(),
        scope,
        nodes: nodes.to_string(),
        sha256: hex(&Sha256::digest(token.as_bytes())),
    });
    write(path, &file)?;
    Ok(token)
}

/// The file's text, once it is known that others cannot write it; None when missing.
fn read_checked(path: &Path) -> Result<Option<String>, String> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "{}: writable by others (mode {:o}); chmod go-w it",
            path.display(),
            meta.mode() & 0o777
        ));
    }
    std::fs::read_to_string(path)
        .map(Some)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The file as written (to be changed and written back), checked as `Tokens::load`
/// checks it; None when missing.
fn read_file(path: &Path) -> Result<Option<File>, String> {
    let Some(text) = read_checked(path)? else {
        return Ok(None);
    };
    Tokens::parse(path, &text)?;
    toml::from_str(&text)
        .map(Some)
        .map_err(|e| crate::serve::config::toml_error(path, &text, &e))
}

/// Remove a token by name.
pub fn remove(path: &Path, name: &str) -> Result<(), String> {
    let mut file = read_file(path)?
        .ok_or_else(|| format!("{}: no such file; no token to remove", path.display()))?;
    let before = file.token.len();
    file.token.retain(|t| t.name != name);
    if file.token.len() == before {
        return Err(format!("{}: no token named {name}", path.display()));
    }
    write(path, &file)
}

/// The file's tokens (name, scope, nodes), for `fencebox token list`.
pub fn list(path: &Path) -> Result<Vec<Entry>, String> {
    Tokens::load(path).map(|t| t.entries.into_iter().map(|(e, _)| e).collect())
}

/// Replace the file in one rename, mode 0600.
fn write(path: &Path, file: &File) -> Result<(), String> {
    let text = format!(
        "# fencebox API tokens: SHA-256 of each token, never the token (fencebox token add)\n{}",
        toml::to_string(file).map_err(|e| e.to_string())?
    );
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)
        .map_err(|e| format!("{}: {e}", tmp.display()))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, groups: &[&str]) -> Node {
        Node {
            name: name.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            feeds: vec![],
            bmc: None,
            line: 1,
        }
    }

    #[test]
    fn tokens_are_stored_as_hashes_and_found_by_them() {
        let dir = std::env::temp_dir().join(format!("fb-tokens-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tokens.toml");
        let t = add(&path, "lab", Scope::Control, "@rack1,node9").unwrap();
        let r = add(&path, "ro", Scope::Read, "all").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(&t[4..]) && !text.contains(&r[4..]), "{text}");
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o600);
        let tokens = Tokens::load(&path).unwrap();
        let h = tokens.find(&t).unwrap();
        assert_eq!(h.name, "lab");
        assert!(h.may_switch(&node("n1", &["rack1"])));
        assert!(h.may_switch(&node("node9", &[])));
        assert!(!h.may_switch(&node("n2", &["rack2"])));
        assert!(!h.may_switch_all());
        let ro = tokens.find(&r).unwrap();
        assert!(!ro.may_switch(&node("n1", &["rack1"])));
        assert!(tokens.find("fbx_0000").is_none());
        assert!(add(&path, "lab", Scope::Read, "all").is_err());
        remove(&path, "lab").unwrap();
        assert!(Tokens::load(&path).unwrap().find(&t).is_none());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(Tokens::load(&path)
            .unwrap_err()
            .contains("writable by others"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
