//! Object identifiers as numbers: parsing, printing, templates with placeholders.

/// Parse `1.3.6.1...` or `.1.3.6.1...`.
pub fn parse_oid(s: &str) -> Option<Vec<u64>> {
    let s = s.trim().trim_start_matches('.');
    if s.is_empty() {
        return None;
    }
    s.split('.').map(|p| p.parse().ok()).collect()
}

pub fn format_oid(parts: &[u64]) -> String {
    let mut s = String::new();
    for p in parts {
        s.push('.');
        s.push_str(&p.to_string());
    }
    s
}

pub fn starts_with(oid: &[u64], prefix: &[u64]) -> bool {
    oid.len() > prefix.len() && oid[..prefix.len()] == *prefix
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        assert_eq!(
            parse_oid(".1.3.6.1.2.1.1.2.0"),
            Some(vec![1, 3, 6, 1, 2, 1, 1, 2, 0])
        );
        assert_eq!(parse_oid("1.3.6"), Some(vec![1, 3, 6]));
        assert_eq!(parse_oid("1.x"), None);
        assert_eq!(parse_oid(""), None);
        assert_eq!(format_oid(&[1, 3, 6]), ".1.3.6");
        assert!(starts_with(&[1, 3, 6, 1], &[1, 3, 6]));
        assert!(!starts_with(&[1, 3, 6], &[1, 3, 6]));
    }
}
