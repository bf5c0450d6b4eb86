//! YAML aliases (`*name`) let a small file expand into an enormous value (the "billion
//! laughs"): serde_yaml replays every alias while deserializing, so a few kilobytes can
//! become gigabytes of strings. Runbooks, layouts and scenarios are written by hand and
//! gain nothing from aliases, so they are refused before serde_yaml sees the file.
//!
//! This is a scan of YAML's surface syntax, just enough to tell an alias from a `*` in
//! text: quoted scalars, comments, block scalars (`|`, `>`), flow collections and plain
//! scalars that continue on the next line are skipped.

/// The 1-based line and column of the first alias in `src`, if any.
pub fn find_alias(src: &str) -> Option<(usize, usize)> {
    #[derive(Clone, Copy, PartialEq)]
    enum Quote {
        Single,
        Double,
    }
    let mut quote: Option<Quote> = None;
    let mut flow = 0usize;
    // A block scalar's content: lines indented more than this column, or blank.
    let mut block: Option<usize> = None;
    // A plain scalar ended the previous line: lines indented more than this column
    // continue it.
    let mut plain_cont: Option<usize> = None;
    // In a flow collection a node may start on the next line.
    let mut flow_node_start = false;
    for (ln, line) in src.lines().enumerate() {
        let chars: Vec<char> = line.chars().collect();
        let indent = chars.iter().take_while(|c| **c == ' ').count();
        let blank = chars[indent..].iter().all(|c| c.is_whitespace());
        if let Some(parent) = block {
            if blank || indent > parent {
                continue;
            }
            block = None;
        }
        if quote.is_none() && flow == 0 && plain_cont.is_some_and(|owner| blank || indent > owner) {
            continue;
        }
        let mut node_start = if flow > 0 { flow_node_start } else { true };
        let mut plain = false;
        // Where the node owning what follows starts: a key, a `- `, the line's indent.
        let mut owner = indent;
        let mut node_col = indent;
        let mut i = if quote.is_some() { 0 } else { indent };
        while i < chars.len() {
            let c = chars[i];
            let next = chars.get(i + 1).copied();
            let ends_token = |n: Option<char>| n.is_none_or(|n| n.is_whitespace());
            match quote {
                Some(Quote::Single) => {
                    if c == '\'' {
                        if next == Some('\'') {
                            i += 1;
                        } else {
                            quote = None;
                        }
                    }
                    i += 1;
                    continue;
                }
                Some(Quote::Double) => {
                    if c == '\\' {
                        i += 1;
                    } else if c == '"' {
                        quote = None;
                    }
                    i += 1;
                    continue;
                }
                None => {}
            }
            if c == '#' && (i == 0 || chars[i - 1].is_whitespace()) {
                break;
            }
            if node_start {
                match c {
                    ' ' | '\t' => {}
                    '*' => return Some((ln + 1, i + 1)),
                    '&' | '!' => {
                        // An anchor or a tag before the node: skip the name.
                        while i + 1 < chars.len() && !chars[i + 1].is_whitespace() {
                            i += 1;
                        }
                    }
                    '-' | '?' if ends_token(next) => {
                        owner = i;
                    }
                    '\'' => {
                        quote = Some(Quote::Single);
                        node_start = false;
                        node_col = i;
                    }
                    '"' => {
                        quote = Some(Quote::Double);
                        node_start = false;
                        node_col = i;
                    }
                    '|' | '>' if flow == 0 => {
                        block = Some(owner);
                        break;
                    }
                    '[' | '{' => flow += 1,
                    ']' | '}' => {
                        flow = flow.saturating_sub(1);
                        node_start = false;
                    }
                    ',' if flow > 0 => {}
                    _ => {
                        plain = true;
                        node_start = false;
                        node_col = i;
                    }
                }
            } else {
                match c {
                    ':' if ends_token(next)
                        || (flow > 0 && matches!(next, Some(',' | ']' | '}'))) =>
                    {
                        owner = node_col;
                        plain = false;
                        node_start = true;
                    }
                    ',' if flow > 0 => {
                        plain = false;
                        node_start = true;
                    }
                    ']' | '}' if flow > 0 => {
                        flow -= 1;
                        plain = false;
                    }
                    _ => {}
                }
            }
            i += 1;
        }
        flow_node_start = node_start;
        plain_cont = (plain && flow == 0 && quote.is_none()).then_some(owner);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::find_alias;

    #[test]
    fn aliases_are_found_where_they_are() {
        assert_eq!(find_alias("a: &x 1\nb: *x\n"), Some((2, 4)));
        assert_eq!(find_alias("a: [1, *x]\n"), Some((1, 8)));
        assert_eq!(find_alias("a: {k: *x}\n"), Some((1, 8)));
        assert_eq!(find_alias("- *x\n"), Some((1, 3)));
        assert_eq!(find_alias("a:\n  - b\n  - *x\n"), Some((3, 5)));
        assert_eq!(find_alias("a: [1,\n  *x]\n"), Some((2, 3)));
        assert_eq!(find_alias("*x : 1\n"), Some((1, 1)));
    }

    #[test]
    fn stars_in_text_are_not_aliases() {
        for ok in [
            "text: 2 * 3 = 6\n",
            "text: '*not* an alias'\n",
            "text: \"*not* an \\\" alias\"\n",
            "text: 'it''s *fine*'\n",
            "text: |\n  *emphasis*\n  - *list*\nnext: 1\n",
            "- text: >-\n    *folded*\nnext: 1\n",
            "text: a long line\n  *continued* here\nnext: 1\n",
            "a: 1 # *comment*\n# *x\n",
            "q: sum(rate(x[5m])) * 100\n",
            "text: \"multi\n  *line* quoted\"\n",
            "- {a: '*x', b: \"*y\"}\n",
        ] {
            assert_eq!(find_alias(ok), None, "{ok}");
        }
    }
}
