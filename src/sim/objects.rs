//! The objects a scenario starts with, and what the API server does to every object it is
//! given: defaulting (so Deployments and their ReplicaSets carry identical templates, which
//! kubectl compares exactly) and the validation clients rely on.

use serde_json::{Value, json};

use super::selector::{format_selector, selector_object_matches};
use super::store::{ApiError, Resource, rfc3339};
use crate::runbook::Scenario;
use crate::runbook::scenario::{DeploymentSpec, ServiceRef};

/// The Deployments of a scenario: each service's stable and canary, created at `created`.
pub fn initial_deployments(s: &Scenario, created: f64) -> Vec<Value> {
    s.all_services()
        .flat_map(|svc| [(svc, svc.stable), (svc, svc.canary)])
        .map(|(svc, d)| {
            let mut obj = deployment(s, svc, d, created);
            default_deployment(&mut obj);
            obj
        })
        .collect()
}

fn deployment(s: &Scenario, svc: ServiceRef<'_>, d: &DeploymentSpec, created: f64) -> Value {
    let app = svc.app;
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": d.name,
            "namespace": s.namespace,
            "creationTimestamp": rfc3339(created),
            "labels": {"app": app, "track": d.track},
            "annotations": {"kubernetes.io/change-cause": format!("initial deploy of {}", d.image)},
        },
        "spec": {
            "replicas": d.replicas,
            "selector": {"matchLabels": {"app": app, "track": d.track}},
            "template": {
                "metadata": {"labels": {"app": app, "track": d.track, "version": Scenario::tag(&d.image)}},
                "spec": {"containers": [{
                    "name": app,
                    "image": d.image,
                    "ports": [{"containerPort": 8080}],
                    "resources": {"limits": {"cpu": "1", "memory": "2Gi"}},
                    "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
                }]},
            },
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {
                    "maxSurge": int_or_string(&d.max_surge),
                    "maxUnavailable": int_or_string(&d.max_unavailable),
                },
            },
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": s.timing.progress_deadline.secs(),
        },
    })
}

/// The Service in front of one track's pods, as `kubectl expose` would make it.
pub fn service(
    s: &Scenario,
    svc: ServiceRef<'_>,
    d: &DeploymentSpec,
    cluster_ip: &str,
    created: f64,
) -> Value {
    let app = svc.app;
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": d.name,
            "namespace": s.namespace,
            "creationTimestamp": rfc3339(created),
            "labels": {"app": app, "track": d.track},
        },
        "spec": {
            "type": "ClusterIP",
            "clusterIP": cluster_ip,
            "clusterIPs": [cluster_ip],
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "internalTrafficPolicy": "Cluster",
            "sessionAffinity": "None",
            "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}],
            "selector": {"app": app, "track": d.track},
        },
        "status": {"loadBalancer": {}},
    })
}

/// The HTTPRoute that splits a service's traffic: all of it to stable at first.
pub fn http_route(s: &Scenario, svc: ServiceRef<'_>, created: f64) -> Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {
            "name": svc.stable.name,
            "namespace": s.namespace,
            "creationTimestamp": rfc3339(created),
            "labels": {"app": svc.app},
        },
        "spec": {
            "parentRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "gateway"}],
            "rules": [{
                "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                "backendRefs": [
                    {"group": "", "kind": "Service", "name": svc.stable.name, "port": 80, "weight": 100},
                    {"group": "", "kind": "Service", "name": svc.canary.name, "port": 80, "weight": 0},
                ],
            }],
        },
    })
}

/// The VirtualService that splits a service's traffic in the mesh: all of it to stable
/// at first.
pub fn virtual_service(s: &Scenario, svc: ServiceRef<'_>, created: f64) -> Value {
    json!({
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {
            "name": svc.stable.name,
            "namespace": s.namespace,
            "creationTimestamp": rfc3339(created),
            "labels": {"app": svc.app},
        },
        "spec": {
            "hosts": [svc.stable.name],
            "http": [{
                "route": [
                    {"destination": {"host": svc.stable.name, "port": {"number": 80}}, "weight": 100},
                    {"destination": {"host": svc.canary.name, "port": {"number": 80}}, "weight": 0},
                ],
            }],
        },
    })
}

/// `25%` stays a string; `1` becomes a number, as IntOrString serializes.
fn int_or_string(s: &str) -> Value {
    match s.trim().parse::<i64>() {
        Ok(n) => json!(n),
        Err(_) => json!(s.trim()),
    }
}

