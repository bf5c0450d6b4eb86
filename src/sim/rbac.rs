//! An RBAC authorizer for the simulated API server: one namespaced Role's rules, checked
//! for every request the way the real authorizer checks them, so the console can be
//! tried with exactly the permissions it asks operators to grant.
//!
//! Discovery and other non-resource URLs are always allowed (the real cluster grants them
//! to every user through `system:discovery` and `system:public-info-viewer`).

use std::collections::HashMap;

use hyper::Method;
use k8s_openapi::api::rbac::v1::PolicyRule;
use serde_json::json;

use super::store::ApiError;

/// The user the simulator's kubeconfig stands for, as Forbidden messages name it.
pub const USER: &str = "warroom";

/// A Role bound to the simulator's user in one namespace.
#[derive(Debug, Clone)]
pub struct Rbac {
    pub rules: Vec<PolicyRule>,
    /// A ClusterRole's rules, bound to the same user: granted in every namespace and at
    /// the cluster scope.
    pub cluster_rules: Vec<PolicyRule>,
    /// Where the Role is bound: requests elsewhere, or at the cluster scope, are denied.
    pub namespace: String,
}

/// What the authorizer sees of a resource request (Kubernetes `RequestInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attributes {
    pub verb: String,
    pub group: String,
    pub resource: String,
    pub subresource: String,
    pub name: String,
    pub namespace: String,
}

/// The attributes of a resource request, or None for a non-resource URL (`/api`,
/// `/apis/apps/v1`, `/version`, `/openapi/v2`, …).
pub fn attributes(
    method: &Method,
    segments: &[String],
    query: &HashMap<String, String>,
) -> Option<Attributes> {
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let (group, rest) = match segs.as_slice() {
        ["api", _version, rest @ ..] if !rest.is_empty() => ("", rest),
        ["apis", group, _version, rest @ ..] if !rest.is_empty() => (*group, rest),
        _ => return None,
    };
    // `namespaces/NS/...` is namespaced unless it is the Namespace itself.
    let (namespace, parts): (&str, &[&str]) = match rest {
        ["namespaces", ns, more @ ..] if !more.is_empty() => (ns, more),
        _ => ("", rest),
    };
    let mut a = Attributes {
        verb: String::new(),
        group: group.to_string(),
        resource: parts.first().copied().unwrap_or("").to_string(),
        subresource: parts.get(2).copied().unwrap_or("").to_string(),
        name: parts.get(1).copied().unwrap_or("").to_string(),
        namespace: namespace.to_string(),
    };
    let watch = matches!(query.get("watch").map(String::as_str), Some("true" | "1"));
    a.verb = match *method {
        Method::GET | Method::HEAD if watch => "watch",
        Method::GET | Method::HEAD if a.name.is_empty() => "list",
        Method::GET | Method::HEAD => "get",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE if a.name.is_empty() => "deletecollection",
        Method::DELETE => "delete",
        _ => "",
    }
    .to_string();
    // A list or watch of one object by `metadata.name` is authorised like a request for
    // that name, so a Role limited by resourceNames still lets `rollout status` watch.
    if matches!(a.verb.as_str(), "list" | "watch")
        && a.name.is_empty()
        && let Some(fs) = query.get("fieldSelector")
    {
        for term in fs.split(',') {
            let term = term.trim();
            if let Some(v) = term
                .strip_prefix("metadata.name==")
                .or_else(|| term.strip_prefix("metadata.name="))
            {
                a.name = v.to_string();
            }
        }
    }
    Some(a)
}

fn has(list: &Option<Vec<String>>, want: &str) -> bool {
    list.as_ref()
        .is_some_and(|l| l.iter().any(|x| x == "*" || x == want))
}

