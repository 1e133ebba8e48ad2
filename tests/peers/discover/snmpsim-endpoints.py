"""snmpsim's command responder, answering per listening endpoint (run with snmpsim's venv).

snmpsim documents data files per transport endpoint (DATA/<community>/<transport ID>.snmprec,
transport ID 1.3.6.1.6.1.1.<k> for the k-th --agent-udpv4-endpoint, from 0), but in
snmpsim 1.2.2 on pysnmp 7 that selection never runs: its responder classes override
pysnmp's old handleMgmtOperation, which pysnmp 7 renamed handle_management_operation, so
every endpoint serves DATA/<community>.snmprec. This puts a selection under the new name:

  a v1/v2c request with community C (or a v3 one with context name C) arriving on
  transport ID T is answered from DATA/C/T.snmprec; if there is no such file it is
  dropped, unanswered, as a device that does not know the community would.

DATA/C.snmprec must still exist (snmpsim accepts a community only if a data file has its
name) but is never served. Arguments are snmpsim-command-responder's.
"""
import hashlib
import os
import sys

from pysnmp import error as pysnmp_error
from pysnmp.entity.rfc3413 import cmdrsp
from snmpsim.commands import responder

data_dirs = [a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--data-dir=")]
# snmpsim maps a community C to the context name md5(C); back to C for the data file's name
COMMUNITY = {}
for d in data_dirs:
    for name in os.listdir(d):
        if os.path.isdir(os.path.join(d, name)):
            COMMUNITY[hashlib.md5(name.encode()).hexdigest()] = name


def endpoint_context(responder_app, snmp_engine):
    """The registered context name of this request's data file, or None."""
    ex = snmp_engine.observer.get_execution_context("rfc3412.receiveMessage:request")
    transport_id = ".".join(str(x) for x in ex["transportDomain"])
    context = bytes(ex["contextName"]).decode("utf-8", "replace")
    community = COMMUNITY.get(context, context)
    # snmpsim registers data file DIR/C/T.snmprec under md5("C/T")
    name = hashlib.md5(("%s/%s" % (community, transport_id)).encode()).hexdigest()
    try:
        responder_app.snmpContext.get_mib_instrum(name)
    except pysnmp_error.PySnmpError:
        return None
    return name


def per_endpoint(base):
    def handle_management_operation(self, snmpEngine, stateReference, contextName, PDU):
        name = endpoint_context(self, snmpEngine)
        if name is None:
            self.release_state_information(stateReference)
            return
        base.handle_management_operation(self, snmpEngine, stateReference, name, PDU)

    return handle_management_operation


for ours, base in ((responder.GetCommandResponder, cmdrsp.GetCommandResponder),
                   (responder.NextCommandResponder, cmdrsp.NextCommandResponder),
                   (responder.BulkCommandResponder, cmdrsp.BulkCommandResponder),
                   (responder.SetCommandResponder, cmdrsp.SetCommandResponder)):
    assert issubclass(ours, base) and hasattr(base, "handle_management_operation"), \
        "snmpsim/pysnmp changed: %s" % ours
    ours.handle_management_operation = per_endpoint(base)

if __name__ == "__main__":
    sys.argv[0] = "snmpsim-command-responder"
    sys.exit(responder.main())
