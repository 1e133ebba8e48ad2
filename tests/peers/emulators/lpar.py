#!/usr/bin/env python3
"""IBM Hardware Management Console (HMC) and Integrated Virtualization Manager (IVM) restricted
shells, as fence_lpar meets them over SSH: logical partitions (LPARs) of POWER managed systems.

Flavours (EMU_FLAVOUR):
  hmc4  (default) HMC V7/V8 (the command syntax fence_lpar calls "version 4"): restricted bash,
        prompt "USER@hmc7:~> "; no co-management, so "lscomgmt" is not a command
        ("rbash: lscomgmt: command not found").
  hmc9  HMC V9R2 or later: as hmc4 (prompt "USER@hmc9:~> ") and "lscomgmt -m SYS" answers
        "controller=HMC,curr_master_mtms=7063-CR2*2119A2B,curr_master_name=hmc9,
        pending_master_mtms=none,pending_master_name=none" (the HMC is co-management master).
  hmc3  HMC version 3 (Red Hat based): bash, prompt "[USER@hmc3 USER]$ ", the v3 commands
        "lssyscfg -r lpar -m SYS -n NAME -F a,b" and "query_partition_names -m SYS".
  ivm   IVM on a VIOS partition: restricted Korn shell, prompt "$ ", the HMC v4 command syntax;
        one managed system.

Managed systems and partitions (state at start):
  Server-8286-42A-SN2178A4V   vios1 Running, aix-prod Running, rhel-db Not Activated,
                              sles-test Open Firmware, aix-dev Not Activated
  p570-lab  (not on ivm)      lab1 Running, lab2 Not Activated
A partition switched on goes "Starting" for 2 s, then "Running"; an immediate shutdown goes
"Shutting Down" for 1 s, then "Not Activated".

Login: SSH only (sshd logged the user in; no banner, just the prompt). The shell echoes what is
typed (CR, LF and CR LF end a line) and does backquote command substitution and ' / " quoting,
as bash and ksh do.

Commands:
  lssyscfg -r lpar -m SYS [--filter "lpar_names=A[,B]"] [-F attrs [--header]]
        without -F one line per partition, all attributes "name=...,lpar_id=N,lpar_env=...,
        state=...,resource_config=1,os_version=...,logical_serial_num=...,default_profile=...,
        curr_profile=...,..."; with -F the named attribute values joined by the delimiter that
        separated the names (":", ",", " "); a filter that matches nothing prints
        "No results were found."
  lssyscfg -r lpar -m SYS -n NAME -F a,b     (hmc3) the values, each followed by the delimiter
        ("aix-prod,Running,"): the layout fence_lpar's v3 regex "^NAME,(.*?),.*$" needs (we
        found no HMC 3 manual that shows it).
  lssyscfg -r sys [-F name[,state]]          the managed systems ("Operating")
  query_partition_names -m SYS   (hmc3)      two header lines, then one partition name a line
  chsysstate -r lpar -m SYS -n NAME -o on [-f PROFILE]   no output; already running:
        "The partition is already active."; hmc4/ivm without -f on a partition that was never
        activated: "A partition profile is required to activate this partition."
  chsysstate -r lpar -m SYS -n NAME -o shutdown --immed  (hmc4/hmc9/ivm) no output
  chsysstate -r lpar -m SYS -n NAME -o off     (hmc3) no output
  lscomgmt -m SYS (hmc9), lshmc -V, echo, exit / logout (quit is no command of these shells)
Errors (wording approximate): an unknown managed system "The managed system SYS was not
found.", an unknown partition with -n "The partition NAME was not found.", a missing option
"An option is missing: -m", an unknown command "rbash: WORD: command not found" (ivm:
"rksh: WORD: not found", hmc3: "bash: WORD: command not found").

Sources (the chsysstate page and the PowerCampus article were read; the other manual pages are
named for what they document; the agent's side was checked by running it, see prove-dellibm.sh):
IBM "Hardware Management Console (HMC) Manual Reference Pages": lssyscfg, chsysstate,
lscomgmt, lshmc (V7R3 to V9R2); the "-F names with a delimiter" rule and the
"current configuration" activation as described in those pages and in the PowerCampus articles
on the HMC command line; and the behaviour Debian's fence_lpar (fence-agents 4.12.1) expects:
prompts ":~>", "]\\$", "\\$ "; the echoed command line skipped with readline(); the status regexes
",state=(.*?)," (v4/IVM) and "^NAME,(.*?),.*$" (v3); the list split into "name<sep>state".
"""
import os
import re
import shlex
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from emulib import Hangup, State, login, run  # noqa: E402