/// A Ready worker node with this much allocatable CPU and memory.
pub fn node(name: &str, cpu: &str, memory: &str, minor: &str, created: f64) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"},
            "creationTimestamp": rfc3339(created),
        },
        "spec": {},
        "status": {
            "capacity": {"cpu": cpu, "memory": memory, "pods": "110"},
            "allocatable": {"cpu": cpu, "memory": memory, "pods": "110"},
            "conditions": [{
                "type": "Ready",
                "status": "True",
                "reason": "KubeletReady",
                "message": "kubelet is posting ready status",
                "lastTransitionTime": rfc3339(created),
            }],
            "nodeInfo": {"kubeletVersion": format!("v1.{minor}.0")},
        },
    })
}

/// An Opaque Secret whose one key holds a placeholder, never a real secret.
pub fn secret(ns: &str, name: &str, created: f64) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": ns,
            "creationTimestamp": rfc3339(created),
        },
        "type": "Opaque",
        "data": {"placeholder": "c2ltdWxhdGVk"},
    })
}

pub fn namespace(name: &str, created: f64) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "creationTimestamp": rfc3339(created),
            "labels": {"kubernetes.io/metadata.name": name},
        },
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    })
}

/// Removes `null` fields, as decoding into the API's typed objects does: a client that
/// sends `"creationTimestamp": null` in a template (kubectl does) must get back a template
/// equal to the stored one.
pub fn drop_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(drop_nulls);
        }
        Value::Array(l) => l.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

fn set_default(obj: &mut Value, key: &str, value: Value) {
    if let Some(m) = obj.as_object_mut() {
        m.entry(key).or_insert(value);
    }
}

/// The apps/v1 defaults the real apiserver applies to a Deployment.
pub fn default_deployment(d: &mut Value) {
    if !d.get("spec").is_some_and(Value::is_object) {
        d["spec"] = json!({});
    }
    let spec = &mut d["spec"];
    set_default(spec, "replicas", json!(1));
    set_default(spec, "revisionHistoryLimit", json!(10));
    set_default(spec, "progressDeadlineSeconds", json!(600));
    set_default(spec, "strategy", json!({}));
    let strategy = &mut spec["strategy"];
    set_default(strategy, "type", json!("RollingUpdate"));
    if strategy["type"] == "RollingUpdate" {
        set_default(strategy, "rollingUpdate", json!({}));
        set_default(&mut strategy["rollingUpdate"], "maxSurge", json!("25%"));
        set_default(
            &mut strategy["rollingUpdate"],
            "maxUnavailable",
            json!("25%"),
        );
    }
    if let Some(tspec) = spec.pointer_mut("/template/spec") {
        default_pod_spec(tspec);
    }
}

/// The core/v1 PodSpec defaults (the ones that show in a stored template).
pub fn default_pod_spec(spec: &mut Value) {
    set_default(spec, "restartPolicy", json!("Always"));
    set_default(spec, "terminationGracePeriodSeconds", json!(30));
    set_default(spec, "dnsPolicy", json!("ClusterFirst"));
    set_default(spec, "securityContext", json!({}));
    set_default(spec, "schedulerName", json!("default-scheduler"));
    for list in ["initContainers", "containers"] {
        let Some(cs) = spec.get_mut(list).and_then(Value::as_array_mut) else {
            continue;
        };
        for c in cs {
            set_default(c, "terminationMessagePath", json!("/dev/termination-log"));
            set_default(c, "terminationMessagePolicy", json!("File"));
            set_default(c, "resources", json!({}));
            let image = c.get("image").and_then(Value::as_str).unwrap_or("");
            let policy = if image_tag(image).is_none_or(|t| t == "latest") {
                "Always"
            } else {
                "IfNotPresent"
            };
            set_default(c, "imagePullPolicy", json!(policy));
            if let Some(ports) = c.get_mut("ports").and_then(Value::as_array_mut) {
                for p in ports {
                    set_default(p, "protocol", json!("TCP"));
                }
            }
            for probe in ["readinessProbe", "livenessProbe", "startupProbe"] {
                let Some(p) = c.get_mut(probe).filter(|p| p.is_object()) else {
                    continue;
                };
                set_default(p, "timeoutSeconds", json!(1));
                set_default(p, "periodSeconds", json!(10));
                set_default(p, "successThreshold", json!(1));
                set_default(p, "failureThreshold", json!(3));
                if let Some(h) = p.get_mut("httpGet") {
                    set_default(h, "scheme", json!("HTTP"));
                }
            }
        }
    }
}

/// The tag of an image reference, if it has one (a digest-only or bare name has none).
fn image_tag(image: &str) -> Option<&str> {
    let last = image.rsplit('/').next().unwrap_or(image);
    let last = last.split('@').next().unwrap_or(last);
    last.split_once(':').map(|(_, t)| t)
}

