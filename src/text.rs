//! Text from outside (cluster objects, metric labels, runbook text, notes) may carry
//! control characters or escape sequences; they must never reach the terminal.

use std::borrow::Cow;

use unicode_width::UnicodeWidthChar;
use unicode_width::UnicodeWidthStr;

/// Replace control characters (C0, DEL, C1) and bidi controls with U+FFFD; tabs become a
/// space.
pub fn clean(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_control) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .map(|c| match c {
                '\t' => ' ',
                c if is_control(c) => '\u{FFFD}',
                c => c,
            })
            .collect(),
    )
}

fn is_control(c: char) -> bool {
    c.is_control() || is_bidi(c)
}

/// Bidirectional-text controls: invisible, they reorder what a terminal shows around
/// them, so a file name or message can be made to read as something else.
pub fn is_bidi(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// For text printed outside the screen (stdout, stderr): control characters other than
/// newline and tab, and bidi controls, become a visible `\u{…}`, so the reader sees that
/// something was there and what.
pub fn escape(s: &str) -> Cow<'_, str> {
    let bad = |c: char| (c.is_control() && c != '\n' && c != '\t') || is_bidi(c);
    if !s.chars().any(bad) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if bad(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// FNV-1a (64 bits, kept to its low 32): stable across versions of Rust and of this
/// program, unlike the standard library's hasher.
pub fn fnv32(bytes: impl IntoIterator<Item = u8>) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as u32
}

/// `prefix`, `release` and `version` as a lowercase ASCII name usable as a DNS-1123
/// subdomain and a file name, at most `max` bytes. Readable where the input is ASCII; when
/// anything was lost on the way (a CJK name, an underscore, a space, a cut) a short hash
/// of the exact release and version is appended, so two releases never share a name.
/// Case alone is folded without a hash (`ERP` and `erp` are the same release to people).
pub fn release_slug(prefix: &str, release: &str, version: &str, max: usize) -> String {
    let raw = format!("{prefix}{release}-{version}").to_lowercase();
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        let c = if c.is_ascii_alphanumeric() || c == '.' {
            c
        } else {
            '-'
        };
        // Each dot-separated label must start and end with a letter or digit.
        let joint = c == '.' || c == '-';
        if joint && (out.is_empty() || out.ends_with(['-', '.'])) {
            continue;
        }
        out.push(c);
    }
    while out.ends_with(['-', '.']) {
        out.pop();
    }
    if out == raw && out.len() <= max {
        return out;
    }
    let tag = format!(
        "{:08x}",
        fnv32(release.bytes().chain([0]).chain(version.bytes()))
    );
    out.truncate(max.saturating_sub(tag.len() + 1));
    while out.ends_with(['-', '.']) {
        out.pop();
    }
    if out.is_empty() {
        tag
    } else {
        format!("{out}-{tag}")
    }
}

/// Display width in terminal cells (CJK characters take two).
pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// Cut `s` to at most `max` cells, ending with `…` when cut.
pub fn fit(s: &str, max: usize) -> Cow<'_, str> {
    if width(s) <= max {
        return Cow::Borrowed(s);
    }
    if max == 0 {
        return Cow::Borrowed("");
    }
    let mut out = String::new();
    let mut w = 0;
    for c in s.chars() {
        let cw = c.width().unwrap_or(0);
        if w + cw > max - 1 {
            break;
        }
        out.push(c);
        w += cw;
    }
    out.push('…');
    Cow::Owned(out)
}

/// `s` in at most `max` cells, cut in the middle: the end (a pod's unique suffix) stays.
pub fn fit_middle(s: &str, max: usize) -> Cow<'_, str> {
    if width(s) <= max {
        return Cow::Borrowed(s);
    }
    if max < 3 {
        return fit(s, max);
    }
    let tail_w = (max - 1) * 2 / 3;
    let head_w = max - 1 - tail_w;
    let mut tail: Vec<char> = Vec::new();
    let mut w = 0;
    for c in s.chars().rev() {
        let cw = c.width().unwrap_or(0);
        if w + cw > tail_w {
            break;
        }
        tail.push(c);
        w += cw;
    }
    let mut out = String::new();
    let mut hw = 0;
    for c in s.chars() {
        let cw = c.width().unwrap_or(0);
        if hw + cw > head_w + (tail_w - w) {
            break;
        }
        out.push(c);
        hw += cw;
    }
    out.push('…');
    out.extend(tail.into_iter().rev());
    Cow::Owned(out)
}

/// Break `s` into lines of at most `max` cells, at spaces where possible, anywhere in CJK.
pub fn wrap(s: &str, max: usize) -> Vec<String> {
    wrap_hanging(s, max, max)
}

