//! Label and field selectors, in the query-string syntax kubectl and client libraries send
//! (`app=web,track!=canary,tier in (a,b),!legacy`) and as `LabelSelector` objects.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
enum Op {
    Eq(String),
    NotEq(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    DoesNotExist,
}

#[derive(Debug, Clone, PartialEq)]
struct Requirement {
    key: String,
    op: Op,
}

impl Requirement {
    fn matches(&self, value: Option<&str>) -> bool {
        match (&self.op, value) {
            (Op::Eq(v), Some(x)) => v == x,
            (Op::Eq(_), None) => false,
            // As in Kubernetes, `!=` and `notin` also match objects without the key.
            (Op::NotEq(v), x) => x != Some(v.as_str()),
            (Op::In(vs), Some(x)) => vs.iter().any(|v| v == x),
            (Op::In(_), None) => false,
            (Op::NotIn(vs), x) => x.is_none_or(|x| !vs.iter().any(|v| v == x)),
            (Op::Exists, x) => x.is_some(),
            (Op::DoesNotExist, x) => x.is_none(),
        }
    }
}

/// A parsed `labelSelector`. The empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector(Vec<Requirement>);

impl LabelSelector {
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut reqs = Vec::new();
        for part in split_top_level(s) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            reqs.push(parse_requirement(part)?);
        }
        Ok(LabelSelector(reqs))
    }

    /// Matches an object's `metadata.labels`.
    pub fn matches(&self, labels: Option<&Value>) -> bool {
        self.0.iter().all(|r| {
            let v = labels.and_then(|l| l.get(&r.key)).and_then(Value::as_str);
            r.matches(v)
        })
    }
}

/// Splits on commas that are not inside `( )`.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn parse_requirement(part: &str) -> Result<Requirement, String> {
    let bad = || format!("unable to parse requirement: `{part}`");
    if let Some(key) = part.strip_prefix('!') {
        return Ok(Requirement {
            key: valid_key(key.trim()).ok_or_else(bad)?,
            op: Op::DoesNotExist,
        });
    }
    for (sym, ctor) in [
        ("!=", Op::NotEq as fn(String) -> Op),
        ("==", Op::Eq as fn(String) -> Op),
        ("=", Op::Eq as fn(String) -> Op),
    ] {
        if let Some((k, v)) = part.split_once(sym) {
            return Ok(Requirement {
                key: valid_key(k.trim()).ok_or_else(bad)?,
                op: ctor(v.trim().to_string()),
            });
        }
    }
    let mut words = part.splitn(2, char::is_whitespace);
    let key = words.next().unwrap_or("");
    let rest = words.next().unwrap_or("").trim();
    if rest.is_empty() {
        return Ok(Requirement {
            key: valid_key(key).ok_or_else(bad)?,
            op: Op::Exists,
        });
    }
    let (word, list) = rest
        .split_once('(')
        .map(|(w, l)| (w.trim(), l))
        .ok_or_else(bad)?;
    let list = list.trim().strip_suffix(')').ok_or_else(bad)?;
    let values: Vec<String> = list
        .split(',')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    let op = match word {
        "in" => Op::In(values),
        "notin" => Op::NotIn(values),
        _ => return Err(bad()),
    };
    Ok(Requirement {
        key: valid_key(key).ok_or_else(bad)?,
        op,
    })
}

fn valid_key(k: &str) -> Option<String> {
    let ok = !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    ok.then(|| k.to_string())
}

/// A parsed `fieldSelector`: `metadata.name=x,status.phase!=Running`. Any dotted path into
/// the object is accepted (the real API allows a fixed set per resource, all of them
/// plain paths like these).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSelector(Vec<(Vec<String>, bool, String)>);

impl FieldSelector {
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut reqs = Vec::new();
        for part in s.split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (path, eq, value) = if let Some((k, v)) = part.split_once("!=") {
                (k, false, v)
            } else if let Some((k, v)) = part.split_once("==") {
                (k, true, v)
            } else if let Some((k, v)) = part.split_once('=') {
                (k, true, v)
            } else {
                return Err(format!(
                    "invalid selector: '{part}'; can't understand '{part}'"
                ));
            };
            let path = path.trim().split('.').map(str::to_string).collect();
            reqs.push((path, eq, value.trim().to_string()));
        }
        Ok(FieldSelector(reqs))
    }

    pub fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|(path, eq, want)| {
            let got = path
                .iter()
                .try_fold(obj, |v, k| v.get(k))
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                })
                .unwrap_or_default();
            (got == *want) == *eq
        })
    }
}

