//! SNMP agents against devices in the test process (no simulator needed): an agent
//! scripted to misbehave as no real agent does on demand (tests/common/hostile_snmp.rs),
//! a socket that answers garbage, a port nothing listens on. The same in-process agent
//! answering honestly is the fake PDU of the hermetic action tests.

mod common;
use common::{Out, Sandbox};
use std::time::{Duration, Instant};

fn run(sb: &Sandbox, agent: &str, args: &[&str]) -> Out {
    sb.run_args(agent, args)
}

/// Arguments addressing a device on 127.0.0.1 with a community, then `rest`.
fn at<'a>(port: &'a str, community: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    [&["-a", "127.0.0.1", "-u", port, "-c", community][..], rest].concat()
}

#[test]
fn unreachable_and_silent_devices_fail_in_bounded_time() {
    let sb = Sandbox::new("snmp-unreachable");
    // Nothing listens: the kernel answers port unreachable.
    let closed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port().to_string();
    drop(closed);
    // Something listens and never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port().to_string();
    for port in [&closed_port, &silent_port] {
        let t = Instant::now();
        let out = run(
            &sb,
            "fence_apc_snmp",
            &[
                "-a",
                "127.0.0.1",
                "-u",
                port,
                "-c",
                "private",
                "-n",
                "1",
                "-o",
                "off",
                "--shell-timeout",
                "2",
            ],
        );
        assert_eq!(out.code, 1, "{out:?}");
        assert_eq!(out.stdout, "");
        assert!(out.stderr.contains("timed out"), "{out:?}");
        assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
    }
    drop(silent);
}

#[test]
fn garbage_on_the_udp_port_is_an_error() {
    let sb = Sandbox::new("snmp-garbage");
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = sock.local_addr().unwrap().port().to_string();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let server = std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        let replies: [&[u8]; 4] = [
            b"\x30\x03\x02\x01",
            b"garbage, not BER",
            &[0x30, 0x82, 0xff, 0xff, 0x02],
            &[0u8; 64],
        ];
        for i in 0..12 {
            match sock.recv_from(&mut buf) {
                Ok((_, from)) => {
                    let _ = sock.send_to(replies[i % replies.len()], from);
                }
                Err(_) => break,
            }
        }
    });
    let out = run(
        &sb,
        "fence_apc_snmp",
        &at(
            &port,
            "private",
            &["-n", "1", "-o", "status", "--shell-timeout", "3"],
        ),
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stdout, "");
    assert!(out.stderr.contains("malformed"), "{out:?}");
    assert!(!out.stderr.contains("panicked"), "{out:?}");
    let _ = server.join();
}

// ---- A hostile agent (tests/common/hostile_snmp.rs) -----------------------------------

use common::hostile_snmp::{self as hostile, Answer, Hostile, Mib, Req, Val};
use snmp2::MessageType;

/// fence_apc_snmp against the hostile agent over SNMP `version`.
fn against(sb: &Sandbox, agent: &Hostile, version: &str, rest: &[&str]) -> Out {
    let port = agent.port();
    let args = [
        &[
            "-a",
            "127.0.0.1",
            "-u",
            &port,
            "-c",
            "private",
            "-d",
            version,
        ][..],
        rest,
    ]
    .concat();
    run(sb, "fence_apc_snmp", &args)
}

/// The honest answer with every varbind passed through `twist`.
fn twisted(
    req: &Req,
    mib: &mut Mib,
    twist: impl Fn(&[u64], &Val) -> (Vec<u64>, Val),
) -> Option<Answer> {
    let mut a = mib.answer(req);
    a.varbinds = a.varbinds.iter().map(|(o, v)| twist(o, v)).collect();
    Some(a)
}