/// Like `wrap`, with a first line of `first` cells and the rest of `rest` cells. A line
/// breaks at a space, or between two characters either of which is wide (Chinese text
/// has no spaces), but never before the punctuation that closes a Chinese clause nor
/// after the one that opens a bracket.
pub fn wrap_hanging(s: &str, first: usize, rest: usize) -> Vec<String> {
    // Where the line may break: the byte index, and whether a space is dropped there.
    fn may_break_before(prev: Option<char>, c: char) -> bool {
        let wide = |c: char| c.width().unwrap_or(0) > 1;
        let closing = "，。、；：！？）》」』】”’…".contains(c);
        let opening = |p: char| "（《「『【“‘".contains(p);
        prev.is_some_and(|p| (wide(p) || wide(c)) && p != ' ' && !opening(p)) && !closing
    }
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    let mut w = 0;
    let mut brk: Option<(usize, bool)> = None;
    for c in s.chars() {
        let max = if lines.is_empty() { first } else { rest }.max(1);
        let cw = c.width().unwrap_or(0);
        if c != ' ' && may_break_before(line.chars().next_back(), c) {
            brk = Some((line.len(), false));
        }
        if w + cw > max && c == ' ' {
            // The line is full at a space: it breaks there.
            lines.push(std::mem::take(&mut line));
            w = 0;
            brk = None;
            continue;
        }
        if w + cw > max {
            // Prefer to break at the last place the line may break.
            match brk.filter(|&(i, _)| i > 0) {
                Some((i, space)) => {
                    let rest = line[i + usize::from(space)..].to_string();
                    line.truncate(i);
                    lines.push(std::mem::take(&mut line));
                    line = rest;
                    w = width(&line);
                }
                None => {
                    lines.push(std::mem::take(&mut line));
                    w = 0;
                }
            }
            // What was carried over may still break.
            brk = None;
            let mut prev = None;
            for (i, ch) in line.char_indices() {
                if ch == ' ' {
                    brk = Some((i, true));
                } else if may_break_before(prev, ch) {
                    brk = Some((i, false));
                }
                prev = Some(ch);
            }
            if c != ' ' && may_break_before(line.chars().next_back(), c) {
                brk = Some((line.len(), false));
            }
        }
        // A line never starts with the space it was broken at.
        if c == ' ' && line.is_empty() && !lines.is_empty() {
            continue;
        }
        if c == ' ' {
            brk = Some((line.len(), true));
        }
        line.push(c);
        w += cw;
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_never_pass() {
        assert_eq!(clean("ok\x1b[2Jboom\x07"), "ok\u{FFFD}[2Jboom\u{FFFD}");
        assert!(matches!(clean("plain 中文"), Cow::Borrowed(_)));
        assert_eq!(clean("a\u{202e}b\u{2066}c"), "a\u{FFFD}b\u{FFFD}c");
        assert_eq!(
            escape("x\x1b]0;t\x07\u{202e}y\u{85}\nz\t"),
            "x\\u{1b}]0;t\\u{7}\\u{202e}y\\u{85}\nz\t"
        );
        assert!(matches!(escape("plain 中文\n"), Cow::Borrowed(_)));
    }

    #[test]
    fn cjk_takes_two_cells() {
        assert_eq!(width("数据库备份执行"), 14);
        assert_eq!(fit("数据库备份执行", 7), "数据库…");
        assert_eq!(width(&fit("数据库备份执行", 8)), 7);
        for l in wrap("Kubernetes集群就绪 (v1.25+) 集群节点资源充足", 10) {
            assert!(width(&l) <= 10, "{l}");
        }
        // a word longer than a line breaks without inventing spaces
        let lines = wrap_hanging("at http://127.0.0.1:1 now", 8, 6);
        assert_eq!(lines.concat().replace(' ', ""), "athttp://127.0.0.1:1now");
        assert!(
            lines.iter().all(|l| width(l) <= 8 && !l.starts_with(' ')),
            "{lines:?}"
        );
    }

    #[test]
    fn chinese_text_breaks_between_characters_not_after_a_lone_mark() {
        // A line no longer ends at the mark before a Chinese phrase, as it would if only
        // spaces could break it.
        assert_eq!(
            wrap("✘ 验证失败：错误率检查：分版本错误率 6.02 % ≥ 1.00 %", 22),
            [
                "✘ 验证失败：错误率检",
                "查：分版本错误率 6.02",
                "% ≥ 1.00 %"
            ]
        );
        // A clause's closing mark stays with the word before it.
        let lines = wrap("完成：erp-backend-canary scaled to 1", 12);
        assert_eq!(lines[0], "完成：");
        assert!(
            lines.iter().all(|l| !l.starts_with('：') && width(l) <= 12),
            "{lines:?}"
        );
        // An opening bracket stays with what it opens.
        let lines = wrap(
            "控制台启动：ERP系统 v1.0.0（/work/assets/runbooks/erp.zh.yaml）",
            30,
        );
        assert!(lines.iter().all(|l| !l.ends_with('（')), "{lines:?}");
        // English is unchanged: it breaks at spaces only.
        assert_eq!(
            wrap("the query fails: Prometheus did not answer", 16),
            ["the query fails:", "Prometheus did", "not answer"]
        );
    }
}

#[cfg(test)]
mod middle {
    use super::*;

    #[test]
    fn a_name_cut_in_the_middle_keeps_its_end() {
        let pod = "erp-backend-canary-7c9d5f8b4-x2k9q";
        let cut = fit_middle(pod, 20);
        assert_eq!(width(&cut), 20);
        assert!(
            cut.ends_with("7c9d5f8b4-x2k9q") || cut.ends_with("-x2k9q"),
            "{cut}"
        );
        assert!(cut.starts_with("erp"), "{cut}");
        assert_eq!(fit_middle(pod, 40), pod);
        assert_eq!(width(&fit_middle("服务-金丝雀-7c9d5f-x2k9q", 12)), 12);
    }
}