/// The checks clients depend on: what a real apiserver would reject with 422.
pub fn validate_deployment(d: &Value, old: Option<&Value>) -> Result<(), ApiError> {
    let name = d
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let invalid = |m: String| Err(ApiError::invalid(Resource::Deployment, name, m));
    match d.pointer("/spec/replicas") {
        Some(r)
            if r.as_i64()
                .is_some_and(|n| (0..=i32::MAX as i64).contains(&n)) => {}
        Some(r) => {
            return invalid(format!(
                "spec.replicas: Invalid value: {r}: must be greater than or equal to 0"
            ));
        }
        None => {}
    }
    let selector = d.pointer("/spec/selector").cloned().unwrap_or(Value::Null);
    if format_selector(&selector) == "<none>" {
        return invalid("spec.selector: Required value".into());
    }
    if let Some(old_sel) = old.and_then(|o| o.pointer("/spec/selector"))
        && *old_sel != selector
    {
        return invalid(format!(
            "spec.selector: Invalid value: {}: field is immutable",
            format_selector(&selector)
        ));
    }
    let labels = d.pointer("/spec/template/metadata/labels");
    if !selector_object_matches(&selector, labels) {
        return invalid(format!(
            "spec.template.metadata.labels: Invalid value: {}: `selector` does not match template `labels`",
            labels.cloned().unwrap_or_default()
        ));
    }
    let containers = d
        .pointer("/spec/template/spec/containers")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if containers.is_empty() {
        return invalid("spec.template.spec.containers: Required value".into());
    }
    for (i, c) in containers.iter().enumerate() {
        for field in ["name", "image"] {
            if c.get(field)
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                return invalid(format!(
                    "spec.template.spec.containers[{i}].{field}: Required value"
                ));
            }
        }
    }
    let ru = d.pointer("/spec/strategy/rollingUpdate");
    let is_zero = |v: Option<&Value>| match v {
        Some(Value::Number(n)) => n.as_i64() == Some(0),
        Some(Value::String(s)) => s == "0%" || s == "0",
        _ => false,
    };
    if let Some(ru) = ru
        && is_zero(ru.get("maxSurge"))
        && is_zero(ru.get("maxUnavailable"))
    {
        return invalid(
            "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0"
                .into(),
        );
    }
    Ok(())
}

/// The `autoscaling/v1` Scale of a Deployment.
pub fn scale_of(d: &Value) -> Value {
    let m = &d["metadata"];
    let mut meta = json!({});
    for f in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if let Some(v) = m.get(f) {
            meta[f] = v.clone();
        }
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": meta,
        "spec": {"replicas": d.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1)},
        "status": {
            "replicas": d.pointer("/status/replicas").and_then(Value::as_i64).unwrap_or(0),
            "selector": d.pointer("/spec/selector").map(format_selector).unwrap_or_default(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario() -> Scenario {
        crate::runbook::parse_scenario(include_str!("../../assets/scenarios/default.yaml")).unwrap()
    }

    #[test]
    fn initial_deployments_are_defaulted_and_valid() {
        let ds = initial_deployments(&scenario(), 0.0);
        assert_eq!(ds.len(), 2);
        let d = &ds[0];
        assert_eq!(d["metadata"]["name"], "erp-backend");
        assert_eq!(d["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
        let c = &d["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["imagePullPolicy"], "IfNotPresent");
        assert_eq!(c["ports"][0]["protocol"], "TCP");
        assert_eq!(c["readinessProbe"]["httpGet"]["scheme"], "HTTP");
        assert_eq!(
            d["spec"]["template"]["metadata"]["labels"]["version"],
            "v0.9.3"
        );
        assert_eq!(d["spec"]["progressDeadlineSeconds"], 600);
        validate_deployment(d, None).unwrap();
        validate_deployment(&ds[1], None).unwrap();
    }

    #[test]
    fn validation_rejects_what_the_apiserver_rejects() {
        let d = initial_deployments(&scenario(), 0.0).remove(0);
        let mut bad = d.clone();
        bad["spec"]["replicas"] = json!(-1);
        assert_eq!(validate_deployment(&bad, None).unwrap_err().code, 422);
        let mut bad = d.clone();
        bad["spec"]["selector"]["matchLabels"]["track"] = json!("x");
        assert!(validate_deployment(&bad, Some(&d)).is_err());
        let mut bad = d.clone();
        bad["spec"]["template"]["spec"]["containers"][0]["image"] = json!("");
        assert!(validate_deployment(&bad, None).is_err());
    }

    #[test]
    fn scale_subresource() {
        let mut d = initial_deployments(&scenario(), 0.0).remove(0);
        d["status"] = json!({"replicas": 9});
        let s = scale_of(&d);
        assert_eq!(s["spec"]["replicas"], 10);
        assert_eq!(
            s["status"],
            json!({"replicas": 9, "selector": "app=erp-backend,track=stable"})
        );
    }
}