FLAVOUR = os.environ.get("EMU_FLAVOUR", "hmc4")
if FLAVOUR not in ("hmc4", "hmc9", "hmc3", "ivm"):
    sys.exit("lpar.py: unknown EMU_FLAVOUR %r" % FLAVOUR)

MS1 = "Server-8286-42A-SN2178A4V"
MS2 = "p570-lab"
# name: (lpar_id, lpar_env, initial state, profile, os_version, activated before)
PARTITIONS = {
    MS1: {
        "vios1": (1, "vioserver", "Running", "default", "VIOS 3.1.4.10", True),
        "aix-prod": (2, "aixlinux", "Running", "normal", "AIX 7.2 7200-05-06-2320", True),
        "rhel-db": (3, "aixlinux", "Not Activated", "normal", "Linux/Red Hat 4.18.0 9.2", True),
        "sles-test": (4, "aixlinux", "Open Firmware", "default", "Unknown", True),
        "aix-dev": (5, "aixlinux", "Not Activated", "default", "Unknown", False),
    },
    MS2: {
        "lab1": (1, "aixlinux", "Running", "default", "AIX 7.3 7300-01-02-2320", True),
        "lab2": (2, "aixlinux", "Not Activated", "default", "Unknown", True),
    },
}
if FLAVOUR == "ivm":
    del PARTITIONS[MS2]

state = State({"lpars": {ms: {n: {"state": p[2], "since": 0, "activated": p[5]}
                              for n, p in parts.items()} for ms, parts in PARTITIONS.items()}})

STARTING_S = 2.0
SHUTTING_DOWN_S = 1.0


def settle(entry):
    """Move a partition through the timed transitions."""
    age = time.time() - entry["since"]
    if entry["state"] == "Starting" and age >= STARTING_S:
        entry["state"] = "Running"
    elif entry["state"] == "Shutting Down" and age >= SHUTTING_DOWN_S:
        entry["state"] = "Not Activated"
    return entry["state"]


def current_states(ms):
    with state.locked() as data:
        return {n: settle(e) for n, e in data["lpars"][ms].items()}


class Failure(Exception):
    pass


def attributes(ms, name, st):
    lpar_id, env, _, profile, os_version, _ = PARTITIONS[ms][name]
    serial = ms.rsplit("SN", 1)[-1] if "SN" in ms else "10A2B3C"
    return [("name", name), ("lpar_id", str(lpar_id)), ("lpar_env", env), ("state", st),
            ("resource_config", "1"), ("os_version", os_version),
            ("logical_serial_num", serial + str(lpar_id)), ("default_profile", profile),
            ("curr_profile", profile), ("work_group_id", "none"),
            ("shared_proc_pool_util_auth", "0"), ("allow_perf_collection", "0"),
            ("power_ctrl_lpar_ids", "none"), ("boot_mode", "norm"), ("lpar_keylock", "norm"),
            ("auto_start", "0"), ("redundant_err_path_reporting", "0"),
            ("rmc_state", "active" if st == "Running" else "inactive"),
            ("rmc_ipaddr", "10.20.0.%d" % (10 + lpar_id) if st == "Running" else ""),
            ("time_ref", "0"), ("lpar_avail_priority", "127"), ("desired_lpar_proc_compat_mode", "default"),
            ("curr_lpar_proc_compat_mode", "POWER8" if st == "Running" else "default")]


