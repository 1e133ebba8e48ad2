#!/usr/bin/env python3
"""Oracle VirtualBox's command-line front end, VBoxManage, as fence_vbox drives it on a VirtualBox
host it reaches over SSH.

This is not a device shell: the host is an ordinary Linux box and the shell is a real bash. The
emulated part is the VBoxManage program itself. Install this file (or a wrapper that execs it)
under the name VBoxManage in a folder on the PATH of the SSH account; prove-misc.sh does that
with an sshd ForceCommand wrapper that puts the folder first on PATH and then runs the client's
command (fence_vbox's default ssh_options start a bash with PS1=[EXPECT]#) as sshd would.

Host mode: with EMU_HOST=1 and no arguments (a devices.conf account's ForceCommand, e.g.
"vbox vbox.py v7,EMU_HOST=1") this file is the host's shell instead: see host_shell().

Flavours (EMU_FLAVOUR): v7 (default) VirtualBox 7.0.14r161095; v6: 6.1.50r161033. They differ
only in --version and in the error "Context" lines' source line numbers.

Commands (the subset fence_vbox uses, plus what an operator checks by hand):
  VBoxManage --version                   "7.0.14r161095"
  VBoxManage list vms                    one line per registered VM: "<name>" {<uuid>}
  VBoxManage list runningvms             the same for the VMs that are running (or paused)
  VBoxManage showvminfo VM --machinereadable   name="..", UUID="..", VMState="running|poweroff|saved"
  VBoxManage startvm VM [--type headless|gui|separate]
        Waiting for VM "<vm>" to power on...
        VM "<vm>" has been successfully started.      (<vm> as given: name or UUID)
      a running VM: "VBoxManage: error: The machine '<name>' is already locked by a session (or
      being locked or unlocked)" plus Details/Context lines, exit 1
  VBoxManage controlvm VM poweroff       a progress line on stderr
        0%...10%...20%...30%...40%...50%...60%...70%...80%...90%...100%
      a VM that is not running: "VBoxManage: error: Machine '<vm>' is not currently running.", exit 1
  VM is a name or a UUID (braces allowed). An unknown VM:
        VBoxManage: error: Could not find a registered machine named '<vm>'
        VBoxManage: error: Details: code VBOX_E_OBJECT_NOT_FOUND (0x80bb0001), component
        VirtualBoxWrap, interface IVirtualBox, callee nsISupports
        VBoxManage: error: Context: "FindMachine(Bstr(pszVM).raw(), machine.asOutParam())" at line N
        of file VBoxManageMisc.cpp (startvm; controlvm: Bstr(a->argv[0]), VBoxManageControlVM.cpp), exit 1
  anything else: a short usage text on stderr and "Syntax error: Invalid command '<x>'", exit 2.
  Errors go to stderr, as VBoxManage writes them (a pty merges them for the agent).

State (EMU_STATE, emulib's locked JSON, shared by every session): {"vms": [[name, uuid, state]]},
state one of running, poweroff, saved. Initially node1 and node2 running, node3 powered off,
"win 10" (a name with a space) saved, build-agent powered off.

Sources: Oracle "VirtualBox User Manual" 7.0, chapter 8 (VBoxManage list, showvminfo, startvm,
controlvm); behaviour Debian's fence_vbox (fence-agents 4.12.1) expects: the `"name" {uuid}` lines
(regex ^\\"(.*)\\" \\{(.*)\\}$ on each stripped line), runningvms marks "on", startvm with --type
headless, controlvm ... poweroff. The message texts follow VirtualBox's VBoxManageMisc.cpp and
VBoxManageControlVM.cpp (startvm echoes the VM as it was given; "not currently running." ends in a
full stop from 6.x on); the line numbers in the Context lines are not a real build's.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
from emulib import State  # noqa: E402

VERSIONS = {"v7": ("7.0.14r161095", 2772, 727), "v6": ("6.1.50r161033", 2760, 710)}
INITIAL = {"vms": [
    ["node1", "0b5f6a0e-3d8c-4a8e-9b7e-2f7c1d9a0001", "running"],
    ["node2", "0b5f6a0e-3d8c-4a8e-9b7e-2f7c1d9a0002", "running"],
    ["node3", "0b5f6a0e-3d8c-4a8e-9b7e-2f7c1d9a0003", "poweroff"],
    ["win 10", "0b5f6a0e-3d8c-4a8e-9b7e-2f7c1d9a0004", "saved"],
    ["build-agent", "0b5f6a0e-3d8c-4a8e-9b7e-2f7c1d9a0005", "poweroff"],
]}


def err(text):
    sys.stderr.write(text)
    sys.stderr.flush()


def find(vms, ref):
    ref_uuid = ref.strip("{}").lower()
    for vm in vms:
        if vm[0] == ref or vm[1] == ref_uuid:
            return vm
    return None


def not_found(ref, where, line, expr):
    err(f"VBoxManage: error: Could not find a registered machine named '{ref}'\n"
        "VBoxManage: error: Details: code VBOX_E_OBJECT_NOT_FOUND (0x80bb0001), component "
        "VirtualBoxWrap, interface IVirtualBox, callee nsISupports\n"
        f"VBoxManage: error: Context: \"FindMachine(Bstr({expr}).raw(), machine.asOutParam())\" "
        f"at line {line} of file {where}\n")
    return 1


def usage(msg):
    err("Usage:\n\n"
        "VBoxManage [<general option>] <command>\n\n"
        "Commands:\n"
        "  list [--long|-l] [--sorted|-s] vms|runningvms|ostypes|...\n"
        "  showvminfo <uuid|vmname> [--details] [--machinereadable]\n"
        "  startvm <uuid|vmname>... [--type gui|sdl|headless|separate]\n"
        "  controlvm <uuid|vmname> pause|resume|reset|poweroff|savestate|...\n\n"
        f"Syntax error: {msg}\n")
    return 2


def main(argv):
    version, find_line, launch_line = VERSIONS.get(os.environ.get("EMU_FLAVOUR", "v7"), VERSIONS["v7"])
    state = State(INITIAL)
    if not argv:
        return usage("No command given")
    cmd, args = argv[0], argv[1:]
    if cmd in ("--version", "-v", "-version"):
        print(version)
        return 0
    if cmd == "list":
        kinds = [a for a in args if not a.startswith("-")]
        if len(kinds) != 1 or kinds[0] not in ("vms", "runningvms"):
            return usage(f"Invalid parameter '{kinds[0] if kinds else ''}'")
        vms = state.read()["vms"]
        if "-s" in args or "--sorted" in args:
            vms = sorted(vms, key=lambda v: v[0].lower())
        for name, uuid, st in vms:
            if kinds[0] == "vms" or st in ("running", "paused"):
                print(f'"{name}" {{{uuid}}}')
        return 0
    if cmd == "showvminfo":
        refs = [a for a in args if not a.startswith("-")]
        if not refs:
            return usage("Incorrect number of parameters")
        vm = find(state.read()["vms"], refs[0])
        if vm is None:
            return not_found(refs[0], "VBoxManageInfo.cpp", 2980, "VMNameOrUuid")
        if "--machinereadable" in args:
            print(f'name="{vm[0]}"\nUUID="{vm[1]}"\nVMState="{vm[2]}"')
        else:
            label = {"running": "running", "poweroff": "powered off", "saved": "saved"}[vm[2]]
            print(f"Name:                        {vm[0]}\nUUID:                        {vm[1]}\n"
                  f"State:                       {label} (since 2026-12-06T00:00:00.000000000)")
        return 0
    if cmd == "startvm":
        refs, i, vtype = [], 0, "gui"
        while i < len(args):
            if args[i] == "--type" and i + 1 < len(args):
                vtype = args[i + 1]
                i += 2
                continue
            if args[i].startswith("--type="):
                vtype = args[i].split("=", 1)[1]
            elif args[i].startswith("-"):
                return usage(f"Invalid option -- {args[i]}")
            else:
                refs.append(args[i])
            i += 1
        if not refs:
            return usage("Incorrect number of parameters")
        if vtype not in ("gui", "sdl", "headless", "separate"):
            err(f"VBoxManage: error: Invalid session type '{vtype}'\n")
            return 1
        rc = 0
        for ref in refs:
            with state.locked() as st:
                vm = find(st["vms"], ref)
                if vm is None:
                    rc = not_found(ref, "VBoxManageMisc.cpp", find_line, "pszVM")
                    continue
                if vm[2] in ("running", "paused"):
                    err(f"VBoxManage: error: The machine '{vm[0]}' is already locked by a session "
                        "(or being locked or unlocked)\n"
                        "VBoxManage: error: Details: code VBOX_E_INVALID_OBJECT_STATE (0x80bb0007), "
                        "component MachineWrap, interface IMachine, callee nsISupports\n"
                        "VBoxManage: error: Context: \"LaunchVMProcess(a->session, sessionType.raw(), "
                        "ComSafeArrayAsInParam(aBstrEnv), progress.asOutParam())\" "
                        f"at line {launch_line} of file VBoxManageMisc.cpp\n")
                    rc = 1
                    continue
                print(f'Waiting for VM "{ref}" to power on...', flush=True)
                time.sleep(0.2)
                vm[2] = "running"
                print(f'VM "{ref}" has been successfully started.', flush=True)
        return rc
    if cmd == "controlvm":
        if len(args) < 2:
            return usage("Not enough parameters")
        ref, sub = args[0], args[1]
        if sub not in ("poweroff", "pause", "resume", "reset", "savestate"):
            return usage(f"Invalid parameter '{sub}'")
        with state.locked() as st:
            vm = find(st["vms"], ref)
            if vm is None:
                return not_found(ref, "VBoxManageControlVM.cpp", 219, "a->argv[0]")
            if vm[2] not in ("running", "paused"):
                err(f"VBoxManage: error: Machine '{ref}' is not currently running.\n")
                return 1
            if sub in ("poweroff", "savestate"):
                err("0%...10%...20%...30%...40%...50%...60%...70%...80%...90%...100%\n")
                vm[2] = "poweroff" if sub == "poweroff" else "saved"
            elif sub == "pause":
                vm[2] = "paused"
            elif sub == "resume":
                vm[2] = "running"
        return 0
    return usage(f"Invalid command '{cmd}'")


def host_shell():
    """EMU_HOST=1 (as a devices.conf account's ForceCommand, no arguments): the VirtualBox host's
    login shell. A folder with VBoxManage (this file) goes first on PATH, then the client's
    command runs in bash as sshd would run it (fence_vbox's `-t '/bin/bash -c "PS1=..."'`), or
    a login bash without one."""
    here = os.path.realpath(__file__)
    bindir = os.path.join(os.path.dirname(os.environ.get("EMU_STATE", "/tmp/x")) or "/tmp", "vbox-bin")
    os.makedirs(bindir, exist_ok=True)
    tool = os.path.join(bindir, "VBoxManage")
    text = f'#!/bin/sh\nexec /usr/bin/python3 -B {here} "$@"\n'
    if not os.path.exists(tool) or open(tool).read() != text:
        with open(tool + ".new", "w") as f:
            f.write(text)
        os.chmod(tool + ".new", 0o755)
        os.replace(tool + ".new", tool)
    os.environ["PATH"] = bindir + ":/usr/local/bin:/usr/bin:/bin"
    command = os.environ.get("SSH_ORIGINAL_COMMAND")
    if command:
        os.execv("/bin/bash", ["bash", "-c", command])
    os.execv("/bin/bash", ["-bash"])


if __name__ == "__main__":
    if not sys.argv[1:] and os.environ.get("EMU_HOST") == "1":
        host_shell()
    sys.exit(main(sys.argv[1:]))