/// Outlet 1 is ON, outlet 2 OFF; the agent answers a GET of outlet 1's state with outlet
/// 2's varbind. Reading it as outlet 1 made `off` print "Success: Already OFF" and send
/// no SET: the outlet stayed on.
#[test]
fn an_answer_about_another_outlet_is_never_taken_for_the_one_asked() {
    let sb = Sandbox::new("snmp-wrong-oid");
    let agent = Hostile::start(Mib::apc_rpdu(&[hostile::ON, hostile::OFF]), |req, mib| {
        twisted(req, mib, |o, v| {
            if o == hostile::at(hostile::STATES, 1) {
                (hostile::at(hostile::STATES, 2), Val::Int(hostile::OFF))
            } else {
                (o.to_vec(), v.clone())
            }
        })
    });
    for version in ["1", "2c"] {
        for action in ["off", "status"] {
            let out = against(
                &sb,
                &agent,
                version,
                &["-n", "1", "--power-wait", "0", "-o", action],
            );
            assert_eq!(
                (out.code, out.stdout.as_str()),
                (1, ""),
                "v{version} {action}: {out:?}"
            );
            assert!(out.stderr.contains("when asked about"), "{out:?}");
        }
    }
    let sets = agent
        .requests()
        .iter()
        .filter(|r| r.kind == MessageType::SetRequest)
        .count();
    assert_eq!(sets, 0, "nothing is switched on a misread state");
}

/// A SET answered with the next outlet's varbind is not a confirmation of this one.
#[test]
fn a_set_answered_for_another_object_is_an_error() {
    let sb = Sandbox::new("snmp-wrong-set");
    let agent = Hostile::start(Mib::apc_rpdu(&[hostile::ON; 3]), |req, mib| {
        let set = req.kind == MessageType::SetRequest;
        twisted(req, mib, |o, v| match (set, o.split_last()) {
            (true, Some((row, column))) => (hostile::at(column, row + 1), v.clone()),
            _ => (o.to_vec(), v.clone()),
        })
    });
    for (version, plug) in [("1", "1"), ("2c", "2")] {
        let out = against(
            &sb,
            &agent,
            version,
            &["-n", plug, "--power-wait", "0", "-o", "off"],
        );
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (1, ""),
            "v{version}: {out:?}"
        );
        assert!(out.stderr.contains("when asked about"), "{out:?}");
    }
}

/// An agent whose walk of the name column goes back (row 4 answered as row 2) or repeats
/// a row (row 4 answered as row 3). Such a walk ended early with a partial list (GETBULK)
/// or silently skipped the outlet (v1 GETNEXT), exit 0 either way.
#[test]
fn a_walk_that_goes_back_or_repeats_is_an_error_not_a_short_list() {
    let sb = Sandbox::new("snmp-walk-back");
    for to in [2, 3] {
        let agent = Hostile::start(Mib::apc_rpdu(&[hostile::ON; 8]), move |req, mib| {
            twisted(req, mib, |o, v| {
                if o == hostile::at(hostile::NAMES, 4) {
                    let name = Val::Str(format!("Outlet {to}").into_bytes());
                    (hostile::at(hostile::NAMES, to), name)
                } else {
                    (o.to_vec(), v.clone())
                }
            })
        });
        for version in ["1", "2c"] {
            for action in ["list", "list-status"] {
                let out = against(&sb, &agent, version, &["-o", action]);
                let what = format!("row 4 as {to}, v{version} {action}");
                assert_eq!((out.code, out.stdout.as_str()), (1, ""), "{what}: {out:?}");
                assert!(out.stderr.contains("strictly forward"), "{what}: {out:?}");
            }
        }
    }
}