def quote_value(value, delimiter):
    """A value that holds the delimiter is quoted."""
    return '"%s"' % value if delimiter in value else value


def parse_opts(args, flags=("--immed", "--header", "--force")):
    opts, i = {}, 0
    while i < len(args):
        a = args[i]
        if a in flags:
            opts[a] = True
            i += 1
        elif a == "-F" and i + 1 < len(args):
            # the attribute names may also come as separate words (a space-delimited list)
            j = i + 1
            while j < len(args) and not args[j].startswith("-"):
                j += 1
            opts[a] = " ".join(args[i + 1:j])
            i = j
        elif a.startswith("-") and i + 1 < len(args):
            opts[a] = args[i + 1]
            i += 2
        else:
            raise Failure("An invalid parameter was entered: %s" % a)
    return opts


def need(opts, *names):
    for n in names:
        if n not in opts:
            raise Failure("An option is missing: %s" % n)


def managed(opts):
    need(opts, "-m")
    if opts["-m"] not in PARTITIONS:
        raise Failure("The managed system %s was not found." % opts["-m"])
    return opts["-m"]


def format_fields(pairs, spec, trailing=False):
    m = re.search(r"[^A-Za-z0-9_]", spec)
    delimiter = m.group(0) if m else ","
    names = spec.split(delimiter) if m else [spec]
    values = dict(pairs)
    out = []
    for n in names:
        if n not in values:
            raise Failure("The attribute %s is not valid for this resource type." % n)
        out.append(quote_value(values[n], delimiter))
    return delimiter.join(out) + (delimiter if trailing else ""), delimiter, names


def lssyscfg(args):
    opts = parse_opts(args)
    need(opts, "-r")
    if opts["-r"] == "sys":
        rows = []
        for ms in PARTITIONS:
            pairs = [("name", ms), ("type_model", "8286-42A" if ms == MS1 else "9117-MMA"),
                     ("serial_num", "2178A4V" if ms == MS1 else "10A2B3C"), ("state", "Operating")]
            rows.append(format_fields(pairs, opts["-F"])[0] if "-F" in opts
                        else ",".join("%s=%s" % p for p in pairs))
        return "\n".join(rows)
    if opts["-r"] != "lpar":
        raise Failure("The resource type %s is not valid." % opts["-r"])
    ms = managed(opts)
    states = current_states(ms)
    names = list(PARTITIONS[ms])
    if "-n" in opts:
        if FLAVOUR != "hmc3":
            raise Failure("An invalid parameter was entered: -n")
        if opts["-n"] not in PARTITIONS[ms]:
            raise Failure("The partition %s was not found." % opts["-n"])
        names = [opts["-n"]]
    if "--filter" in opts:
        m = re.fullmatch(r'"?lpar_names=(.*?)"?', opts["--filter"])
        if not m:
            raise Failure("The format of the filter is not valid: %s" % opts["--filter"])
        wanted = m.group(1).split(",")
        names = [n for n in names if n in wanted]
        if not names:
            return "No results were found."
    rows = []
    header = None
    for n in names:
        pairs = attributes(ms, n, states[n])
        if "-F" in opts:
            line, delimiter, fields = format_fields(pairs, opts["-F"], trailing=FLAVOUR == "hmc3")
            header = delimiter.join(fields)
            rows.append(line)
        else:
            rows.append(",".join("%s=%s" % (k, '"%s"' % v if "," in v else v) for k, v in pairs))
    if "--header" in opts and header:
        rows.insert(0, header)
    return "\n".join(rows)


