//! Host lists: the node expressions of `fencebox power` (`node[01-16]`, `rack2-n[1-4,7]`,
//! `@rack2`, `all`, and commas between them). Expanded against the inventory, never
//! guessed: a name the inventory does not know is an error, so a typo cannot end as a
//! command that silently did nothing.

use std::collections::BTreeSet;

/// The most names one range may produce; `node[1-99999999]` is a mistake, not a fleet.
const MAX_EXPANSION: usize = 100_000;

/// One expression of the list, before it is matched against the inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    /// Every node of the inventory.
    All,
    /// Every node of a group.
    Group(String),
    /// Node names (a name, or a pattern's expansion).
    Names(Vec<String>),
}

/// Split a host list into its terms, expanding brackets. Errors say what is wrong with
/// which part.
pub fn parse(text: &str) -> Result<Vec<Term>, String> {
    let mut terms = Vec::new();
    let mut total = 0usize;
    for part in split_top(text)? {
        let part = part.trim();
        if part.is_empty() {
            return Err(format!(
                "'{text}' has an empty name (two commas in a row, or one at an end)"
            ));
        }
        terms.push(if part == "all" {
            Term::All
        } else if let Some(group) = part.strip_prefix('@') {
            if group.is_empty() || !group.chars().all(name_char) {
                return Err(format!(
                    "'{part}' is not a group: write @ and the group's name"
                ));
            }
            Term::Group(group.to_string())
        } else {
            let names = expand(part)?;
            total += names.len();
            if total > MAX_EXPANSION {
                return Err(format!(
                    "'{text}' stands for more than {MAX_EXPANSION} names; narrow the ranges"
                ));
            }
            Term::Names(names)
        });
    }
    if terms.is_empty() {
        return Err("no nodes named; give names (node[01-16]), @group or all".into());
    }
    Ok(terms)
}

fn name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// Split on commas outside brackets.
pub fn split_top(text: &str) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in text.char_indices() {
        match c {
            '[' if depth == 0 => depth = 1,
            '[' => return Err(format!("'{text}' has a bracket inside a bracket")),
            ']' if depth == 1 => depth = 0,
            ']' => return Err(format!("'{text}' closes a bracket it did not open")),
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(format!("'{text}' opens a bracket it does not close"));
    }
    parts.push(&text[start..]);
    Ok(parts)
}

