//! What `fencebox discover` scans: addresses, ranges (`10.0.0.10-10.0.0.99`, or
//! `10.0.0.10-99`), CIDR blocks (`10.0.0.0/24`: its hosts), host names and IPv6
//! addresses, each given once, in the order given.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};

use ipnet::IpNet;

/// The most addresses one scan takes (a /16): more is almost certainly a typo.
pub const MAX_TARGETS: usize = 65_536;

/// Every address the targets name, without repeats, in order.
pub fn parse(targets: &[String]) -> Result<Vec<IpAddr>, String> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for t in targets.iter().flat_map(|t| t.split(',')) {
        let t = t.trim();
        if t.is_empty() {
            continue;
        }
        for a in one(t)? {
            if seen.insert(a) {
                out.push(a);
            }
            if out.len() > MAX_TARGETS {
                return Err(format!(
                    "more than {MAX_TARGETS} addresses to scan; scan a /16 or less at a time"
                ));
            }
        }
    }
    if out.is_empty() {
        return Err("no address to scan; give addresses, ranges (10.0.0.10-10.0.0.99) or networks (10.0.0.0/24)".into());
    }
    Ok(out)
}

fn one(t: &str) -> Result<Vec<IpAddr>, String> {
    if let Ok(a) = t.parse::<IpAddr>() {
        return Ok(vec![a]);
    }
    if t.contains('/') {
        let net: IpNet = t
            .parse()
            .map_err(|_| format!("'{t}' is not a network (10.0.0.0/24, 2001:db8::/120)"))?;
        let size_bits = u32::from(net.max_prefix_len() - net.prefix_len());
        if size_bits > 16 {
            return Err(format!(
                "{t} holds more than {MAX_TARGETS} addresses; scan a /16 or less at a time"
            ));
        }
        // The hosts: an IPv4 network's own and broadcast addresses are left out (but for
        // a /31 and /32, which have none).
        return Ok(net.hosts().collect());
    }
    if let Some((from, to)) = t.split_once('-') {
        if let Ok(from) = from.trim().parse::<IpAddr>() {
            return range(t, from, to.trim());
        }
    }
    // A host name: every address it resolves to.
    let addrs: Vec<IpAddr> = (t, 0)
        .to_socket_addrs()
        .map_err(|e| {
            format!("'{t}' is neither an address, a range, a network nor a host name that resolves ({e})")
        })?
        .map(|s| s.ip())
        .collect();
    Ok(addrs)
}

/// `from-to`: `to` a whole address, or (IPv4) just the last number.
fn range(t: &str, from: IpAddr, to: &str) -> Result<Vec<IpAddr>, String> {
    let bad = || format!("'{t}' is not a range (10.0.0.10-10.0.0.99, or 10.0.0.10-99)");
    let to: IpAddr = match (from, to.parse::<IpAddr>()) {
        (_, Ok(a)) => a,
        (IpAddr::V4(f), Err(_)) => {
            let last: u8 = to.parse().map_err(|_| bad())?;
            let [a, b, c, _] = f.octets();
            IpAddr::V4(Ipv4Addr::new(a, b, c, last))
        }
        (IpAddr::V6(_), Err(_)) => return Err(bad()),
    };
    let (lo, hi) = match (from, to) {
        (IpAddr::V4(f), IpAddr::V4(t)) => (u128::from(u32::from(f)), u128::from(u32::from(t))),
        (IpAddr::V6(f), IpAddr::V6(t)) => (u128::from(f), u128::from(t)),
        _ => return Err(format!("'{t}' mixes IPv4 and IPv6")),
    };
    if hi < lo {
        return Err(format!("'{t}' ends before it starts"));
    }
    if hi - lo >= MAX_TARGETS as u128 {
        return Err(format!(
            "{t} holds more than {MAX_TARGETS} addresses; scan a /16 or less at a time"
        ));
    }
    Ok((lo..=hi)
        .map(|n| match from {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(u32::try_from(n).unwrap_or(0))),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(n)),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(t: &[&str]) -> Result<Vec<String>, String> {
        parse(&t.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .map(|v| v.iter().map(IpAddr::to_string).collect())
    }

    #[test]
    fn addresses_ranges_and_networks() {
        assert_eq!(p(&["10.0.0.1"]).unwrap(), ["10.0.0.1"]);
        assert_eq!(
            p(&["10.0.0.254-10.0.1.1"]).unwrap(),
            ["10.0.0.254", "10.0.0.255", "10.0.1.0", "10.0.1.1"]
        );
        assert_eq!(
            p(&["10.0.0.3-5"]).unwrap(),
            ["10.0.0.3", "10.0.0.4", "10.0.0.5"]
        );
        assert_eq!(
            p(&["192.0.2.0/30"]).unwrap(),
            ["192.0.2.1", "192.0.2.2"],
            "a network's hosts, without its network and broadcast addresses"
        );
        assert_eq!(p(&["192.0.2.0/24"]).unwrap().len(), 254);
        assert_eq!(p(&["2001:db8::1-2001:db8::3"]).unwrap().len(), 3);
        assert_eq!(p(&["::1"]).unwrap(), ["::1"]);
        assert_eq!(
            p(&["10.0.0.1,10.0.0.1", "10.0.0.2"]).unwrap(),
            ["10.0.0.1", "10.0.0.2"],
            "each address once"
        );
        assert!(
            !p(&["localhost"]).unwrap().is_empty(),
            "a host name resolves"
        );
    }

    #[test]
    fn bad_targets_say_what_is_wrong() {
        assert!(p(&["10.0.0.5-3"])
            .unwrap_err()
            .contains("ends before it starts"));
        assert!(p(&["10.0.0.0/8"]).unwrap_err().contains("more than 65536"));
        assert!(p(&["10.0.0.0/33"]).unwrap_err().contains("not a network"));
        assert!(p(&["10.0.0.1-::2"]).unwrap_err().contains("mixes"));
        assert!(p(&[""]).unwrap_err().contains("no address"));
        assert!(p(&["no-such-host.invalid"])
            .unwrap_err()
            .contains("neither"));
    }
}