def chsysstate(args):
    opts = parse_opts(args)
    need(opts, "-r", "-o")
    if opts["-r"] != "lpar":
        raise Failure("This emulator switches partitions only (-r lpar).")
    ms = managed(opts)
    need(opts, "-n")
    name = opts["-n"]
    if name not in PARTITIONS[ms]:
        raise Failure("The partition %s was not found." % name)
    op = opts["-o"]
    with state.locked() as data:
        entry = data["lpars"][ms][name]
        st = settle(entry)
        if op == "on":
            if st != "Not Activated":
                raise Failure("The partition is already active.")
            if "-f" in opts:
                if opts["-f"] not in ("default", "normal", PARTITIONS[ms][name][3]):
                    raise Failure("The partition profile %s was not found." % opts["-f"])
            elif FLAVOUR != "hmc3" and not entry["activated"]:
                raise Failure("A partition profile is required to activate this partition.")
            entry.update(state="Starting", since=time.time(), activated=True)
        elif (op == "shutdown" and "--immed" in opts and FLAVOUR != "hmc3") or \
                (op == "off" and FLAVOUR == "hmc3"):
            if st != "Not Activated":
                entry.update(state="Shutting Down", since=time.time())
        elif op in ("shutdown", "osshutdown"):
            if st != "Not Activated":
                entry.update(state="Shutting Down", since=time.time())
        else:
            raise Failure("The operation %s is not valid for a partition." % op)
    return ""


def query_partition_names(args):
    ms = managed(parse_opts(args))
    return "\n".join(["Partition names on managed system %s:" % ms, "-" * 40] + list(PARTITIONS[ms]))


def lscomgmt(args):
    managed(parse_opts(args))
    return ("controller=HMC,curr_master_mtms=7063-CR2*2119A2B,curr_master_name=hmc9,"
            "pending_master_mtms=none,pending_master_name=none")


def lshmc(args):
    if args != ["-V"]:
        raise Failure("An invalid parameter was entered.")
    return {"hmc4": '"version= Version: 8\n Release: 8.7.0\n Service Pack: 0\nHMC Build level 20170712.1\n","base_version=V8R8.7.0\n"',
            "hmc9": '"version= Version: 9\n Release: 2\n Service Pack: 950\nHMC Build level 2208230232\n","base_version=V9R2\n"',
            "hmc3": "Version: 3\nRelease: 3.7",
            "ivm": "ioslevel 3.1.4.10"}[FLAVOUR]


COMMANDS = {"lssyscfg": lssyscfg, "chsysstate": chsysstate, "lshmc": lshmc,
            "echo": lambda args: " ".join(args)}
if FLAVOUR == "hmc3":
    COMMANDS["query_partition_names"] = query_partition_names
    del COMMANDS["lshmc"]
if FLAVOUR == "hmc9":
    COMMANDS["lscomgmt"] = lscomgmt


def not_found(word):
    if FLAVOUR == "ivm":
        return "rksh: %s: not found" % word
    if FLAVOUR == "hmc3":
        return "bash: %s: command not found" % word
    return "rbash: %s: command not found" % word


def execute(line):
    """One command line: backquotes substituted, then split as the shell would."""
    def substitute(m):
        return " ".join(execute(m.group(1)).split())
    line = re.sub(r"`([^`]*)`", substitute, line)
    try:
        words = shlex.split(line)
    except ValueError:
        return "%s: syntax error: unexpected end of file" % ("rksh" if FLAVOUR == "ivm" else "rbash")
    if not words:
        return ""
    fn = COMMANDS.get(words[0])
    if fn is None:
        return not_found(words[0])
    try:
        return fn(words[1:])
    except Failure as e:
        return str(e)


def main(term):
    user = login(term, "login: ", "Password: ", "Login incorrect\n")
    host = {"hmc4": "hmc7", "hmc9": "hmc9", "hmc3": "hmc3"}.get(FLAVOUR)
    if FLAVOUR == "hmc3":
        prompt = "[%s@%s %s]$ " % (user, host, user)
    elif FLAVOUR == "ivm":
        prompt = "$ "
    else:
        prompt = "%s@%s:~> " % (user, host)
    while True:
        line = term.ask(prompt)
        words = line.split()
        if words and words[0] in ("exit", "logout"):
            return
        out = execute(line)
        if out:
            term.write(out + "\n")


if __name__ == "__main__":
    run(main)