/// Every name one pattern stands for, in order: `rack[1-2]-n[1,3]` gives rack1-n1,
/// rack1-n3, rack2-n1, rack2-n3.
fn expand(pattern: &str) -> Result<Vec<String>, String> {
    let mut names = vec![String::new()];
    let mut rest = pattern;
    while !rest.is_empty() {
        let (literal, after) = match rest.find('[') {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        if let Some(bad) = literal.chars().find(|c| !name_char(*c)) {
            return Err(format!(
                "'{pattern}' has '{bad}', which no node name has (names are letters, digits, -, _ and .)"
            ));
        }
        for n in &mut names {
            n.push_str(literal);
        }
        let Some(after) = after else { break };
        let close = after
            .find(']')
            .ok_or_else(|| format!("'{pattern}' opens a bracket it does not close"))?;
        let values = range_values(pattern, &after[..close])?;
        if names.len().saturating_mul(values.len()) > MAX_EXPANSION {
            return Err(format!(
                "'{pattern}' stands for more than {MAX_EXPANSION} names; narrow the ranges"
            ));
        }
        let mut next = Vec::with_capacity(names.len() * values.len());
        for n in &names {
            for v in &values {
                next.push(format!("{n}{v}"));
            }
        }
        if next.len() > MAX_EXPANSION {
            return Err(format!(
                "'{pattern}' stands for more than {MAX_EXPANSION} names; narrow the ranges"
            ));
        }
        names = next;
        rest = &after[close + 1..];
    }
    Ok(names)
}

/// The values inside one pair of brackets: `1-4,7`, `01-16` (zero-padded to the width
/// of the first bound).
fn range_values(pattern: &str, inside: &str) -> Result<Vec<String>, String> {
    let mut values = Vec::new();
    for piece in inside.split(',') {
        let bad =
            || format!("'{pattern}': '{piece}' is not a number or a range like 01-16 inside [ ]");
        let (lo, hi) = piece.split_once('-').unwrap_or((piece, piece));
        if lo.is_empty()
            || hi.is_empty()
            || !lo.chars().chain(hi.chars()).all(|c| c.is_ascii_digit())
        {
            return Err(bad());
        }
        let (a, b): (u64, u64) = (
            lo.parse().map_err(|_| bad())?,
            hi.parse().map_err(|_| bad())?,
        );
        if a > b {
            return Err(format!(
                "'{pattern}': the range {piece} goes backwards; write {hi}-{lo}"
            ));
        }
        if b - a >= MAX_EXPANSION as u64 {
            return Err(format!(
                "'{pattern}' stands for more than {MAX_EXPANSION} names; narrow the ranges"
            ));
        }
        if values.len() as u64 + (b - a) >= MAX_EXPANSION as u64 {
            return Err(format!(
                "'{pattern}' stands for more than {MAX_EXPANSION} names; narrow the ranges"
            ));
        }
        let width = if lo.len() > 1 && lo.starts_with('0') {
            lo.len()
        } else {
            0
        };
        values.extend((a..=b).map(|v| format!("{v:0width$}")));
    }
    Ok(values)
}

/// The names a host list selects among `known` nodes (each with its groups), in the
/// inventory's order, each once. A name or group the inventory lacks is an error naming
/// it (and the first few of them when there are many).
pub fn select<'a>(
    terms: &[Term],
    known: impl Iterator<Item = (&'a str, &'a [String])> + Clone,
) -> Result<Vec<String>, String> {
    let mut wanted = BTreeSet::new();
    let mut unknown = Vec::new();
    for term in terms {
        match term {
            Term::All => wanted.extend(known.clone().map(|(n, _)| n.to_string())),
            Term::Group(g) => {
                let members: Vec<&str> = known
                    .clone()
                    .filter(|(_, groups)| groups.iter().any(|x| x == g))
                    .map(|(n, _)| n)
                    .collect();
                if members.is_empty() {
                    return Err(format!("no node of the inventory is in group '{g}'"));
                }
                wanted.extend(members.into_iter().map(String::from));
            }
            Term::Names(names) => {
                let names_known: BTreeSet<&str> = known.clone().map(|(k, _)| k).collect();
                for n in names {
                    if names_known.contains(n.as_str()) {
                        wanted.insert(n.clone());
                    } else {
                        unknown.push(n.clone());
                    }
                }
            }
        }
    }
    if !unknown.is_empty() {
        let shown: Vec<&str> = unknown.iter().take(5).map(String::as_str).collect();
        let more = match unknown.len() {
            n if n > 5 => format!(" and {} more", n - 5),
            _ => String::new(),
        };
        return Err(format!(
            "not in the inventory: {}{more}; 'fencebox power list all' shows the nodes it has",
            shown.join(", ")
        ));
    }
    Ok(known
        .map(|(n, _)| n)
        .filter(|n| wanted.contains(*n))
        .map(String::from)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<String> {
        match parse(text).unwrap().as_slice() {
            [Term::Names(n)] => n.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ranges_keep_their_padding_and_combine() {
        assert_eq!(names("node[01-03]"), ["node01", "node02", "node03"]);
        assert_eq!(names("n[8-10]"), ["n8", "n9", "n10"]);
        assert_eq!(
            names("rack[1-2]-n[1,3]"),
            ["rack1-n1", "rack1-n3", "rack2-n1", "rack2-n3"]
        );
        assert_eq!(names("rack2-n[1-4,7]").len(), 5);
        assert_eq!(names("solo"), ["solo"]);
    }

    #[test]
    fn lists_groups_and_all() {
        let t = parse("a[1-2],@rack2,all").unwrap();
        assert_eq!(
            t,
            [
                Term::Names(vec!["a1".into(), "a2".into()]),
                Term::Group("rack2".into()),
                Term::All
            ]
        );
    }

    #[test]
    fn bad_lists_say_what_is_wrong() {
        for (text, says) in [
            ("node[1-", "does not close"),
            ("node1]", "did not open"),
            ("n[[1]]", "inside a bracket"),
            ("n[3-1]", "backwards"),
            ("n[a-b]", "not a number"),
            ("n[1-999999999]", "more than"),
            ("n[0-99999]x[0-99999]", "more than"),
            ("n[0-60000,0-60000]", "more than"),
            ("a,,b", "empty name"),
            ("", "empty name"),
            ("@", "not a group"),
            ("no de", "which no node name has"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(says), "{text}: {e}");
        }
    }

    #[test]
    fn selection_keeps_inventory_order_and_rejects_unknown_names() {
        let g1 = vec!["rack1".to_string()];
        let none: Vec<String> = vec![];
        let known = [
            ("n1", g1.as_slice()),
            ("n2", none.as_slice()),
            ("n3", g1.as_slice()),
        ];
        let it = known.iter().map(|(n, g)| (*n, *g));
        assert_eq!(
            select(&parse("n3,n1").unwrap(), it.clone()).unwrap(),
            ["n1", "n3"]
        );
        assert_eq!(
            select(&parse("@rack1").unwrap(), it.clone()).unwrap(),
            ["n1", "n3"]
        );
        assert_eq!(
            select(&parse("all,n2").unwrap(), it.clone()).unwrap().len(),
            3
        );
        let e = select(&parse("n[1-9]").unwrap(), it.clone()).unwrap_err();
        assert!(e.contains("n4, n5, n6, n7, n8 and 1 more"), "{e}");
        assert!(select(&parse("@nope").unwrap(), it).is_err());
    }
}
