//! Server-side printing: the `meta.k8s.io/v1` Table kubectl asks for, with the columns
//! real kubectl shows for each resource.

use serde_json::{Value, json};

use super::selector::format_selector;
use super::store::{Resource, parse_time};

/// What a row's `object` holds (the `includeObject` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeObject {
    None,
    Metadata,
    Object,
}

impl IncludeObject {
    pub fn parse(s: Option<&str>) -> IncludeObject {
        match s {
            Some("None") => IncludeObject::None,
            Some("Object") => IncludeObject::Object,
            _ => IncludeObject::Metadata,
        }
    }
}

pub const TABLE_CONTENT_TYPE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";

/// A Table of `objects`. Watch events after the first leave `columnDefinitions` empty,
/// as the real API does to save bandwidth; kubectl reuses the last ones it saw.
pub fn table(
    res: Resource,
    objects: &[&Value],
    rv: Option<u64>,
    include: IncludeObject,
    with_columns: bool,
    now: f64,
) -> Value {
    let columns: Vec<Value> = if with_columns {
        column_definitions(res)
            .iter()
            .map(|(name, ty, format, priority, description)| {
                json!({"name": name, "type": ty, "format": format, "description": description, "priority": priority})
            })
            .collect()
    } else {
        Vec::new()
    };
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let mut row = json!({ "cells": cells(res, o, now) });
            match include {
                IncludeObject::None => {}
                IncludeObject::Metadata => {
                    row["object"] = json!({
                        "kind": "PartialObjectMetadata",
                        "apiVersion": "meta.k8s.io/v1",
                        "metadata": o.get("metadata").cloned().unwrap_or_default(),
                    })
                }
                IncludeObject::Object => row["object"] = (*o).clone(),
            }
            row
        })
        .collect();
    let mut meta = json!({});
    if let Some(rv) = rv {
        meta["resourceVersion"] = json!(rv.to_string());
    }
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "columnDefinitions": columns,
        "rows": rows,
    })
}

type Column = (&'static str, &'static str, &'static str, u8, &'static str);

const NAME: Column = (
    "Name",
    "string",
    "name",
    0,
    "Name must be unique within a namespace.",
);
const AGE: Column = (
    "Age",
    "string",
    "",
    0,
    "CreationTimestamp is a timestamp representing the server time when this object was created.",
);

