"""An HP iLO-like SMASH CLP shell for fakenos-serve.py: the `</>hpiLO-> ` prompt and the
few commands Debian's fence_ilo_ssh types (SMCLP, show /system1, start /system1, power
off hard, reset /system1 hard, exit). Not a model of iLO; it is here so that the SSH
transport meets a server that is not OpenSSH (paramiko, with its own key exchange,
channel and pty handling). One power state per server process, on at start.

The answer to `show /system1` is kept under 100 bytes on purpose: Debian's agents read the
session 100 bytes at a time (fencing.py, read_nonblocking(size=100)) and fence_ilo_ssh
takes whatever follows "EnabledState=" in the buffer, so a line cut at that boundary reads
"EnabledState=Enable" and the agent says OFF (with a longer answer, 11 of 15 status runs
did). fakenos writes the answer one line at a time, each as it comes.
"""
POWER = {"on": True}
DONE = "status=0\nstatus_tag=COMMAND COMPLETED\n"


def show(device, **_):
    state = "Enabled" if POWER["on"] else "Disabled"
    return DONE + "/system1\n  EnabledState=%s" % state


def switch(on):
    def run(device, **_):
        POWER["on"] = on
        return DONE + "\nServer powering %s ......." % ("on" if on else "off")
    return run


def reset(device, **_):
    POWER["on"] = True
    return DONE + "\nServer resetting ......."


NOS = {
    "name": "fencebox_ilo_clp",
    "initial_prompt": "</>hpiLO-> ",
    "commands": {
        "SMCLP": {"output": "", "help": "switch to the CLP (already there)"},
        "show /system1": {"output": show, "help": "power state (EnabledState)"},
        "start /system1": {"output": switch(True), "help": "power on"},
        "power off hard": {"output": switch(False), "help": "power off at once"},
        "stop /system1": {"output": switch(False), "help": "power off"},
        "reset /system1 hard": {"output": reset, "help": "power cycle"},
        "exit": {"output": True, "help": "end the session"},
    },
}
INTRO = "User:fencebox logged-in to ILOFB0001(127.0.0.1 / FE80::1)\niLO 4 Standard 2.82 at  Feb 06 2023\nServer Name: fencebox-test\nServer Power: On\n"
