//! The three PATCH formats the API accepts: JSON merge patch (RFC 7386), JSON patch
//! (RFC 6902) and Kubernetes' strategic merge patch.

use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    Merge,
    Json,
    Strategic,
    /// Server-side apply. Approximated as a strategic merge of the applied object (no field
    /// ownership), which is what the simulator's clients need from it.
    Apply,
}

impl PatchType {
    pub fn from_content_type(ct: &str) -> Option<PatchType> {
        let base = ct.split(';').next().unwrap_or("").trim();
        match base {
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/json-patch+json" => Some(PatchType::Json),
            "application/strategic-merge-patch+json" => Some(PatchType::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => {
                Some(PatchType::Apply)
            }
            _ => None,
        }
    }
}

/// Applies a patch body to `doc`. The error is the message for a 400/422 answer.
pub fn apply(doc: &mut Value, kind: PatchType, body: &[u8]) -> Result<(), String> {
    match kind {
        PatchType::Json => {
            let p: json_patch::Patch =
                serde_json::from_slice(body).map_err(|e| format!("invalid JSON patch: {e}"))?;
            json_patch::patch(doc, &p).map_err(|e| e.to_string())
        }
        PatchType::Merge => {
            let p: Value = parse(body)?;
            json_patch::merge(doc, &p);
            Ok(())
        }
        PatchType::Strategic | PatchType::Apply => {
            let p: Value = parse(body)?;
            strategic_merge(doc, &p)
        }
    }
}

fn parse(body: &[u8]) -> Result<Value, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        format!("the patch body must be JSON (the simulator does not read YAML): {e}")
    })?;
    if v.is_object() {
        Ok(v)
    } else {
        Err("the patch body must be a JSON object".into())
    }
}

/// The key that identifies an element of a list field, for the lists that strategic merge
/// patch merges instead of replacing (from the `patchMergeKey` tags of the Kubernetes types).
fn merge_key(field: &str, elements: &[Value]) -> Option<&'static str> {
    Some(match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "resourceClaims" => "name",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "conditions" => "type",
        "ownerReferences" => "uid",
        "hostAliases" => "ip",
        "topologySpreadConstraints" => "topologyKey",
        // Container ports merge by containerPort; Service ports by port.
        "ports" => {
            if elements.iter().any(|e| e.get("port").is_some()) {
                "port"
            } else {
                "containerPort"
            }
        }
        _ => return None,
    })
}

/// Primitive lists that strategic merge patch merges as sets instead of replacing.
fn is_set_list(field: &str) -> bool {
    field == "finalizers"
}

/// Applies a strategic merge patch: maps merge, `null` deletes, known lists merge by their
/// merge key, other lists are replaced; `$patch`, `$setElementOrder/…`, `$retainKeys` and
/// `$deleteFromPrimitiveList/…` directives are honoured.
pub fn strategic_merge(doc: &mut Value, patch: &Value) -> Result<(), String> {
    let Some(p) = patch.as_object() else {
        *doc = patch.clone();
        return Ok(());
    };
    if !doc.is_object() {
        *doc = Value::Object(Map::new());
    }
    let target = doc.as_object_mut().expect("made an object above");
    merge_map(target, p)
}

fn merge_map(target: &mut Map<String, Value>, patch: &Map<String, Value>) -> Result<(), String> {
    match patch.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            *target = clean(patch);
            return Ok(());
        }
        Some("delete") => {
            target.clear();
            return Ok(());
        }
        Some("merge") | None => {}
        Some(other) => return Err(format!("unknown patch type: {other}")),
    }
    let mut orders = Vec::new();
    for (k, v) in patch {
        if let Some(field) = k.strip_prefix("$setElementOrder/") {
            orders.push((field, v));
            continue;
        }
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            let remove = v.as_array().cloned().unwrap_or_default();
            if let Some(Value::Array(list)) = target.get_mut(field) {
                list.retain(|x| !remove.contains(x));
            }
            continue;
        }
        if k.starts_with('$') {
            continue;
        }
        match v {
            Value::Null => {
                target.remove(k);
            }
            Value::Object(pm) => {
                if pm.get("$patch").and_then(Value::as_str) == Some("delete") {
                    target.remove(k);
                } else if let Some(Value::Object(tm)) = target.get_mut(k) {
                    merge_map(tm, pm)?;
                } else {
                    target.insert(k.clone(), Value::Object(clean(pm)));
                }
            }
            Value::Array(pl) => {
                let merged = match target.get_mut(k) {
                    Some(Value::Array(tl)) => merge_list(k, tl, pl)?,
                    _ => clean_list(pl),
                };
                target.insert(k.clone(), Value::Array(merged));
            }
            other => {
                target.insert(k.clone(), other.clone());
            }
        }
    }
    if let Some(retain) = patch.get("$retainKeys").and_then(Value::as_array) {
        target.retain(|k, _| retain.iter().any(|r| r.as_str() == Some(k)));
    }
    for (field, order) in orders {
        if let (Some(Value::Array(list)), Some(order)) = (target.get_mut(field), order.as_array()) {
            reorder(field, list, order);
        }
    }
    Ok(())
}