/// Whether one rule grants the request (Kubernetes `RuleAllows`).
fn rule_allows(r: &PolicyRule, a: &Attributes) -> bool {
    let verb = r.verbs.iter().any(|v| v == "*" || *v == a.verb);
    let group = has(&r.api_groups, &a.group);
    let resource = r.resources.as_ref().is_some_and(|rs| {
        rs.iter().any(|x| {
            x == "*"
                || (a.subresource.is_empty() && *x == a.resource)
                || (!a.subresource.is_empty()
                    && (*x == format!("{}/{}", a.resource, a.subresource)
                        || *x == format!("*/{}", a.subresource)))
        })
    });
    let name = match &r.resource_names {
        None => true,
        Some(ns) if ns.is_empty() => true,
        Some(ns) => ns.contains(&a.name),
    };
    verb && group && resource && name
}

impl Rbac {
    pub fn allows(&self, a: &Attributes) -> bool {
        (a.namespace == self.namespace && self.rules.iter().any(|r| rule_allows(r, a)))
            || self.cluster_rules.iter().any(|r| rule_allows(r, a))
    }
}

/// The 403 the real API server answers, message and details alike.
pub fn forbidden(a: &Attributes) -> ApiError {
    let resource = if a.subresource.is_empty() {
        a.resource.clone()
    } else {
        format!("{}/{}", a.resource, a.subresource)
    };
    let why = if a.namespace.is_empty() {
        format!(
            "User \"{USER}\" cannot {} resource \"{resource}\" in API group \"{}\" at the cluster scope",
            a.verb, a.group
        )
    } else {
        format!(
            "User \"{USER}\" cannot {} resource \"{resource}\" in API group \"{}\" in the namespace \"{}\"",
            a.verb, a.group, a.namespace
        )
    };
    let qualified = if a.group.is_empty() {
        a.resource.clone()
    } else {
        format!("{}.{}", a.resource, a.group)
    };
    let message = if a.name.is_empty() {
        format!("{qualified} is forbidden: {why}")
    } else {
        format!("{qualified} \"{}\" is forbidden: {why}", a.name)
    };
    let mut details = serde_json::Map::new();
    if !a.name.is_empty() {
        details.insert("name".into(), json!(a.name));
    }
    if !a.group.is_empty() {
        details.insert("group".into(), json!(a.group));
    }
    details.insert("kind".into(), json!(a.resource));
    ApiError {
        code: 403,
        reason: "Forbidden",
        message,
        details: Some(details.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(groups: &[&str], resources: &[&str], verbs: &[&str], names: &[&str]) -> PolicyRule {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        PolicyRule {
            api_groups: Some(v(groups)),
            resources: Some(v(resources)),
            verbs: v(verbs),
            resource_names: (!names.is_empty()).then(|| v(names)),
            non_resource_urls: None,
        }
    }

    fn attrs(method: Method, path: &str) -> Option<Attributes> {
        let (path, q) = path.split_once('?').unwrap_or((path, ""));
        let segments: Vec<String> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        let query = q
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_string(), v.to_string())
            })
            .collect();
        attributes(&method, &segments, &query)
    }

    #[test]
    fn request_attributes_like_the_real_request_info() {
        let a = attrs(
            Method::PATCH,
            "/apis/apps/v1/namespaces/erp/deployments/web/scale",
        )
        .unwrap();
        assert_eq!(
            (a.verb.as_str(), a.group.as_str(), a.resource.as_str()),
            ("patch", "apps", "deployments")
        );
        assert_eq!(
            (
                a.subresource.as_str(),
                a.name.as_str(),
                a.namespace.as_str()
            ),
            ("scale", "web", "erp")
        );
        let w = attrs(
            Method::GET,
            "/apis/apps/v1/namespaces/erp/deployments?watch=true&fieldSelector=metadata.name%3Dweb",
        )
        .unwrap();
        assert_eq!(w.verb, "watch");
        let l = attrs(
            Method::GET,
            "/apis/apps/v1/namespaces/erp/deployments?fieldSelector=metadata.name=web",
        )
        .unwrap();
        assert_eq!((l.verb.as_str(), l.name.as_str()), ("list", "web"));
        let ns = attrs(Method::GET, "/api/v1/namespaces/erp").unwrap();
        assert_eq!(
            (
                ns.resource.as_str(),
                ns.name.as_str(),
                ns.namespace.as_str()
            ),
            ("namespaces", "erp", "")
        );
        let dc = attrs(Method::DELETE, "/api/v1/namespaces/erp/pods").unwrap();
        assert_eq!(dc.verb, "deletecollection");
        for p in [
            "/api",
            "/apis",
            "/apis/apps",
            "/apis/apps/v1",
            "/api/v1",
            "/version",
            "/openapi/v2",
        ] {
            assert_eq!(attrs(Method::GET, p), None, "{p}");
        }
    }

    #[test]
    fn rules_match_verbs_groups_resources_subresources_and_names() {
        let rbac = Rbac {
            cluster_rules: Vec::new(),
            namespace: "erp".into(),
            rules: vec![
                rule(&["apps"], &["deployments"], &["get", "list", "watch"], &[]),
                rule(&["apps"], &["deployments/scale"], &["patch"], &["web"]),
                rule(&[""], &["events"], &["*"], &[]),
            ],
        };
        let ok = |m: Method, p: &str| rbac.allows(&attrs(m, p).unwrap());
        assert!(ok(
            Method::GET,
            "/apis/apps/v1/namespaces/erp/deployments/web"
        ));
        assert!(ok(
            Method::GET,
            "/apis/apps/v1/namespaces/erp/deployments?watch=1"
        ));
        assert!(!ok(
            Method::PATCH,
            "/apis/apps/v1/namespaces/erp/deployments/web"
        ));
        assert!(ok(
            Method::PATCH,
            "/apis/apps/v1/namespaces/erp/deployments/web/scale"
        ));
        assert!(!ok(
            Method::PATCH,
            "/apis/apps/v1/namespaces/erp/deployments/db/scale"
        ));
        assert!(!ok(
            Method::GET,
            "/apis/apps/v1/namespaces/erp/deployments/web/status"
        ));
        assert!(ok(Method::POST, "/api/v1/namespaces/erp/events"));
        assert!(!ok(
            Method::POST,
            "/apis/events.k8s.io/v1/namespaces/erp/events"
        ));
        assert!(!ok(
            Method::GET,
            "/apis/apps/v1/namespaces/other/deployments"
        ));
        assert!(!ok(Method::GET, "/apis/apps/v1/deployments"));
    }

    #[test]
    fn forbidden_messages_read_like_the_api_servers() {
        let f = forbidden(
            &attrs(
                Method::PATCH,
                "/apis/apps/v1/namespaces/default/deployments/erp-backend",
            )
            .unwrap(),
        );
        assert_eq!(
            f.status(),
            json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"deployments.apps \"erp-backend\" is forbidden: User \"warroom\" cannot patch resource \"deployments\" in API group \"apps\" in the namespace \"default\"","reason":"Forbidden","details":{"name":"erp-backend","group":"apps","kind":"deployments"},"code":403})
        );
        let list = forbidden(&attrs(Method::GET, "/api/v1/namespaces/erp/pods").unwrap());
        assert_eq!(
            list.message,
            "pods is forbidden: User \"warroom\" cannot list resource \"pods\" in API group \"\" in the namespace \"erp\""
        );
        assert_eq!(list.details, Some(json!({"kind": "pods"})));
        let scale = forbidden(
            &attrs(
                Method::PATCH,
                "/apis/apps/v1/namespaces/erp/deployments/web/scale",
            )
            .unwrap(),
        );
        assert!(scale.message.ends_with(
            "cannot patch resource \"deployments/scale\" in API group \"apps\" in the namespace \"erp\""
        ));
        let all = forbidden(&attrs(Method::GET, "/apis/apps/v1/deployments").unwrap());
        assert!(
            all.message.ends_with("at the cluster scope"),
            "{}",
            all.message
        );
    }
}