/// A name column that never ends: the walk stops at its request budget and says so,
/// instead of printing the thousands of rows it had as if they were the whole list.
#[test]
fn an_endless_walk_is_an_error_not_a_list_cut_at_the_limit() {
    let sb = Sandbox::new("snmp-walk-endless");
    let agent = Hostile::start(Mib::apc_rpdu(&[hostile::ON]), |req, mib| {
        if req.kind == MessageType::GetRequest {
            return Some(mib.answer(req));
        }
        // Row k is followed by row k + 1, forever.
        let next = |o: &Vec<u64>| -> (Vec<u64>, Val) {
            let k = if o.len() > hostile::NAMES.len() {
                o[hostile::NAMES.len()]
            } else {
                0
            };
            (
                hostile::at(hostile::NAMES, k + 1),
                Val::Str(format!("Outlet {}", k + 1).into_bytes()),
            )
        };
        let mut cursor = req.oids.clone();
        let mut varbinds = Vec::new();
        let rows = if req.kind == MessageType::GetBulkRequest {
            req.reps
        } else {
            1
        };
        for _ in 0..rows {
            for c in cursor.iter_mut() {
                let (o, v) = next(c);
                c.clone_from(&o);
                varbinds.push((o, v));
            }
        }
        Some(Answer {
            varbinds,
            ..Answer::default()
        })
    });
    for version in ["2c", "1"] {
        let t = Instant::now();
        let out = against(&sb, &agent, version, &["-o", "list"]);
        let lines = out.stdout.lines().count();
        assert_eq!((out.code, lines), (1, 0), "v{version}: {}", out.stderr);
        assert!(out.stderr.contains("had not ended"), "{}", out.stderr);
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "v{version}: {:?}",
            t.elapsed()
        );
    }
}

/// GETBULK answers whose varbinds are not row by row (the two columns of each row
/// swapped, or the rows in reverse order): list-status gave an empty or one-line list.
#[test]
fn getbulk_answers_out_of_row_order_never_give_a_list() {
    let sb = Sandbox::new("snmp-bulk-order");
    type Reorder = fn(&mut Vec<(Vec<u64>, Val)>, usize);
    let swap_columns: Reorder = |vbs, n| {
        for row in vbs.chunks_mut(n) {
            row.reverse();
        }
    };
    let reverse_rows: Reorder = |vbs, n| {
        let mut rows: Vec<Vec<_>> = vbs.chunks(n).map(|r| r.to_vec()).collect();
        rows.reverse();
        *vbs = rows.concat();
    };
    for (what, reorder) in [
        ("columns swapped", swap_columns),
        ("rows reversed", reverse_rows),
    ] {
        let agent = Hostile::start(
            Mib::apc_rpdu(&[hostile::ON, hostile::OFF, hostile::ON]),
            move |req, mib| {
                let mut a = mib.answer(req);
                if req.kind == MessageType::GetBulkRequest {
                    reorder(&mut a.varbinds, req.oids.len());
                }
                Some(a)
            },
        );
        let out = against(&sb, &agent, "2c", &["-o", "list-status"]);
        assert_eq!((out.code, out.stdout.as_str()), (1, ""), "{what}: {out:?}");
    }
}

/// A PDU that answers each request once, 1.5 s after its first try (timeout 1 s per try):
/// the answer arrives while the second try waits. Each try had its own request-id, so the
/// answer was dropped and every call failed; net-snmp keeps the request-id over retries.
#[test]
fn a_slow_pdu_is_heard_while_a_later_try_waits() {
    let sb = Sandbox::new("snmp-slow");
    let agent = Hostile::start(Mib::apc_rpdu(&[hostile::ON]), {
        let mut seen = std::collections::HashSet::new();
        move |req, mib| {
            if !seen.insert(req.id) {
                return None; // a retry: the answer to the first try is on its way
            }
            let mut a = mib.answer(req);
            a.delay = Duration::from_millis(1500);
            Some(a)
        }
    });
    for version in ["1", "2c"] {
        let out = against(&sb, &agent, version, &["-n", "1", "-o", "status"]);
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (0, "Status: ON\n"),
            "v{version}: {out:?}"
        );
    }
    // Each call is one request (the outlet's state with the sysObjectID that confirms
    // the family), tried twice with one request-id.
    let reqs = agent.requests();
    let ids: std::collections::HashSet<i32> = reqs.iter().map(|r| r.id).collect();
    assert_eq!((reqs.len(), ids.len()), (4, 2), "{reqs:?}");
}

