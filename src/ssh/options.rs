//! `ssh_options`: the free text fence-agents passes to the `ssh` binary, read into what
//! this client can honour. Only the subset users pass in practice is understood; anything
//! else is refused with one line naming it, never silently dropped (an option the user
//! relies on, such as a jump host, must not vanish).

use std::path::PathBuf;

/// How an `-o` algorithm list changes the client's default list (OpenSSH's syntax).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlgorithmList {
    /// `name,name`: exactly these.
    Replace(Vec<String>),
    /// `+name,name`: the defaults, then these.
    Append(Vec<String>),
    /// `-name,name`: the defaults without these.
    Remove(Vec<String>),
    /// `^name,name`: these first, then the defaults.
    Prepend(Vec<String>),
}

impl AlgorithmList {
    fn parse(option: &str, value: &str) -> Result<Self, OptionError> {
        let (make, rest): (fn(Vec<String>) -> Self, &str) = match value.as_bytes().first() {
            Some(b'+') => (AlgorithmList::Append, &value[1..]),
            Some(b'-') => (AlgorithmList::Remove, &value[1..]),
            Some(b'^') => (AlgorithmList::Prepend, &value[1..]),
            _ => (AlgorithmList::Replace, value),
        };
        let names: Vec<String> = rest
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect();
        if names.is_empty() {
            return Err(OptionError(format!(
                "ssh_options: {option} has no algorithm"
            )));
        }
        Ok(make(names))
    }

    /// The list to offer, given the client's default list (most preferred first).
    pub fn apply(&self, defaults: &[&str]) -> Vec<String> {
        let owned = || defaults.iter().map(|d| d.to_string());
        match self {
            AlgorithmList::Replace(v) => v.clone(),
            AlgorithmList::Append(v) => owned().chain(v.iter().cloned()).collect(),
            AlgorithmList::Remove(v) => owned().filter(|d| !v.contains(d)).collect(),
            AlgorithmList::Prepend(v) => v
                .iter()
                .cloned()
                .chain(owned().filter(|d| !v.contains(d)))
                .collect(),
        }
    }
}

/// `StrictHostKeyChecking`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKeyPolicy {
    /// `yes`: the key must already be in the known-hosts file.
    Strict,
    /// `accept-new` (and `ask`: nobody is there to ask): trust on first use, refuse a
    /// changed key. The default.
    TrustOnFirstUse,
    /// `no`/`off`: accept anything, record nothing.
    AcceptAny,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressFamily {
    V4,
    V6,
}

/// What `ssh_options` asked for; `None`/empty means "not given" (the caller's default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SshOptions {
    pub kex: Option<AlgorithmList>,
    pub host_key_algorithms: Option<AlgorithmList>,
    pub ciphers: Option<AlgorithmList>,
    pub macs: Option<AlgorithmList>,
    pub host_key_policy: Option<HostKeyPolicy>,
    pub known_hosts_file: Option<PathBuf>,
    pub identity_file: Option<PathBuf>,
    pub port: Option<u16>,
    pub family: Option<AddressFamily>,
    /// `-t`: a terminal was asked for (the shell gets one anyway).
    pub force_tty: bool,
    /// Words after the options (fence_virsh's `-t '/bin/bash -c ...'`): the command run
    /// instead of the login shell.
    pub remote_command: Option<String>,
}

/// A refused or malformed `ssh_options`, one line naming the option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionError(pub String);

impl std::fmt::Display for OptionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OptionError {}

/// Parse `ssh_options` text.
pub fn parse(text: &str) -> Result<SshOptions, OptionError> {
    let words = split_words(text)?;
    let mut opts = SshOptions::default();
    let mut i = 0;
    while i < words.len() {
        let word = words[i].as_str();
        if !word.starts_with('-') || word == "-" {
            // The rest is the remote command, as with `ssh host command...`.
            opts.remote_command = Some(words[i..].join(" "));
            break;
        }
        let (flag, attached) = word.split_at(2.min(word.len()));
        let mut value = |name: &str| -> Result<String, OptionError> {
            if !attached.is_empty() {
                return Ok(attached.to_string());
            }
            i += 1;
            words
                .get(i)
                .cloned()
                .ok_or_else(|| OptionError(format!("ssh_options: {name} needs a value")))
        };
        match flag {
            "-o" => {
                let v = value("-o")?;
                config_option(&mut opts, &v)?;
            }
            "-i" => opts.identity_file = Some(PathBuf::from(value("-i")?)),
            "-p" => opts.port = Some(port(&value("-p")?)?),
            "-F" => {
                let v = value("-F")?;
                if v != "/dev/null" {
                    return Err(OptionError(format!(
                        "ssh_options: -F {v} is not supported (no ssh_config file is read; only -F /dev/null)"
                    )));
                }
            }
            "-4" | "-6" | "-t" if !attached.is_empty() => {
                return Err(unsupported(word));
            }
            "-4" => opts.family = Some(AddressFamily::V4),
            "-6" => opts.family = Some(AddressFamily::V6),
            "-t" => opts.force_tty = true,
            _ => return Err(unsupported(word)),
        }
        i += 1;
    }
    Ok(opts)
}