fn column_definitions(res: Resource) -> Vec<Column> {
    match res {
        Resource::Deployment => vec![
            NAME,
            (
                "Ready",
                "string",
                "",
                0,
                "Number of the pod with ready state",
            ),
            (
                "Up-to-date",
                "string",
                "",
                0,
                "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
            ),
            (
                "Available",
                "string",
                "",
                0,
                "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
            ),
            AGE,
            (
                "Containers",
                "string",
                "",
                1,
                "Names of each container in the template.",
            ),
            (
                "Images",
                "string",
                "",
                1,
                "Images referenced by each container in the template.",
            ),
            (
                "Selector",
                "string",
                "",
                1,
                "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.",
            ),
        ],
        Resource::ReplicaSet => vec![
            NAME,
            (
                "Desired",
                "integer",
                "",
                0,
                "Replicas is the number of desired replicas.",
            ),
            (
                "Current",
                "integer",
                "",
                0,
                "Replicas is the most recently observed number of replicas.",
            ),
            (
                "Ready",
                "integer",
                "",
                0,
                "The number of ready replicas for this replica set.",
            ),
            AGE,
            (
                "Containers",
                "string",
                "",
                1,
                "Names of each container in the template.",
            ),
            (
                "Images",
                "string",
                "",
                1,
                "Images referenced by each container in the template.",
            ),
            (
                "Selector",
                "string",
                "",
                1,
                "Selector is a label query over pods that should match the replica count.",
            ),
        ],
        Resource::Pod => vec![
            NAME,
            (
                "Ready",
                "string",
                "",
                0,
                "The aggregate readiness state of this pod for accepting traffic.",
            ),
            (
                "Status",
                "string",
                "",
                0,
                "The aggregate status of the containers in this pod.",
            ),
            (
                "Restarts",
                "string",
                "",
                0,
                "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
            ),
            AGE,
            ("IP", "string", "", 1, "podIP address allocated to the pod."),
            (
                "Node",
                "string",
                "",
                1,
                "NodeName is a request to schedule this pod onto a specific node.",
            ),
            (
                "Nominated Node",
                "string",
                "",
                1,
                "nominatedNodeName is set only when this pod preempts other pods on the node.",
            ),
            (
                "Readiness Gates",
                "string",
                "",
                1,
                "If specified, all readiness gates will be evaluated for pod readiness.",
            ),
        ],
        Resource::Event => vec![
            (
                "Last Seen",
                "string",
                "",
                0,
                "The time at which the most recent occurrence of this event was recorded.",
            ),
            (
                "Type",
                "string",
                "",
                0,
                "Type of this event (Normal, Warning), new types could be added in the future.",
            ),
            (
                "Reason",
                "string",
                "",
                0,
                "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
            ),
            (
                "Object",
                "string",
                "",
                0,
                "The object that this event is about.",
            ),
            (
                "Subobject",
                "string",
                "",
                1,
                "The field of the object that this event is about.",
            ),
            (
                "Source",
                "string",
                "",
                1,
                "The component reporting this event.",
            ),
            (
                "Message",
                "string",
                "",
                0,
                "A human-readable description of the status of this operation.",
            ),
            (
                "First Seen",
                "string",
                "",
                1,
                "The time at which the event was first recorded.",
            ),
            (
                "Count",
                "string",
                "",
                1,
                "The number of times this event has occurred.",
            ),
            (
                "Name",
                "string",
                "name",
                1,
                "Name must be unique within a namespace.",
            ),
        ],
        Resource::Namespace => vec![
            NAME,
            ("Status", "string", "", 0, "The status of the namespace"),
            AGE,
        ],
        Resource::ConfigMap => vec![
            NAME,
            ("Data", "string", "", 0, "Number of data entries"),
            AGE,
        ],
        Resource::Secret => vec![
            NAME,
            ("Type", "string", "", 0, "The type of the secret"),
            ("Data", "string", "", 0, "Number of data entries"),
            AGE,
        ],
        Resource::Node => vec![
            NAME,
            ("Status", "string", "", 0, "The status of the node"),
            ("Roles", "string", "", 0, "The roles of the node"),
            AGE,
            (
                "Version",
                "string",
                "",
                0,
                "Kubelet Version reported by the node.",
            ),
        ],
        Resource::Lease => vec![
            NAME,
            ("Holder", "string", "", 0, "The holder of the lease."),
            AGE,
        ],
        Resource::Service => vec![
            NAME,
            ("Type", "string", "", 0, "The type of service."),
            (
                "Cluster-IP",
                "string",
                "",
                0,
                "The cluster IP of the service.",
            ),
            (
                "External-IP",
                "string",
                "",
                0,
                "The external IP of the service.",
            ),
            ("Port(s)", "string", "", 0, "The ports of the service."),
            AGE,
            (
                "Selector",
                "string",
                "",
                1,
                "The label selector of the service.",
            ),
        ],
        Resource::HttpRoute => vec![
            NAME,
            (
                "Hostnames",
                "string",
                "",
                0,
                "The hostnames the route matches.",
            ),
            AGE,
        ],
        Resource::VirtualService => vec![
            NAME,
            (
                "Gateways",
                "string",
                "",
                0,
                "The names of gateways and sidecars that should apply these routes",
            ),
            (
                "Hosts",
                "string",
                "",
                0,
                "The destination hosts to which traffic is being sent",
            ),
            AGE,
        ],
        Resource::EventV1 => vec![
            NAME,
            (
                "Created At",
                "date",
                "",
                0,
                "CreationTimestamp is a timestamp representing the server time when this object was created.",
            ),
        ],
    }
}

fn s<'a>(o: &'a Value, ptr: &str) -> &'a str {
    o.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

fn n(o: &Value, ptr: &str) -> i64 {
    o.pointer(ptr).and_then(Value::as_i64).unwrap_or(0)
}

fn age(o: &Value, now: f64) -> String {
    since(s(o, "/metadata/creationTimestamp"), now)
}

/// kubectl's `translateTimestampSince`: the age of a timestamp, or `<unknown>`.
fn since(ts: &str, now: f64) -> String {
    match parse_time(ts) {
        Some(t) => human_duration(now - t),
        None => "<unknown>".into(),
    }
}

