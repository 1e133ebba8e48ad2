#!/usr/bin/env python3
"""IBM BladeCenter Advanced Management Module (AMM) command line, as fence_bladecenter meets it.

Flavours (EMU_FLAVOUR):
  amm  (default) a BladeCenter H chassis, 14 blade bays. Populated bays and the names the
       administrator gave the blades:
           blade[1]  web01   on        blade[2]  db01    on       blade[3]  app03  off
           blade[5]  test05  off       blade[7]  ci07    on
       bays 4, 6 and 8-14 are empty.

Login: over SSH, sshd has logged the user in and the AMM shows its prompt at once. Over telnet
(EMU_LOGIN=1) it asks "username: " and "password: " (not echoed); a wrong pair prints
"Login failed. Invalid user name or password." and asks again, three tries, then hangs up.

Prompt: the current environment (the command target) then "> ", e.g. "system> " and, after
"env -T system:blade[3]", "system:blade[3]> ".

Commands (options may come in any order; "-T TARGET" on any command runs it against that target
without changing the environment):
  env -T TARGET      TARGET "system", "system:blade[N]", "blade[N]" (relative to system) or
                     "system:mm[1]": prints "OK" and changes the prompt. An empty bay:
                     "The target bay is empty."; a bay out of 1-14 or an unknown target:
                     "Invalid target path"; both keep the current environment.
  power -state       "On" or "Off" (blade targets only)
  power -on | -off | -softoff | -cycle     "OK" (already in that state: "OK" too); on a
                     target that is not a blade: "Command cannot be issued to this target."
  list [-l N]        the tree of installed components under the current target, two levels
                     with "-l 2": "system", then indented "mm[1]     primary", power
                     modules, blowers, switches, "blade[N]  NAME" for each populated bay, mt[1],
                     storage[1]. Empty bays are not listed.
  help, ?            the commands;  exit   ends the session.
  anything else      "Command not recognized. Type 'help' to get a list of supported commands."

Sources (the vendor guide is named for what it documents; its wording was not re-read for this
file, while the agent's side was checked by running it, see prove-dellibm.sh):
"IBM BladeCenter Advanced Management Module Command-Line Interface Reference Guide"
(env -T and the target path syntax, power -state/-on/-off/-softoff/-cycle, list -l, the prompt
showing the target); and the behaviour Debian's fence_bladecenter (fence-agents 4.12.1) expects:
login regex "(username\\s*:\\s*)", prompts "system>" and "system:blade\\[N\\]>", the power state
taken as the last line before the blade prompt (so no blank line may follow "On"/"Off"), the
list line regex "^\\s*blade\\[(\\d+)\\]\\s+(.*?)\\s*$" over lines split at CR LF.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from emulib import Hangup, State, login, run  # noqa: E402




FLAVOUR = os.environ.get("EMU_FLAVOUR", "amm")
if FLAVOUR != "amm":
    sys.exit("bladecenter.py: unknown EMU_FLAVOUR %r" % FLAVOUR)

BAYS = 14
BLADES = {1: ("web01", "on"), 2: ("db01", "on"), 3: ("app03", "off"), 5: ("test05", "off"),
          7: ("ci07", "on")}
state = State({"blades": {str(n): p for n, (_, p) in BLADES.items()}})

NOT_RECOGNIZED = "Command not recognized. Type 'help' to get a list of supported commands."
HELP = """?        -- Display commands
env      -- Set persistent command target
exit     -- Log off
help     -- Display command list
list     -- Display installed targets
power    -- Control server power"""


def resolve(target, current):
    """A target path to a canonical one ("system", "system:blade[N]", "system:mm[1]"), or an
    error text."""
    t = target.strip()
    if not t.startswith("system") and current == "system":
        t = "system:" + t
    if t == "system":
        return t, None
    m = re.fullmatch(r"system:blade\[(\d+)\]", t)
    if m:
        bay = int(m.group(1))
        if not 1 <= bay <= BAYS:
            return None, "Invalid target path"
        if bay not in BLADES:
            return None, "The target bay is empty."
        return "system:blade[%d]" % bay, None
    if t == "system:mm[1]":
        return t, None
    return None, "Invalid target path"


def blade_of(target):
    m = re.fullmatch(r"system:blade\[(\d+)\]", target)
    return m.group(1) if m else None


def power(args, target):
    bay = blade_of(target)
    if len(args) != 1 or args[0] not in ("-state", "-on", "-off", "-softoff", "-cycle"):
        return "Syntax error. Type 'power -h' for help."
    if bay is None:
        return "Command cannot be issued to this target."
    if args[0] == "-state":
        return "On" if state.read()["blades"][bay] == "on" else "Off"
    with state.locked() as data:
        data["blades"][bay] = "off" if args[0] in ("-off", "-softoff") else "on"
    return "OK"


def list_targets(args, target):
    if args not in ([], ["-l", "1"], ["-l", "2"], ["-l", "all"], ["-l", "a"]):
        return "Syntax error. Type 'list -h' for help."
    if target != "system":
        return target.split(":")[-1]
    if args in ([], ["-l", "1"]):
        return "system"
    rows = ["system", "        mm[1]     primary"]
    rows += ["        power[%d]" % n for n in range(1, 5)]
    rows += ["        blower[%d]" % n for n in (1, 2)]
    rows += ["        switch[%d]" % n for n in (1, 2)]
    rows += ["        blade[%d]  %s" % (n, BLADES[n][0]) for n in sorted(BLADES)]
    rows += ["        mt[1]", "        storage[1]"]
    return "\n".join(rows)


def main(term):
    login(term, "username: ", "password: ", "Login failed. Invalid user name or password.\n")
    env = "system"
    while True:
        words = term.ask(env + "> ").split()
        if not words:
            continue
        cmd, args = words[0], words[1:]
        target = env
        if "-T" in args:
            i = args.index("-T")
            if i + 1 >= len(args):
                term.write("Syntax error. Type '%s -h' for help.\n" % cmd)
                continue
            target, err = resolve(args[i + 1], env)
            del args[i:i + 2]
            if err:
                term.write(err + "\n")
                continue
        if cmd == "exit":
            return
        if cmd == "env":
            if "-T" not in words:
                out = "Syntax error. Type 'env -h' for help."
            else:
                env = target
                out = "OK"
        elif cmd == "power":
            out = power(args, target)
        elif cmd == "list":
            out = list_targets(args, target)
        elif cmd in ("help", "?"):
            out = HELP
        else:
            out = NOT_RECOGNIZED
        term.write(out + "\n")


if __name__ == "__main__":
    run(main)