// ---- The same agent, honest: a fake APC Rack PDU for every action ----------------------

/// The SETs the agent received, as (outlet, value), in order.
fn sets(agent: &Hostile) -> Vec<(u64, i64)> {
    agent
        .requests()
        .iter()
        .filter(|r| r.kind == MessageType::SetRequest)
        .flat_map(|r| {
            r.oids
                .iter()
                .zip(&r.set)
                .filter(|(o, _)| o.starts_with(hostile::CONTROL))
                .map(|(o, v)| (o[hostile::CONTROL.len()], v.unwrap_or(0)))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn every_action_on_a_fake_pdu_over_v1_and_v2c() {
    for version in ["1", "2c"] {
        let sb = Sandbox::new("snmp-fake-pdu");
        let pdu = Hostile::honest(&[hostile::ON, hostile::OFF, hostile::ON]);
        let port = pdu.port();
        let act = |plug: &str, action: &str| {
            let rest = ["-d", version, "-n", plug, "--power-wait", "0", "-o", action];
            run(&sb, "fence_apc_snmp", &at(&port, "private", &rest))
        };
        let expect = |out: Out, code: i32, stdout: &str, what: &str| {
            assert_eq!(
                (out.code, out.stdout.as_str()),
                (code, stdout),
                "v{version} {what}: {out:?}"
            );
        };
        expect(act("1", "status"), 0, "Status: ON\n", "status 1");
        expect(act("2", "status"), 2, "Status: OFF\n", "status 2");
        expect(act("1", "off"), 0, "Success: Powered OFF\n", "off 1");
        expect(act("1", "status"), 2, "Status: OFF\n", "status 1 after off");
        expect(act("1", "off"), 0, "Success: Already OFF\n", "off 1 again");
        expect(act("2", "on"), 0, "Success: Powered ON\n", "on 2");
        expect(act("3", "reboot"), 0, "Success: Rebooted\n", "reboot 3");
        expect(act("3", "status"), 0, "Status: ON\n", "status 3");
        // The switching the device saw: one off of 1, one on of 2, off then on of 3, and
        // nothing for the "Already OFF".
        let (on, off) = (hostile::ON, hostile::OFF);
        assert_eq!(
            sets(&pdu),
            [(1, off), (2, on), (3, off), (3, on)],
            "v{version}"
        );
        let list = act("1", "list");
        assert_eq!(list.code, 0, "v{version} list: {list:?}");
        assert_eq!(list.stdout, "1,Outlet 1\n2,Outlet 2\n3,Outlet 3\n");
        let ls = act("1", "list-status");
        assert_eq!(ls.code, 0, "v{version} list-status: {ls:?}");
        assert_eq!(ls.stdout, "1,Outlet 1,off\n2,Outlet 2,on\n3,Outlet 3,on\n");
        expect(act("1", "monitor"), 0, "", "monitor");
        expect(
            act("Outlet 2", "status"),
            0,
            "Status: ON\n",
            "status by name",
        );
        let missing = act("9", "off");
        assert_eq!(missing.code, 1, "v{version} a missing outlet: {missing:?}");
        assert_eq!(missing.stdout, "", "v{version}: {missing:?}");
    }
}

/// Like a real agent, the fake PDU drops a request with another community: the call
/// fails in bounded time, switches nothing, and neither community reaches the log.
#[test]
fn a_wrong_community_fails_switches_nothing_and_is_not_logged() {
    let sb = Sandbox::new("snmp-community");
    let pdu = Hostile::honest_for(&[hostile::ON, hostile::ON], "Right-c0mm-5a");
    let port = pdu.port();
    let rest = ["-d", "2c", "-n", "1", "-o", "off", "--verbose-level", "3"];
    let started = Instant::now();
    let out = run(&sb, "fence_apc_snmp", &at(&port, "Wrong-c0mm-9b", &rest));
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stdout, "", "{out:?}");
    assert!(!out.stderr.contains("Wrong-c0mm-9b"), "{out:?}");
    assert!(sets(&pdu).is_empty(), "nothing switched");
    let ok = run(
        &sb,
        "fence_apc_snmp",
        &at(
            &port,
            "Right-c0mm-5a",
            &["-d", "2c", "-n", "1", "-o", "status"],
        ),
    );
    assert_eq!((ok.code, ok.stdout.as_str()), (0, "Status: ON\n"), "{ok:?}");
}

/// Two site families with one sysObjectID, told apart by the model object each asks for
/// (`confirm` with `contains`): fence_pdu reads the model and takes the family whose word
/// it holds, whichever is listed first; a device holding neither matches neither.
#[test]
fn families_sharing_a_sysobjectid_are_told_apart_by_the_model_object() {
    const MODEL: [u64; 12] = [1, 3, 6, 1, 4, 1, 99999, 1, 1, 2, 0, 0];
    let model_oid = "1.3.6.1.4.1.99999.1.1.2.0";
    for (model, want) in [("LabPDU B200", Some("lab-b")), ("LabPDU C300", None)] {
        let sb = Sandbox::new("snmp-confirm");
        let family = |name: &str, word: &str| {
            format!(
                "[[family]]\nname = \"{name}\"\nvendor = \"Lab\"\ndescription = \"lab {word}\"\n\
                 sysobjectid = [\"1.3.6.1.4.1.99999.1\"]\n\
                 status = {{ column = \"1.3.6.1.4.1.318.1.1.12.3.5.1.1.4\" }}\n\
                 control = {{ column = \"1.3.6.1.4.1.318.1.1.12.3.3.1.1.4\" }}\n\
                 confirm = {{ column = \"{}\", row = \"0\", contains = [\"{word}\"] }}\n\
                 on = [1]\noff = [2]\nset_on = 1\nset_off = 2\n\n",
                model_oid.trim_end_matches(".0")
            )
        };
        std::fs::write(
            sb.path("agents.d").join("lab.toml"),
            family("lab-a", "A100") + &family("lab-b", "B200"),
        )
        .unwrap();
        let mut mib = Mib::apc_rpdu(&[hostile::ON, hostile::OFF]);
        mib.0
            .insert(MODEL[..11].to_vec(), Val::Str(model.as_bytes().to_vec()));
        mib.0.insert(
            vec![1, 3, 6, 1, 2, 1, 1, 2, 0],
            Val::Oid(vec![1, 3, 6, 1, 4, 1, 99999, 1]),
        );
        let agent = Hostile::start(mib, |req, mib| Some(mib.answer(req)));
        let port = agent.port();
        let out = run(
            &sb,
            "fence_pdu",
            &[
                "-a",
                "127.0.0.1",
                "-u",
                &port,
                "-c",
                "private",
                "-o",
                "status",
                "-n",
                "2",
                "-v",
            ],
        );
        match want {
            Some(name) => {
                assert_eq!(
                    (out.code, out.stdout.as_str()),
                    (2, "Status: OFF\n"),
                    "{out:?}"
                );
                assert!(
                    out.stderr.contains(&format!("SNMP family {name} (")),
                    "{out:?}"
                );
                assert!(
                    out.stderr.contains("SNMP family lab-a does not apply"),
                    "{out:?}"
                );
            }
            // Neither model: no family applies, and the error says which were tried.
            None => {
                assert_eq!(out.code, 1, "{out:?}");
                assert!(
                    out.stderr
                        .contains("names the families lab-a, lab-b, but the device confirms none"),
                    "{out:?}"
                );
            }
        }
    }
}