fn container_list(template_spec: Option<&Value>, field: &str) -> String {
    template_spec
        .and_then(|s| s.get("containers"))
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .map(|c| c.get(field).and_then(Value::as_str).unwrap_or(""))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

fn cells(res: Resource, o: &Value, now: f64) -> Vec<Value> {
    let name = s(o, "/metadata/name");
    match res {
        Resource::Deployment | Resource::ReplicaSet => {
            let tspec = o.pointer("/spec/template/spec");
            let containers = container_list(tspec, "name");
            let images = container_list(tspec, "image");
            let selector = o
                .pointer("/spec/selector")
                .map(format_selector)
                .unwrap_or_else(|| "<none>".into());
            let desired = o
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            if res == Resource::Deployment {
                vec![
                    json!(name),
                    json!(format!("{}/{}", n(o, "/status/readyReplicas"), desired)),
                    json!(n(o, "/status/updatedReplicas")),
                    json!(n(o, "/status/availableReplicas")),
                    json!(age(o, now)),
                    json!(containers),
                    json!(images),
                    json!(selector),
                ]
            } else {
                vec![
                    json!(name),
                    json!(desired),
                    json!(n(o, "/status/replicas")),
                    json!(n(o, "/status/readyReplicas")),
                    json!(age(o, now)),
                    json!(containers),
                    json!(images),
                    json!(selector),
                ]
            }
        }
        Resource::Pod => pod_cells(o, now),
        Resource::Event => {
            let last = [
                s(o, "/lastTimestamp"),
                s(o, "/eventTime"),
                s(o, "/metadata/creationTimestamp"),
            ]
            .into_iter()
            .find(|t| !t.is_empty())
            .unwrap_or("");
            let first = match s(o, "/firstTimestamp") {
                "" => last,
                f => f,
            };
            let object = format!(
                "{}/{}",
                s(o, "/involvedObject/kind").to_lowercase(),
                s(o, "/involvedObject/name")
            );
            let mut source = s(o, "/source/component").to_string();
            if source.is_empty() {
                source = s(o, "/reportingComponent").to_string();
            }
            if !s(o, "/source/host").is_empty() {
                source = format!("{source}, {}", s(o, "/source/host"));
            }
            vec![
                json!(since(last, now)),
                json!(s(o, "/type")),
                json!(s(o, "/reason")),
                json!(object),
                json!(s(o, "/involvedObject/fieldPath")),
                json!(source),
                json!(s(o, "/message").trim()),
                json!(since(first, now)),
                json!(n(o, "/count").max(1).to_string()),
                json!(name),
            ]
        }
        Resource::Namespace => vec![
            json!(name),
            json!(s(o, "/status/phase")),
            json!(age(o, now)),
        ],
        Resource::ConfigMap => {
            let entries = |p: &str| {
                o.pointer(p)
                    .and_then(Value::as_object)
                    .map_or(0, |m| m.len())
            };
            vec![
                json!(name),
                json!(entries("/data") + entries("/binaryData")),
                json!(age(o, now)),
            ]
        }
        Resource::Secret => {
            let entries = o
                .pointer("/data")
                .and_then(Value::as_object)
                .map_or(0, |m| m.len());
            vec![
                json!(name),
                json!(s(o, "/type")),
                json!(entries),
                json!(age(o, now)),
            ]
        }
        Resource::Node => {
            let ready = o
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .is_some_and(|cs| {
                    cs.iter()
                        .any(|c| c["type"] == "Ready" && c["status"] == "True")
                });
            vec![
                json!(name),
                json!(if ready { "Ready" } else { "NotReady" }),
                json!("<none>"),
                json!(age(o, now)),
                json!(s(o, "/status/nodeInfo/kubeletVersion")),
            ]
        }
        Resource::Lease => {
            let holder = s(o, "/spec/holderIdentity");
            vec![json!(name), json!(holder), json!(age(o, now))]
        }
        Resource::Service => {
            let ports: Vec<String> = o
                .pointer("/spec/ports")
                .and_then(Value::as_array)
                .map(|ps| {
                    ps.iter()
                        .map(|p| format!("{}/{}", n(p, "/port"), s(p, "/protocol")))
                        .collect()
                })
                .unwrap_or_default();
            let selector: Vec<String> = o
                .pointer("/spec/selector")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                        .collect()
                })
                .unwrap_or_default();
            let or_none = |v: String| {
                if v.is_empty() {
                    "<none>".to_string()
                } else {
                    v
                }
            };
            vec![
                json!(name),
                json!(s(o, "/spec/type")),
                json!(or_none(s(o, "/spec/clusterIP").to_string())),
                json!("<none>"),
                json!(or_none(ports.join(","))),
                json!(age(o, now)),
                json!(or_none(selector.join(","))),
            ]
        }
        Resource::HttpRoute => {
            let hosts: Vec<&str> = o
                .pointer("/spec/hostnames")
                .and_then(Value::as_array)
                .map(|hs| hs.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            vec![
                json!(name),
                json!(format!("[{}]", hosts.join(" "))),
                json!(age(o, now)),
            ]
        }
        Resource::VirtualService => {
            let list = |path: &str| -> String {
                let items: Vec<&str> = o
                    .pointer(path)
                    .and_then(Value::as_array)
                    .map(|hs| hs.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                if items.is_empty() {
                    String::new()
                } else {
                    format!("[\"{}\"]", items.join("\",\""))
                }
            };
            vec![
                json!(name),
                json!(list("/spec/gateways")),
                json!(list("/spec/hosts")),
                json!(age(o, now)),
            ]
        }
        Resource::EventV1 => {
            vec![json!(name), json!(s(o, "/metadata/creationTimestamp"))]
        }
    }
}

/// kubectl's pod printer: READY, STATUS (the most telling reason), RESTARTS with the time
/// of the last restart.
fn pod_cells(o: &Value, now: f64) -> Vec<Value> {
    let statuses: Vec<&Value> = o
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .map(|v| v.iter().collect())
        .unwrap_or_default();
    let total = o
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let mut reason = match s(o, "/status/reason") {
        "" => s(o, "/status/phase").to_string(),
        r => r.to_string(),
    };
    let mut ready = 0;
    let mut restarts = 0;
    let mut last_restart: Option<f64> = None;
    let mut has_running = false;
    for c in statuses.iter().rev() {
        restarts += n(c, "/restartCount");
        if let Some(t) = c
            .pointer("/lastState/terminated/finishedAt")
            .and_then(Value::as_str)
            .and_then(parse_time)
        {
            last_restart = Some(last_restart.map_or(t, |l: f64| l.max(t)));
        }
        let waiting = s(c, "/state/waiting/reason");
        let terminated = s(c, "/state/terminated/reason");
        if !waiting.is_empty() {
            reason = waiting.to_string();
        } else if !terminated.is_empty() {
            reason = terminated.to_string();
        } else if c.pointer("/state/running").is_some()
            && c.get("ready").and_then(Value::as_bool) == Some(true)
        {
            has_running = true;
            ready += 1;
        }
    }
    if reason == "Completed" && has_running {
        reason = "Running".into();
    }
    if o.pointer("/metadata/deletionTimestamp").is_some() {
        reason = "Terminating".into();
    }
    let restarts = match last_restart {
        Some(t) => format!("{restarts} ({} ago)", human_duration(now - t)),
        None => restarts.to_string(),
    };
    let none = |v: &str| {
        if v.is_empty() {
            "<none>".to_string()
        } else {
            v.to_string()
        }
    };
    vec![
        json!(s(o, "/metadata/name")),
        json!(format!("{ready}/{total}")),
        json!(reason),
        json!(restarts),
        json!(age(o, now)),
        json!(none(s(o, "/status/podIP"))),
        json!(none(s(o, "/spec/nodeName"))),
        json!(none(s(o, "/status/nominatedNodeName"))),
        json!("<none>"),
    ]
}

/// kubectl's `duration.HumanDuration`: `45s`, `3m12s`, `45m`, `5h3m`, `2d`, …
pub fn human_duration(secs: f64) -> String {
    let seconds = secs.floor() as i64;
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_like_kubectl() {
        for (secs, want) in [
            (-5.0, "<invalid>"),
            (-0.5, "0s"),
            (5.0, "5s"),
            (119.0, "119s"),
            (192.0, "3m12s"),
            (120.0, "2m"),
            (2700.0, "45m"),
            (3.0 * 3600.0, "3h"),
            (5.0 * 3600.0 + 180.0, "5h3m"),
            (30.0 * 3600.0, "30h"),
            (2.0 * 86400.0, "2d"),
            (3.0 * 86400.0 + 7200.0, "3d2h"),
            (100.0 * 86400.0, "100d"),
        ] {
            assert_eq!(human_duration(secs), want, "{secs}");
        }
    }

    #[test]
    fn pod_rows() {
        let pod = json!({
            "metadata": {"name": "p", "creationTimestamp": "1970-01-01T00:00:00Z"},
            "spec": {"containers": [{"name": "c"}], "nodeName": "sim-node-1"},
            "status": {"phase": "Running", "podIP": "10.0.1.5", "containerStatuses": [{
                "name": "c", "ready": false, "restartCount": 3,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"finishedAt": "1970-01-01T00:01:00Z"}}}]}
        });
        let t = table(
            Resource::Pod,
            &[&pod],
            Some(7),
            IncludeObject::Metadata,
            true,
            200.0,
        );
        assert_eq!(t["metadata"]["resourceVersion"], "7");
        assert_eq!(t["columnDefinitions"].as_array().unwrap().len(), 9);
        assert_eq!(
            t["rows"][0]["cells"],
            json!([
                "p",
                "0/1",
                "CrashLoopBackOff",
                "3 (2m20s ago)",
                "3m20s",
                "10.0.1.5",
                "sim-node-1",
                "<none>",
                "<none>"
            ])
        );
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    }
}