/// Whether a `LabelSelector` object (`matchLabels` + `matchExpressions`) selects these labels.
pub fn selector_object_matches(selector: &Value, labels: Option<&Value>) -> bool {
    let label = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
    let labels_ok = selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .is_none_or(|m| m.iter().all(|(k, v)| label(k) == v.as_str()));
    let exprs_ok = selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .is_none_or(|es| {
            es.iter().all(|e| {
                let key = e.get("key").and_then(Value::as_str).unwrap_or("");
                let values: Vec<&str> = e
                    .get("values")
                    .and_then(Value::as_array)
                    .map(|vs| vs.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let v = label(key);
                match e.get("operator").and_then(Value::as_str) {
                    Some("In") => v.is_some_and(|v| values.contains(&v)),
                    Some("NotIn") => v.is_none_or(|v| !values.contains(&v)),
                    Some("Exists") => v.is_some(),
                    Some("DoesNotExist") => v.is_none(),
                    _ => false,
                }
            })
        });
    labels_ok && exprs_ok
}

/// A `LabelSelector` object in kubectl's notation (`app=web,track in (a,b)`), or `<none>`.
pub fn format_selector(selector: &Value) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(m) = selector.get("matchLabels").and_then(Value::as_object) {
        parts.extend(
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))),
        );
    }
    if let Some(es) = selector.get("matchExpressions").and_then(Value::as_array) {
        for e in es {
            let key = e.get("key").and_then(Value::as_str).unwrap_or("");
            let mut values: Vec<&str> = e
                .get("values")
                .and_then(Value::as_array)
                .map(|vs| vs.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            values.sort_unstable();
            let values = values.join(",");
            parts.push(match e.get("operator").and_then(Value::as_str) {
                Some("In") => format!("{key} in ({values})"),
                Some("NotIn") => format!("{key} notin ({values})"),
                Some("Exists") => key.to_string(),
                Some("DoesNotExist") => format!("!{key}"),
                _ => continue,
            });
        }
    }
    if parts.is_empty() {
        "<none>".into()
    } else {
        parts.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_selector_operators() {
        let labels = json!({"app": "erp", "track": "stable"});
        let m = |s: &str| LabelSelector::parse(s).unwrap().matches(Some(&labels));
        assert!(m(""));
        assert!(m("app=erp"));
        assert!(m("app==erp,track=stable"));
        assert!(!m("app=erp,track=canary"));
        assert!(m("track!=canary"));
        assert!(m("track in (stable, canary)"));
        assert!(!m("track notin (stable,canary)"));
        assert!(m("app"));
        assert!(m("!version"));
        assert!(!m("!app"));
        assert!(m("version notin (x)"));
        assert!(LabelSelector::parse("app in stable").is_err());
        assert!(LabelSelector::parse("=x").is_err());
    }

    #[test]
    fn field_selector_paths() {
        let obj =
            json!({"metadata": {"name": "a", "namespace": "n"}, "status": {"phase": "Running"}});
        let m = |s: &str| FieldSelector::parse(s).unwrap().matches(&obj);
        assert!(m("metadata.name=a"));
        assert!(m("metadata.name=a,metadata.namespace==n"));
        assert!(!m("metadata.name=b"));
        assert!(m("status.phase!=Pending"));
        assert!(m("spec.nodeName="));
    }

    #[test]
    fn selector_objects() {
        let sel = json!({"matchLabels": {"app": "erp"}, "matchExpressions": [{"key": "track", "operator": "In", "values": ["stable", "a"]}]});
        assert!(selector_object_matches(
            &sel,
            Some(&json!({"app": "erp", "track": "stable"}))
        ));
        assert!(!selector_object_matches(&sel, Some(&json!({"app": "erp"}))));
        assert_eq!(format_selector(&sel), "app=erp,track in (a,stable)");
        assert_eq!(format_selector(&json!({})), "<none>");
    }
}