fn unsupported(word: &str) -> OptionError {
    OptionError(format!(
        "ssh_options: unsupported option '{word}' (supported: -o KexAlgorithms/HostKeyAlgorithms/Ciphers/MACs/StrictHostKeyChecking/UserKnownHostsFile, -i, -p, -4, -6, -t, -F /dev/null)"
    ))
}

fn port(v: &str) -> Result<u16, OptionError> {
    v.parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| OptionError(format!("ssh_options: -p {v} is not a port number")))
}

/// One `-o Key=Value` (or `Key Value`), the key case-insensitive as in ssh_config.
fn config_option(opts: &mut SshOptions, text: &str) -> Result<(), OptionError> {
    let (key, value) = match text.split_once('=') {
        Some((k, v)) => (k.trim(), v.trim()),
        None => text
            .trim()
            .split_once(char::is_whitespace)
            .map(|(k, v)| (k, v.trim()))
            .unwrap_or((text.trim(), "")),
    };
    if value.is_empty() {
        return Err(OptionError(format!("ssh_options: -o {key} needs a value")));
    }
    match key.to_ascii_lowercase().as_str() {
        "kexalgorithms" => opts.kex = Some(AlgorithmList::parse(key, value)?),
        "hostkeyalgorithms" => opts.host_key_algorithms = Some(AlgorithmList::parse(key, value)?),
        "ciphers" => opts.ciphers = Some(AlgorithmList::parse(key, value)?),
        "macs" => opts.macs = Some(AlgorithmList::parse(key, value)?),
        "stricthostkeychecking" => opts.host_key_policy = Some(policy(value)?),
        "userknownhostsfile" => opts.known_hosts_file = Some(PathBuf::from(value)),
        _ => {
            return Err(OptionError(format!(
                "ssh_options: unsupported option '-o {key}'"
            )))
        }
    }
    Ok(())
}

fn policy(v: &str) -> Result<HostKeyPolicy, OptionError> {
    match v.to_ascii_lowercase().as_str() {
        "yes" => Ok(HostKeyPolicy::Strict),
        "accept-new" | "ask" => Ok(HostKeyPolicy::TrustOnFirstUse),
        "no" | "off" => Ok(HostKeyPolicy::AcceptAny),
        _ => Err(OptionError(format!(
            "ssh_options: StrictHostKeyChecking={v} is not yes, accept-new, ask or no"
        ))),
    }
}

