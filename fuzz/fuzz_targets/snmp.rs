//! Everything an SNMP agent's answer goes through before fencebox trusts it, and the row
//! patterns of site family files: the v1/v2c message (snmp2's BER parser and our owned
//! copy of it), OID arcs (which must survive our encoder and decode back the same), and
//! a row pattern with a device's suffix (a row read from a suffix must render back to
//! it). None of it may panic, loop or allocate without bound on any input.
#![no_main]

use fencebox::snmp::family::{parse_plug_form, Row, RowPattern};
use fencebox::snmp::transport::{decode_arcs, decode_message, encode, Request};
use libfuzzer_sys::fuzz_target;

/// The input as a message, and as OID content.
fn answers(data: &[u8]) {
    if let Some(reply) = decode_message(data) {
        for (oid, value) in &reply.varbinds {
            let _ = (value.text(), value.is_missing(), oid.len());
        }
    }
    let Some(arcs) = decode_arcs(data) else {
        return;
    };
    // Arcs a device sent are the ones our next request asks for: they must encode, and
    // snmp2 must read back exactly those arcs.
    if arcs.len() >= 2 {
        let asked = [arcs];
        let msg = encode(true, b"public", 1, &Request::GetNext(&asked)).expect("arcs encode");
        let back = decode_message(&msg).expect("our request decodes");
        assert_eq!(back.varbinds.len(), 1);
        assert_eq!(back.varbinds[0].0, asked[0], "arcs read back");
    }
}

/// `pattern NUL suffix`: a row pattern, and a device's suffix as OID content (or as
/// plug-form text for a form).
fn patterns(data: &[u8]) {
    let Some(nul) = data.iter().position(|b| *b == 0) else {
        return;
    };
    let (text, rest) = (String::from_utf8_lossy(&data[..nul]), &data[nul + 1..]);
    if let Ok(p) = RowPattern::parse(&text) {
        let suffix = decode_arcs(rest).unwrap_or_default();
        if let Some(row) = p.parse_suffix(&suffix) {
            assert_eq!(p.render(&row), Some(suffix.clone()), "row renders back");
        }
        let row = Row {
            switch: suffix.first().copied().unwrap_or(1),
            plug: suffix,
        };
        let _ = (p.render(&row), p.has_plug(), p.max_component());
    }
    let _ = parse_plug_form(&text, &String::from_utf8_lossy(rest));
}

fuzz_target!(|data: &[u8]| {
    answers(data);
    patterns(data);
});
