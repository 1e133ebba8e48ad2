//! `fencebox serve` and `fencebox token`: their arguments and answers.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Arg, Command};

use crate::fleet::command::{matches, Answer};
use crate::runtime::env::Env;
use crate::serve::config::{self, DEFAULT_CONFIG};
use crate::serve::tokens::{self, Scope};

fn config_arg() -> Arg {
    Arg::new("config")
        .long("config")
        .short('c')
        .value_name("PATH")
        .help("the service's configuration (default /etc/fencebox/serve.toml)")
}

fn serve_cli() -> Command {
    Command::new("fencebox serve")
        .about("Run the power service: the fencebox API, PDUDaemon's protocols, a job journal (docs/api.md)")
        .disable_version_flag(true)
        .arg(config_arg())
}

fn token_cli() -> Command {
    Command::new("fencebox token")
        .about("Manage the service's API tokens (only their SHA-256 is stored)")
        .disable_version_flag(true)
        .arg(
            Arg::new("action")
                .required(true)
                .value_name("ACTION")
                .help("add NAME, list, or remove NAME"),
        )
        .arg(Arg::new("name").value_name("NAME"))
        .arg(
            Arg::new("scope")
                .long("scope")
                .value_name("read|control")
                .help("add: what the token may do (default read)"),
        )
        .arg(Arg::new("nodes").long("nodes").value_name("NODES").help(
            "add: the nodes a control token may switch (node[01-08], @group, all; default all)",
        ))
        .arg(Arg::new("file").long("file").value_name("PATH").help(
            "the tokens file (default: the one serve.toml names, else /etc/fencebox/tokens.toml)",
        ))
        .arg(config_arg())
}

/// `fencebox serve`: runs until SIGTERM.
pub fn serve(args: &[OsString], env: &Env) -> Answer {
    let m = match matches(serve_cli(), args) {
        Ok(m) => m,
        Err(answer) => return answer,
    };
    let path = m
        .get_one::<String>("config")
        .map_or_else(|| PathBuf::from(DEFAULT_CONFIG), PathBuf::from);
    // Every job takes a device lock: a bad [locks] table stops the service at its start,
    // not each job later.
    if let Err(e) = &env.locks {
        return Err(format!(
            "{e} (the site settings; FENCEBOX_CONFIG names another file)"
        ));
    }
    crate::serve::run(&path, env.clone())?;
    Ok((String::new(), 0))
}

/// `fencebox token add|list|remove`.
pub fn token(args: &[OsString], _env: &Env) -> Answer {
    let m = match matches(token_cli(), args) {
        Ok(m) => m,
        Err(answer) => return answer,
    };
    let file = match m.get_one::<String>("file") {
        Some(f) => PathBuf::from(f),
        None => {
            let conf = m
                .get_one::<String>("config")
                .map_or_else(|| PathBuf::from(DEFAULT_CONFIG), PathBuf::from);
            // Without a serve.toml, the default file; a serve.toml that does not read is
            // an error (its tokens file may be another).
            if conf.exists() || m.get_one::<String>("config").is_some() {
                config::load(&conf)?.tokens
            } else {
                config::DEFAULT_TOKENS.into()
            }
        }
    };
    let name = m.get_one::<String>("name");
    match (m.get_one::<String>("action").map(String::as_str), name) {
        (Some("add"), Some(name)) => {
            let scope = Scope::parse(m.get_one::<String>("scope").map_or("read", String::as_str))?;
            let nodes = m.get_one::<String>("nodes").map_or("all", String::as_str);
            let token = tokens::add(&file, name, scope, nodes)?;
            Ok((
                format!(
                    "{token}\n# token {name} ({}), kept in {} as a hash only: this is the one time it is shown\n",
                    match scope {
                        Scope::Read => "read".to_string(),
                        Scope::Control => format!("control of {nodes}"),
                    },
                    file.display()
                ),
                0,
            ))
        }
        (Some("remove"), Some(name)) => {
            tokens::remove(&file, name)?;
            Ok((format!("token {name} removed from {}\n", file.display()), 0))
        }
        (Some("list"), None) => {
            let mut text = String::new();
            for e in tokens::list(&file)? {
                let scope = match e.scope {
                    Scope::Read => "read",
                    Scope::Control => "control",
                };
                text.push_str(&format!("{:<20} {:<8} {}\n", e.name, scope, e.nodes));
            }
            Ok((text, 0))
        }
        (Some(a), _) => Err(format!(
            "usage: fencebox token add NAME [--scope read|control] [--nodes NODES], list, or remove NAME (not '{a}')"
        )),
        (None, _) => Err("usage: fencebox token add NAME | list | remove NAME".into()),
    }
}
