//! Find where a value sits in a YAML file, so that errors found after parsing (duplicate
//! ids, dangling references, impossible thresholds) can name a line and column too.
//!
//! serde_yaml reports positions only for its own errors. Runbooks and layouts are written
//! in block style, so walking the indentation is enough; for anything written in flow
//! style (`{a: 1}`) the walk stops at the nearest block-style ancestor, which is still
//! the right place to look.

#[derive(Debug, Clone, PartialEq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

impl From<&str> for Seg {
    fn from(s: &str) -> Self {
        Seg::Key(s.to_string())
    }
}
impl From<usize> for Seg {
    fn from(i: usize) -> Self {
        Seg::Index(i)
    }
}

/// 1-based line and column of the value at `path`, or of its closest ancestor found.
pub fn locate(src: &str, path: &[Seg]) -> (usize, usize) {
    let lines: Vec<&str> = src.lines().collect();
    // The current node: lines [start, end) at indentation > parent_indent.
    let mut start = 0usize;
    let mut end = lines.len();
    let mut min_indent: isize = -1;
    let mut found = (1usize, 1usize);
    // A `- key: v` line opens a mapping whose first key sits on the dash's line.
    let mut inline_first: Option<(usize, usize)> = None;

    for seg in path {
        match seg {
            Seg::Key(k) => {
                let mut hit = None;
                if let Some((ln, col)) = inline_first.take()
                    && key_at(lines[ln], col - 1) == Some(k.as_str())
                {
                    hit = Some((ln, col - 1));
                }
                if hit.is_none() {
                    for (i, line) in lines.iter().enumerate().take(end).skip(start) {
                        let ind = indent(line) as isize;
                        if is_blank(line) || ind <= min_indent {
                            continue;
                        }
                        if key_at(line, ind as usize) == Some(k.as_str()) {
                            hit = Some((i, ind as usize));
                            break;
                        }
                    }
                }
                let Some((ln, col)) = hit else { return found };
                found = (ln + 1, col + 1);
                let (s, e) = block_after(&lines, ln, col);
                start = s;
                end = e;
                min_indent = col as isize;
                // A value on the same line (`key: value`) is where the value is.
                if let Some(vcol) = value_col(lines[ln], col) {
                    found = (ln + 1, vcol + 1);
                }
            }
            Seg::Index(n) => {
                let mut count = 0usize;
                let mut dash_indent: Option<usize> = None;
                let mut hit = None;
                for (i, line) in lines.iter().enumerate().take(end).skip(start) {
                    if is_blank(line) {
                        continue;
                    }
                    let ind = indent(line);
                    if (ind as isize) < min_indent {
                        break;
                    }
                    if !line[ind..].starts_with('-') {
                        continue;
                    }
                    match dash_indent {
                        None => dash_indent = Some(ind),
                        Some(d) if d != ind => continue,
                        _ => {}
                    }
                    if count == *n {
                        hit = Some((i, ind));
                        break;
                    }
                    count += 1;
                }
                let Some((ln, col)) = hit else { return found };
                let item_col = col + 1 + indent(&lines[ln][col + 1..]);
                found = (ln + 1, item_col + 1);
                let (_, e) = block_after(&lines, ln, col);
                start = ln + 1;
                end = e;
                min_indent = col as isize;
                inline_first = Some((ln, item_col + 1));
            }
        }
    }
    found
}

fn is_blank(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#')
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// The key of a `key: ...` line starting at byte `col`, unquoted.
fn key_at(line: &str, col: usize) -> Option<&str> {
    let rest = line.get(col..)?;
    let colon = rest.find(':')?;
    let key = rest[..colon].trim();
    let key = key.trim_matches(|c| c == '"' || c == '\'');
    if key.is_empty() || key.starts_with('-') {
        return None;
    }
    Some(key)
}

fn value_col(line: &str, key_col: usize) -> Option<usize> {
    let rest = &line[key_col..];
    let colon = rest.find(':')?;
    let after = &rest[colon + 1..];
    let trimmed = after.trim_start();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return None;
    }
    Some(key_col + colon + 1 + (after.len() - trimmed.len()))
}

/// The lines that belong to the node opened at (`ln`, `col`): those indented right of
/// `col`, and, under a key, a sequence written at the key's own indentation.
fn block_after(lines: &[&str], ln: usize, col: usize) -> (usize, usize) {
    let opened_by_dash = lines[ln][col..].starts_with('-');
    let mut e = ln + 1;
    while e < lines.len() {
        let l = lines[e];
        if !is_blank(l) {
            let ind = indent(l);
            let same_col_seq = ind == col && !opened_by_dash && l[ind..].starts_with('-');
            if ind < col || (ind == col && !same_col_seq) {
                break;
            }
        }
        e += 1;
    }
    (ln + 1, e)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "\
release:
  name: x
phases:
  - id: infra
    title: Infra
    groups:
      - title: K8s
        items:
          - id: a
            text: A
          - id: b
            text: B
  - id: sec
    title: Security
";

    #[test]
    fn finds_nested_values() {
        let p = |v: Vec<Seg>| locate(SRC, &v);
        assert_eq!(p(vec!["release".into(), "name".into()]), (2, 9));
        assert_eq!(p(vec!["phases".into(), 1.into(), "id".into()]), (13, 9));
        assert_eq!(p(vec!["phases".into(), 1.into(), "title".into()]), (14, 12));
        assert_eq!(
            p(vec![
                "phases".into(),
                0.into(),
                "groups".into(),
                0.into(),
                "items".into(),
                1.into(),
                "id".into()
            ]),
            (11, 17)
        );
        // A missing key falls back to the closest ancestor found.
        assert_eq!(p(vec!["phases".into(), 0.into(), "gates".into()]), (4, 5));
    }
}