fn merge_list(field: &str, target: &[Value], patch: &[Value]) -> Result<Vec<Value>, String> {
    // `{"$patch": "replace"}` in a list means: the rest of the list replaces the old one.
    if patch
        .iter()
        .any(|e| e.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        return Ok(clean_list(
            &patch
                .iter()
                .filter(|e| e.get("$patch").is_none())
                .cloned()
                .collect::<Vec<_>>(),
        ));
    }
    if is_set_list(field) {
        let mut out = target.to_vec();
        for e in patch {
            if !out.contains(e) {
                out.push(e.clone());
            }
        }
        return Ok(out);
    }
    let Some(key) = merge_key(field, target) else {
        return Ok(clean_list(patch));
    };
    let mut out = target.to_vec();
    for e in patch {
        let Some(pm) = e.as_object() else {
            return Err(format!("{field}: expected objects with a `{key}` key"));
        };
        let id = pm.get(key);
        let pos = out.iter().position(|t| id.is_some() && t.get(key) == id);
        match (pm.get("$patch").and_then(Value::as_str), pos) {
            (Some("delete"), Some(i)) => {
                out.remove(i);
            }
            (Some("delete"), None) => {}
            (_, Some(i)) => {
                if let Value::Object(tm) = &mut out[i] {
                    merge_map(tm, pm)?;
                }
            }
            (_, None) => out.push(Value::Object(clean(pm))),
        }
    }
    Ok(out)
}

/// Sorts a merged list into the order `$setElementOrder` gives; elements it does not
/// mention keep their relative order after the ones it does.
fn reorder(field: &str, list: &mut [Value], order: &[Value]) {
    let key = merge_key(field, list);
    let id = |v: &Value| -> Value {
        match key {
            Some(k) => v.get(k).cloned().unwrap_or(Value::Null),
            None => v.clone(),
        }
    };
    let wanted: Vec<Value> = order.iter().map(&id).collect();
    let rank = |v: &Value| {
        wanted
            .iter()
            .position(|w| *w == id(v))
            .unwrap_or(usize::MAX)
    };
    list.sort_by_key(|v| rank(v));
}

/// A patch fragment stored as a new value: directives removed and `null`s dropped (deleting
/// a field that does not exist changes nothing).
fn clean(m: &Map<String, Value>) -> Map<String, Value> {
    m.iter()
        .filter(|(k, v)| !k.starts_with('$') && !v.is_null())
        .map(|(k, v)| {
            let v = match v {
                Value::Object(inner) => Value::Object(clean(inner)),
                Value::Array(l) => Value::Array(clean_list(l)),
                other => other.clone(),
            };
            (k.clone(), v)
        })
        .collect()
}

fn clean_list(l: &[Value]) -> Vec<Value> {
    l.iter()
        .filter(|e| e.get("$patch").and_then(Value::as_str) != Some("delete"))
        .map(|e| match e {
            Value::Object(m) => Value::Object(clean(m)),
            other => other.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment() -> Value {
        json!({"spec": {"paused": true, "replicas": 3, "template": {"spec": {"containers": [
            {"name": "app", "image": "a:1", "ports": [{"containerPort": 8080, "protocol": "TCP"}],
             "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
            {"name": "sidecar", "image": "s:1"}
        ]}}}})
    }

    #[test]
    fn set_image_merges_containers_by_name() {
        let mut d = deployment();
        let p = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
            "containers": [{"image": "a:2", "name": "app"}]}}}});
        strategic_merge(&mut d, &p).unwrap();
        let cs = &d["spec"]["template"]["spec"]["containers"];
        assert_eq!(cs[0]["image"], "a:2");
        assert_eq!(
            cs[0]["ports"][0]["containerPort"], 8080,
            "other fields are kept"
        );
        assert_eq!(cs[1]["image"], "s:1");
        assert_eq!(cs.as_array().unwrap().len(), 2);
    }

    #[test]
    fn null_deletes_and_lists_merge_or_delete() {
        let mut d = deployment();
        let p = json!({"spec": {"paused": null, "template": {"spec": {"containers": [
            {"name": "app", "env": [{"name": "A", "$patch": "delete"}, {"name": "C", "value": "3"}]},
            {"name": "sidecar", "$patch": "delete"}]}}}});
        strategic_merge(&mut d, &p).unwrap();
        assert!(d["spec"].get("paused").is_none());
        let cs = d["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap();
        assert_eq!(cs.len(), 1);
        assert_eq!(
            cs[0]["env"],
            json!([{"name": "B", "value": "2"}, {"name": "C", "value": "3"}])
        );
    }

    #[test]
    fn reorder_and_replace_directives() {
        let mut d = deployment();
        let p = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}]}}}});
        strategic_merge(&mut d, &p).unwrap();
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"][0]["name"],
            "sidecar"
        );

        let p = json!({"spec": {"template": {"$patch": "replace", "spec": {"containers": []}}}});
        strategic_merge(&mut d, &p).unwrap();
        assert_eq!(d["spec"]["template"], json!({"spec": {"containers": []}}));
    }

    #[test]
    fn json_and_merge_patches() {
        let mut d = deployment();
        apply(
            &mut d,
            PatchType::Merge,
            br#"{"spec":{"replicas":5,"paused":null}}"#,
        )
        .unwrap();
        assert_eq!(d["spec"]["replicas"], 5);
        assert!(d["spec"].get("paused").is_none());
        apply(
            &mut d,
            PatchType::Json,
            br#"[{"op":"replace","path":"/spec/replicas","value":2}]"#,
        )
        .unwrap();
        assert_eq!(d["spec"]["replicas"], 2);
        assert!(
            apply(
                &mut d,
                PatchType::Json,
                br#"[{"op":"replace","path":"/spec/nope/x","value":2}]"#
            )
            .is_err()
        );
        assert!(apply(&mut d, PatchType::Merge, b"spec: {}").is_err());
    }
}