/// Split like a POSIX shell does for plain words: single quotes literal, double quotes
/// with `\` escaping `"`, `\`, `$` and `` ` ``, a backslash outside quotes escaping the
/// next character. No expansion of any kind.
fn split_words(text: &str) -> Result<Vec<String>, OptionError> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err(unbalanced('\'')),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(e @ ('"' | '\\' | '$' | '`')) => cur.push(e),
                            Some(e) => {
                                cur.push('\\');
                                cur.push(e);
                            }
                            None => return Err(unbalanced('"')),
                        },
                        Some(c) => cur.push(c),
                        None => return Err(unbalanced('"')),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(e) = chars.next() {
                    cur.push(e);
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

fn unbalanced(q: char) -> OptionError {
    OptionError(format!("ssh_options: unbalanced {q} quote"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn nothing_given_is_all_defaults() {
        assert_eq!(parse("").unwrap(), SshOptions::default());
        assert_eq!(parse("  \t ").unwrap(), SshOptions::default());
    }

    #[test]
    fn algorithm_lists_in_every_form() {
        let o = parse(
            "-o KexAlgorithms=+diffie-hellman-group14-sha1 -oHostKeyAlgorithms=ssh-rsa,ssh-dss \
             -o 'Ciphers -aes128-cbc' -o MACs=^hmac-sha1",
        )
        .unwrap();
        assert_eq!(
            o.kex,
            Some(AlgorithmList::Append(list(&[
                "diffie-hellman-group14-sha1"
            ])))
        );
        assert_eq!(
            o.host_key_algorithms,
            Some(AlgorithmList::Replace(list(&["ssh-rsa", "ssh-dss"])))
        );
        assert_eq!(
            o.ciphers,
            Some(AlgorithmList::Remove(list(&["aes128-cbc"])))
        );
        assert_eq!(o.macs, Some(AlgorithmList::Prepend(list(&["hmac-sha1"]))));
    }

    #[test]
    fn algorithm_lists_apply_to_the_defaults() {
        let d = ["a", "b", "c"];
        assert_eq!(
            AlgorithmList::Append(list(&["x"])).apply(&d),
            list(&["a", "b", "c", "x"])
        );
        assert_eq!(
            AlgorithmList::Remove(list(&["b"])).apply(&d),
            list(&["a", "c"])
        );
        assert_eq!(
            AlgorithmList::Prepend(list(&["c"])).apply(&d),
            list(&["c", "a", "b"])
        );
        assert_eq!(AlgorithmList::Replace(list(&["y"])).apply(&d), list(&["y"]));
    }

    #[test]
    fn keys_are_case_insensitive() {
        let o = parse("-o stricthostkeychecking=no -o USERKNOWNHOSTSFILE=/tmp/kh").unwrap();
        assert_eq!(o.host_key_policy, Some(HostKeyPolicy::AcceptAny));
        assert_eq!(o.known_hosts_file, Some(PathBuf::from("/tmp/kh")));
    }

    #[test]
    fn host_key_policies() {
        for (v, want) in [
            ("yes", HostKeyPolicy::Strict),
            ("accept-new", HostKeyPolicy::TrustOnFirstUse),
            ("ask", HostKeyPolicy::TrustOnFirstUse),
            ("off", HostKeyPolicy::AcceptAny),
        ] {
            let o = parse(&format!("-o StrictHostKeyChecking={v}")).unwrap();
            assert_eq!(o.host_key_policy, Some(want), "{v}");
        }
        let e = parse("-o StrictHostKeyChecking=maybe").unwrap_err();
        assert!(e.0.contains("maybe"), "{e}");
    }

    #[test]
    fn identity_port_family_and_dev_null_config() {
        let o = parse("-i /root/.ssh/id_fence -p 2222 -6 -F /dev/null").unwrap();
        assert_eq!(o.identity_file, Some(PathBuf::from("/root/.ssh/id_fence")));
        assert_eq!(o.port, Some(2222));
        assert_eq!(o.family, Some(AddressFamily::V6));
        assert_eq!(parse("-p2200 -4").unwrap().port, Some(2200));
        assert_eq!(parse("-4").unwrap().family, Some(AddressFamily::V4));
    }

    #[test]
    fn fence_virsh_default_gives_a_tty_and_its_command() {
        // fence_virsh's default ssh_options, as fence-agents passes it.
        let o = parse(r#"-t '/bin/bash -c "PS1=\\[EXPECT\\]#\  /bin/bash --noprofile --norc"'"#)
            .unwrap();
        assert!(o.force_tty);
        assert_eq!(
            o.remote_command.as_deref(),
            Some(r#"/bin/bash -c "PS1=\\[EXPECT\\]#\  /bin/bash --noprofile --norc""#)
        );
    }

    #[test]
    fn options_before_the_command_still_count() {
        let o = parse("-o StrictHostKeyChecking=yes -t virsh list").unwrap();
        assert_eq!(o.host_key_policy, Some(HostKeyPolicy::Strict));
        assert_eq!(o.remote_command.as_deref(), Some("virsh list"));
    }

    #[test]
    fn anything_else_is_refused_naming_the_option() {
        for (text, named) in [
            ("-1 -c blowfish", "'-1'"),
            ("-c aes128-cbc", "'-c'"),
            ("-o ProxyJump=bastion", "'-o ProxyJump'"),
            ("-J bastion", "'-J'"),
            ("-tt", "'-tt'"),
            ("-F /etc/ssh/ssh_config", "-F /etc/ssh/ssh_config"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.0.contains(named), "{text}: {e}");
            assert!(!e.0.contains('\n'), "one line: {e}");
        }
    }

    #[test]
    fn malformed_values_are_refused() {
        assert!(parse("-p").unwrap_err().0.contains("-p needs a value"));
        assert!(parse("-p 0").unwrap_err().0.contains("not a port"));
        assert!(parse("-p 70000").unwrap_err().0.contains("not a port"));
        assert!(parse("-o Ciphers=")
            .unwrap_err()
            .0
            .contains("needs a value"));
        assert!(parse("-o Ciphers=+")
            .unwrap_err()
            .0
            .contains("no algorithm"));
        assert!(parse("-o 'KexAlgorithms=a")
            .unwrap_err()
            .0
            .contains("unbalanced"));
    }
}
