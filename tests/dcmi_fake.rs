//! DCMI Get Power Reading through a real fencebox IPMI session (IPMI 2.0 and 1.5)
//! against the in-process fake BMC (tests/fakes/bmc.rs): a BMC with DCMI reports its
//! reading, a BMC without it (completion code 0xC1) is "no reading", not an error.
//! ipmi_sim has no DCMI handler, so the interop tier cannot cover this.

#[path = "fakes/bmc.rs"]
mod fake_bmc;

use std::net::SocketAddr;
use std::time::Duration;

use fake_bmc::{BmcConfig, FakeBmc};
use fencebox::ipmi::crypto::Secret;
use fencebox::ipmi::dcmi::{self, PowerReading};
use fencebox::ipmi::link::Link;
use fencebox::ipmi::session::Session;
use fencebox::ipmi::{lan15, lanplus, Config, IpmiError, Privilege};
use fencebox::runtime::clock::RealClock;

/// A session to `bmc` as its default user, at operator level.
fn session(bmc: &FakeBmc, lanplus: bool) -> Session {
    let cfg = Config {
        user: "admin".into(),
        password: Secret::from(b"password".to_vec()),
        kg: None,
        privilege: Privilege::Operator,
        lanplus,
        cipher: None,
        auth: None,
        timeout: Duration::from_millis(500),
        tries: 3,
        target: None,
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], bmc.port()));
    let link = Link::open(addr, cfg.timeout, cfg.tries, RealClock::shared_now())
        .expect("open a link to the fake BMC");
    let s = if lanplus {
        lanplus::connect(link, &cfg)
    } else {
        lan15::connect(link, &cfg)
    };
    s.expect("a session with the fake BMC")
}

fn reading(cfg: BmcConfig, lanplus: bool) -> Result<Option<PowerReading>, IpmiError> {
    let bmc = FakeBmc::start(cfg);
    let mut s = session(&bmc, lanplus);
    let r = dcmi::power_reading(&mut s);
    s.close();
    r
}

#[test]
fn a_dcmi_bmc_reports_its_power() {
    for lanplus in [true, false] {
        let r = reading(
            BmcConfig {
                dcmi_watts: Some(350),
                ..Default::default()
            },
            lanplus,
        )
        .unwrap_or_else(|e| panic!("lanplus {lanplus}: {e}"))
        .unwrap_or_else(|| panic!("lanplus {lanplus}: no reading"));
        assert_eq!(
            (
                r.current_watts,
                r.minimum_watts,
                r.maximum_watts,
                r.average_watts,
                r.period_ms
            ),
            (350, 175, 700, 350, 1000),
            "lanplus {lanplus}: {r:?}"
        );
        assert!(r.timestamp > 0, "lanplus {lanplus}: {r:?}");
    }
}

#[test]
fn a_bmc_without_dcmi_has_no_reading() {
    for lanplus in [true, false] {
        let r = reading(BmcConfig::default(), lanplus);
        assert_eq!(r, Ok(None), "lanplus {lanplus}");
    }
}
