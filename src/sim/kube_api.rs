//! The Kubernetes HTTP API of the simulator: discovery, get/list/watch, create, update,
//! patch, delete, the `scale` and `status` subresources, and server-side Tables — the
//! protocol kubectl and kube-rs speak (see notes/kubernetes-api.md).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::objects::{default_deployment, drop_nulls, scale_of, validate_deployment};
use super::patch::{self, PatchType};
use super::rbac;
use super::selector::{FieldSelector, LabelSelector};
use super::server::Sim;
use super::store::{ApiError, Change, EventType, Resource, Store, now};
use super::table::{IncludeObject, TABLE_CONTENT_TYPE, table};

pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// How often a watch that asked for bookmarks gets one.
const BOOKMARK_EVERY: Duration = Duration::from_secs(5);
/// A watch without `timeoutSeconds` ends after this long (the real server picks 30–60 min).
const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(1800);

/// One request, read in full.
struct Req {
    method: Method,
    segments: Vec<String>,
    query: HashMap<String, String>,
    accept: String,
    content_type: String,
    body: Bytes,
}

impl Req {
    fn q(&self, key: &str) -> Option<&str> {
        self.query.get(key).map(String::as_str)
    }

    fn flag(&self, key: &str) -> bool {
        matches!(self.q(key), Some("true" | "1"))
    }

    fn dry_run(&self) -> bool {
        self.q("dryRun") == Some("All")
    }

    /// What representation the client asked for.
    fn format(&self) -> Format {
        if self.accept.contains("as=Table") {
            Format::Table(IncludeObject::parse(self.q("includeObject")))
        } else if self.accept.contains("as=PartialObjectMetadata") {
            Format::Metadata
        } else {
            Format::Full
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Full,
    Table(IncludeObject),
    /// `PartialObjectMetadata(List)`: what metadata-only watchers ask for.
    Metadata,
}

pub async fn handle(sim: Arc<Sim>, req: Request<Incoming>) -> Response<Body> {
    let method = req.method().clone();
    let path_and_query = req.uri().path_and_query().map_or_else(
        || req.uri().path().to_string(),
        |pq| pq.as_str().to_string(),
    );
    let header = |name| {
        req.headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let accept = header(ACCEPT);
    let content_type = header(CONTENT_TYPE);
    let segments: Vec<String> = req
        .uri()
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let query = parse_query(req.uri().query().unwrap_or(""));
    let denied = sim.rbac.as_ref().and_then(|rbac| {
        let a = rbac::attributes(&method, &segments, &query)?;
        (!rbac.allows(&a)).then(|| rbac::forbidden(&a))
    });
    sim.log_request(method.as_str(), &path_and_query, denied.is_none());
    let answer = |resp: Response<Body>| {
        sim.log_answer(method.as_str(), &path_and_query, resp.status().as_u16());
        resp
    };
    if let Some(e) = denied {
        return answer(error(&e));
    }
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return answer(error(&ApiError::bad_request(format!(
                "reading the body: {e}"
            ))));
        }
    };
    let req = Req {
        method: method.clone(),
        segments,
        query,
        accept,
        content_type,
        body,
    };
    match route(&sim, &req) {
        Ok(Reply::Now(resp)) => answer(resp),
        Ok(Reply::Watch(spec)) => watch(sim, spec),
        Err(e) => answer(error(&e)),
    }
}

enum Reply {
    Now(Response<Body>),
    Watch(WatchSpec),
}

fn route(sim: &Sim, req: &Req) -> Result<Reply, ApiError> {
    let segs: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    let get_only = |v: Value| {
        if req.method == Method::GET {
            Ok(Reply::Now(json_response(StatusCode::OK, &v)))
        } else {
            Err(method_not_allowed())
        }
    };
    match segs.as_slice() {
        ["version"] => get_only(version(sim)),
        ["healthz" | "livez" | "readyz"] => Ok(Reply::Now(text_response("ok"))),
        ["api"] => get_only(json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": sim.kube_addr.to_string()}],
        })),
        ["apis"] => get_only(group_list()),
        ["api", "v1"] => get_only(resource_list("", "v1")?),
        ["apis", name] => get_only(group(name).ok_or_else(path_not_found)?),
        ["apis", group, version] => get_only(resource_list(group, version)?),
        ["api", "v1", rest @ ..] => resource_request(sim, req, "", "v1", rest),
        ["apis", group, version, rest @ ..] => resource_request(sim, req, group, version, rest),
        _ => Err(path_not_found()),
    }
}

fn resource_request(
    sim: &Sim,
    req: &Req,
    group: &str,
    version: &str,
    rest: &[&str],
) -> Result<Reply, ApiError> {
    let find = |plural: &str| Resource::find(group, version, plural).ok_or_else(path_not_found);
    // `namespaces/X` is the Namespace object itself unless more follows.
    let (res, ns, name, sub) = match rest {
        ["namespaces", ns, plural, tail @ ..] if !(group.is_empty() && *plural == "status") => {
            let res = find(plural)?;
            match tail {
                [] => (res, Some(*ns), None, None),
                [name] => (res, Some(*ns), Some(*name), None),
                [name, sub] => (res, Some(*ns), Some(*name), Some(*sub)),
                _ => return Err(path_not_found()),
            }
        }
        [plural] => (find(plural)?, None, None, None),
        [plural, name] => (find(plural)?, None, Some(*name), None),
        [plural, name, sub] => (find(plural)?, None, Some(*name), Some(*sub)),
        _ => return Err(path_not_found()),
    };
    let info = res.info();
    if (!info.namespaced && ns.is_some()) || (info.namespaced && name.is_some() && ns.is_none()) {
        return Err(path_not_found());
    }
    let ns_key = ns.unwrap_or("");
    match (name, sub) {
        (None, _) => match req.method {
            Method::GET if req.flag("watch") => Ok(Reply::Watch(watch_spec(req, res, ns)?)),
            Method::GET => Ok(Reply::Now(list(sim, req, res, ns)?)),
            Method::POST => Ok(Reply::Now(create(sim, req, res, ns_key)?)),
            _ => Err(method_not_allowed()),
        },
        (Some(name), None) => match req.method {
            Method::GET => Ok(Reply::Now(get(sim, req, res, ns_key, name)?)),
            Method::PUT => Ok(Reply::Now(write(sim, req, res, ns_key, name, false)?)),
            Method::PATCH => Ok(Reply::Now(write(sim, req, res, ns_key, name, false)?)),
            Method::DELETE => Ok(Reply::Now(delete(sim, req, res, ns_key, name)?)),
            _ => Err(method_not_allowed()),
        },
        (Some(name), Some("status")) if info.status_subresource => match req.method {
            Method::GET => Ok(Reply::Now(get(sim, req, res, ns_key, name)?)),
            Method::PUT | Method::PATCH => {
                Ok(Reply::Now(write(sim, req, res, ns_key, name, true)?))
            }
            _ => Err(method_not_allowed()),
        },
        (Some(name), Some("log")) if res == Resource::Pod => match req.method {
            Method::GET => Ok(Reply::Now(pod_log(sim, req, ns_key, name)?)),
            _ => Err(method_not_allowed()),
        },
        (Some(name), Some("scale")) if res == Resource::Deployment => match req.method {
            Method::GET => {
                let d = sim.read(|c| c.store.get(res, ns_key, name).cloned());
                let d = d.ok_or_else(|| ApiError::not_found(res, name))?;
                Ok(Reply::Now(json_response(StatusCode::OK, &scale_of(&d))))
            }
            Method::PUT | Method::PATCH => Ok(Reply::Now(write_scale(sim, req, ns_key, name)?)),
            _ => Err(method_not_allowed()),
        },
        _ => Err(path_not_found()),
    }
}

// ---------------------------------------------------------------- reads

fn selectors(req: &Req) -> Result<(LabelSelector, FieldSelector), ApiError> {
    let label = LabelSelector::parse(req.q("labelSelector").unwrap_or(""))
        .map_err(ApiError::bad_request)?;
    let field = FieldSelector::parse(req.q("fieldSelector").unwrap_or(""))
        .map_err(ApiError::bad_request)?;
    Ok((label, field))
}

fn matches(obj: &Value, label: &LabelSelector, field: &FieldSelector) -> bool {
    label.matches(obj.pointer("/metadata/labels")) && field.matches(obj)
}

fn list(sim: &Sim, req: &Req, res: Resource, ns: Option<&str>) -> Result<Response<Body>, ApiError> {
    let (label, field) = selectors(req)?;
    let (items, rv) = sim.read(|c| {
        let items: Vec<Arc<Value>> = c
            .store
            .list(res, ns)
            .filter(|o| matches(o, &label, &field))
            .cloned()
            .collect();
        (items, c.store.rv())
    });
    let refs: Vec<&Value> = items.iter().map(|o| o.as_ref()).collect();
    Ok(match req.format() {
        Format::Table(include) => {
            table_response(&table(res, &refs, Some(rv), include, true, now()))
        }
        Format::Metadata => json_response(
            StatusCode::OK,
            &json!({
                "kind": "PartialObjectMetadataList",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": {"resourceVersion": rv.to_string()},
                "items": refs.iter().map(|o| partial(o)).collect::<Vec<_>>(),
            }),
        ),
        Format::Full => json_response(
            StatusCode::OK,
            &json!({
                "kind": format!("{}List", res.info().kind),
                "apiVersion": res.api_version(),
                "metadata": {"resourceVersion": rv.to_string()},
                "items": refs,
            }),
        ),
    })
}

fn get(
    sim: &Sim,
    req: &Req,
    res: Resource,
    ns: &str,
    name: &str,
) -> Result<Response<Body>, ApiError> {
    let obj = sim.read(|c| c.store.get(res, ns, name).cloned());
    let obj = obj.ok_or_else(|| ApiError::not_found(res, name))?;
    Ok(represent(req, res, &obj, StatusCode::OK))
}

/// The object in the representation the client asked for.
fn represent(req: &Req, res: Resource, obj: &Value, code: StatusCode) -> Response<Body> {
    match req.format() {
        Format::Table(include) => {
            let rv = obj
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .and_then(|s| s.parse().ok());
            table_response(&table(res, &[obj], rv, include, true, now()))
        }
        Format::Metadata => json_response(code, &partial(obj)),
        Format::Full => json_response(code, obj),
    }
}

fn partial(obj: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or_default(),
    })
}

// ---------------------------------------------------------------- writes

fn parse_body(req: &Req) -> Result<Value, ApiError> {
    let v: Value = serde_json::from_slice(&req.body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body must be JSON (the simulator does not read YAML or protobuf): {e}"
        ))
    })?;
    if v.is_object() {
        Ok(v)
    } else {
        Err(ApiError::bad_request("the body must be a JSON object"))
    }
}

fn create(sim: &Sim, req: &Req, res: Resource, ns: &str) -> Result<Response<Body>, ApiError> {
    let mut obj = parse_body(req)?;
    drop_nulls(&mut obj);
    if res.info().namespaced {
        let body_ns = obj.pointer("/metadata/namespace").and_then(Value::as_str);
        match body_ns {
            Some(b) if !b.is_empty() && b != ns => {
                return Err(ApiError::bad_request(format!(
                    "the namespace of the provided object does not match the namespace sent on the request ({b} != {ns})"
                )));
            }
            _ => super::store::meta_mut(&mut obj).insert("namespace".into(), json!(ns)),
        };
    }
    // Status is the controllers' to write.
    if res.info().status_subresource && res != Resource::Namespace {
        obj.as_object_mut().map(|o| o.remove("status"));
    }
    if res == Resource::Deployment {
        default_deployment(&mut obj);
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        validate_deployment(&obj, None).map_err(|e| {
            if name.is_empty() {
                ApiError::invalid(res, name, "metadata.name: Required value")
            } else {
                e
            }
        })?;
    }
    if res == Resource::ConfigMap {
        validate_config_map(&obj)?;
    }
    if res == Resource::Namespace && obj.get("status").is_none() {
        obj["status"] = json!({"phase": "Active"});
    }
    let dry_run = req.dry_run();
    let created = sim.write(|c| {
        if dry_run {
            // A throwaway store fills the server-owned fields without touching the real one.
            let mut scratch = Store::new(c.store.rv());
            scratch.create(res, obj, now()).map(|o| (*o).clone())
        } else {
            c.store.create(res, obj, now()).map(|o| (*o).clone())
        }
    })?;
    Ok(represent(req, res, &created, StatusCode::CREATED))
}

/// What the API server holds a ConfigMap to: its keys and values together at most 1 MiB.
const CONFIG_MAP_MAX: usize = 1024 * 1024;

fn validate_config_map(obj: &Value) -> Result<(), ApiError> {
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let size: usize = ["/data", "/binaryData"]
        .iter()
        .filter_map(|p| obj.pointer(p).and_then(Value::as_object))
        .flat_map(|m| m.iter())
        .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
        .sum();
    if size > CONFIG_MAP_MAX {
        return Err(ApiError::invalid(
            Resource::ConfigMap,
            name,
            format!("[]: Too long: must have at most {CONFIG_MAP_MAX} bytes"),
        ));
    }
    Ok(())
}

/// What a PUT or PATCH asks for.
enum Edit {
    /// PUT: the whole new object.
    Replace(Value),
    Patch(PatchType),
}

impl Edit {
    fn of(req: &Req) -> Result<Edit, ApiError> {
        if req.method != Method::PATCH {
            return Ok(Edit::Replace(parse_body(req)?));
        }
        PatchType::from_content_type(&req.content_type)
            .map(Edit::Patch)
            .ok_or_else(|| {
                ApiError::new(
                    415,
                    "UnsupportedMediaType",
                    format!(
                        "the body of the request was in an unknown format - accepted media types include: \
                         application/json-patch+json, application/merge-patch+json, \
                         application/apply-patch+yaml, application/strategic-merge-patch+json (got {:?})",
                        req.content_type
                    ),
                )
            })
    }

    /// The edited version of `current`.
    fn apply(&self, current: &Value, body: &[u8]) -> Result<Value, ApiError> {
        let mut doc = match self {
            Edit::Replace(v) => v.clone(),
            Edit::Patch(pt) => {
                let mut doc = current.clone();
                patch::apply(&mut doc, *pt, body).map_err(|m| match pt {
                    // A JSON patch that does not fit the object is a semantic error.
                    PatchType::Json => ApiError::patch_failed(m),
                    _ => ApiError::bad_request(m),
                })?;
                doc
            }
        };
        drop_nulls(&mut doc);
        Ok(doc)
    }
}

/// PUT or PATCH of an object or its status.
fn write(
    sim: &Sim,
    req: &Req,
    res: Resource,
    ns: &str,
    name: &str,
    status_only: bool,
) -> Result<Response<Body>, ApiError> {
    let edit = Edit::of(req)?;
    let dry_run = req.dry_run();
    let (stored, created) = sim.write(|c| -> Result<(Value, bool), ApiError> {
        let Some(old) = c.store.get(res, ns, name).cloned() else {
            // Server-side apply creates what does not exist yet.
            if matches!(edit, Edit::Patch(PatchType::Apply)) && !status_only {
                let mut obj = edit.apply(&json!({}), &req.body)?;
                let meta = super::store::meta_mut(&mut obj);
                meta.insert("name".into(), json!(name));
                if res.info().namespaced {
                    meta.insert("namespace".into(), json!(ns));
                }
                if res == Resource::Deployment {
                    default_deployment(&mut obj);
                    validate_deployment(&obj, None)?;
                }
                if dry_run {
                    return Ok((obj, true));
                }
                return Ok(((*c.store.create(res, obj, now())?).clone(), true));
            }
            return Err(ApiError::not_found(res, name));
        };
        let mut new = edit.apply(&old, &req.body)?;
        check_identity(res, &old, &new, ns, name)?;
        if res == Resource::ConfigMap {
            validate_config_map(&new)?;
        }
        // The main resource and its status subresource each write only their own part.
        let keep_status_of = if status_only { &new } else { &old };
        let status = keep_status_of.get("status").cloned();
        if status_only {
            new = (*old).clone();
        }
        if status_only || res.info().status_subresource {
            match status {
                Some(s) => new["status"] = s,
                None => {
                    new.as_object_mut().map(|o| o.remove("status"));
                }
            }
        }
        if res == Resource::Deployment && !status_only {
            default_deployment(&mut new);
            validate_deployment(&new, Some(&old))?;
        }
        let stored = if dry_run {
            c.store.preview_update(res, new)?
        } else {
            (*c.store.update(res, new)?).clone()
        };
        Ok((stored, false))
    })?;
    let code = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(represent(req, res, &stored, code))
}

/// The body may not rename the object, and a resourceVersion in it is a precondition.
fn check_identity(
    res: Resource,
    old: &Value,
    new: &Value,
    ns: &str,
    name: &str,
) -> Result<(), ApiError> {
    let field = |v: &Value, f: &str| {
        v.pointer(&format!("/metadata/{f}"))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    if let Some(n) = field(new, "name").filter(|n| n != name) {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({n}) does not match the name on the URL ({name})"
        )));
    }
    if let Some(n) = field(new, "namespace").filter(|n| !n.is_empty() && n != ns) {
        return Err(ApiError::bad_request(format!(
            "the namespace of the object ({n}) does not match the namespace on the URL ({ns})"
        )));
    }
    if let Some(rv) = field(new, "resourceVersion").filter(|rv| !rv.is_empty())
        && Some(rv) != field(old, "resourceVersion")
    {
        return Err(ApiError::conflict(res, name));
    }
    Ok(())
}

fn write_scale(sim: &Sim, req: &Req, ns: &str, name: &str) -> Result<Response<Body>, ApiError> {
    let res = Resource::Deployment;
    let edit = Edit::of(req)?;
    let dry_run = req.dry_run();
    let d = sim.write(|c| -> Result<Value, ApiError> {
        let old = c
            .store
            .get(res, ns, name)
            .cloned()
            .ok_or_else(|| ApiError::not_found(res, name))?;
        let scale = edit.apply(&scale_of(&old), &req.body)?;
        check_identity(res, &old, &scale, ns, name)?;
        let replicas = scale.pointer("/spec/replicas").and_then(Value::as_i64);
        let replicas = match replicas {
            Some(r) if r >= 0 => r,
            _ => {
                return Err(ApiError::invalid(
                    res,
                    name,
                    "spec.replicas: Invalid value: must be greater than or equal to 0",
                ));
            }
        };
        let mut new = (*old).clone();
        new["spec"]["replicas"] = json!(replicas);
        if dry_run {
            c.store.preview_update(res, new)
        } else {
            Ok((*c.store.update(res, new)?).clone())
        }
    })?;
    Ok(json_response(StatusCode::OK, &scale_of(&d)))
}

fn delete(
    sim: &Sim,
    req: &Req,
    res: Resource,
    ns: &str,
    name: &str,
) -> Result<Response<Body>, ApiError> {
    // The grace period comes as a parameter or in a DeleteOptions body.
    let body_grace = serde_json::from_slice::<Value>(&req.body)
        .ok()
        .and_then(|b| b.get("gracePeriodSeconds").and_then(Value::as_i64));
    let grace = req
        .q("gracePeriodSeconds")
        .and_then(|g| g.parse().ok())
        .or(body_grace);
    let dry_run = req.dry_run();
    let deleted = sim.write(|c| -> Result<Value, ApiError> {
        let old = c
            .store
            .get(res, ns, name)
            .cloned()
            .ok_or_else(|| ApiError::not_found(res, name))?;
        if dry_run {
            return Ok((*old).clone());
        }
        if res == Resource::Pod {
            let pod = c.delete_pod(ns, name, grace, now());
            return Ok(pod.map(|p| (*p).clone()).unwrap_or_default());
        }
        c.store.delete(res, ns, name);
        // What the API answers for an object deleted at once.
        let info = res.info();
        let mut details = json!({
            "name": name,
            "kind": info.plural,
            "uid": old.pointer("/metadata/uid").cloned().unwrap_or_default(),
        });
        if !info.group.is_empty() {
            details["group"] = json!(info.group);
        }
        Ok(json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}))
    })?;
    if deleted.get("kind").and_then(Value::as_str) == Some("Status") {
        return Ok(json_response(StatusCode::OK, &deleted));
    }
    Ok(represent(req, res, &deleted, StatusCode::OK))
}

// ---------------------------------------------------------------- watch

#[derive(Debug, Clone, Copy, PartialEq)]
enum Start {
    /// ADDED for every current object, then the changes (resourceVersion absent or "0").
    Now,
    /// Like `Now`, then a BOOKMARK marking the end of the initial events.
    InitialEvents,
    /// The changes after this resourceVersion.
    After(u64),
}

struct WatchSpec {
    res: Resource,
    ns: Option<String>,
    label: LabelSelector,
    field: FieldSelector,
    start: Start,
    bookmarks: bool,
    timeout: Duration,
    format: Format,
}

fn watch_spec(req: &Req, res: Resource, ns: Option<&str>) -> Result<WatchSpec, ApiError> {
    let (label, field) = selectors(req)?;
    let rv = req.q("resourceVersion").unwrap_or("");
    let start = if req.flag("sendInitialEvents") {
        Start::InitialEvents
    } else if rv.is_empty() || rv == "0" {
        Start::Now
    } else {
        Start::After(
            rv.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}")))?,
        )
    };
    let timeout = req
        .q("timeoutSeconds")
        .and_then(|t| t.parse().ok())
        .map_or(DEFAULT_WATCH_TIMEOUT, Duration::from_secs);
    Ok(WatchSpec {
        res,
        ns: ns.map(str::to_string),
        label,
        field,
        start,
        bookmarks: req.flag("allowWatchBookmarks"),
        timeout,
        format: req.format(),
    })
}

/// Starts streaming a watch: one JSON event per line, written as events happen.
fn watch(sim: Arc<Sim>, spec: WatchSpec) -> Response<Body> {
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let content_type = match spec.format {
        Format::Table(_) => TABLE_CONTENT_TYPE,
        _ => "application/json",
    };
    tokio::spawn(run_watch(sim, spec, tx));
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
    });
    let mut resp = Response::new(StreamBody::new(stream).boxed_unsync());
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// Encodes watch events for one client (Tables carry their column definitions once).
struct Encoder<'a> {
    spec: &'a WatchSpec,
    columns_sent: bool,
}

impl Encoder<'_> {
    fn event(&mut self, ty: &str, obj: &Value) -> Bytes {
        let object = match self.spec.format {
            Format::Full => obj.clone(),
            Format::Metadata => partial(obj),
            Format::Table(include) => {
                let t = table(
                    self.spec.res,
                    &[obj],
                    None,
                    include,
                    !self.columns_sent,
                    now(),
                );
                self.columns_sent = true;
                t
            }
        };
        line(&json!({"type": ty, "object": object}))
    }

    fn bookmark(&self, rv: u64, initial_events_end: bool) -> Bytes {
        let mut meta = json!({"resourceVersion": rv.to_string()});
        if initial_events_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let (kind, api_version) = match self.spec.format {
            Format::Full => (
                self.spec.res.info().kind.to_string(),
                self.spec.res.api_version(),
            ),
            Format::Metadata => ("PartialObjectMetadata".into(), "meta.k8s.io/v1".into()),
            Format::Table(_) => ("Table".into(), "meta.k8s.io/v1".into()),
        };
        line(&json!({
            "type": "BOOKMARK",
            "object": {"kind": kind, "apiVersion": api_version, "metadata": meta},
        }))
    }

    fn matches(&self, obj: &Value) -> bool {
        let s = self.spec;
        s.ns.as_deref()
            .is_none_or(|ns| obj.pointer("/metadata/namespace").and_then(Value::as_str) == Some(ns))
            && matches(obj, &s.label, &s.field)
    }

    /// A stored change as this client sees it: an object that stops matching its
    /// selectors is DELETED for it, one that starts matching is ADDED.
    fn change(&mut self, c: &Change) -> Option<Bytes> {
        if c.resource != self.spec.res {
            return None;
        }
        let now_matches = self.matches(&c.object);
        let was_matching = c.prev.as_ref().is_some_and(|p| self.matches(p));
        let ty = match c.kind {
            EventType::Added if now_matches => "ADDED",
            EventType::Modified if was_matching && now_matches => "MODIFIED",
            EventType::Modified if now_matches => "ADDED",
            EventType::Modified if was_matching => "DELETED",
            EventType::Deleted if was_matching || now_matches => "DELETED",
            _ => return None,
        };
        Some(self.event(ty, &c.object))
    }
}

fn expired(requested: u64, oldest: u64) -> Bytes {
    let e = ApiError::new(
        410,
        "Expired",
        format!("too old resource version: {requested} ({oldest})"),
    );
    line(&json!({"type": "ERROR", "object": e.status()}))
}

fn line(v: &Value) -> Bytes {
    let mut s = serde_json::to_vec(v).unwrap_or_default();
    s.push(b'\n');
    Bytes::from(s)
}

async fn run_watch(sim: Arc<Sim>, spec: WatchSpec, tx: mpsc::Sender<Bytes>) {
    let mut enc = Encoder {
        spec: &spec,
        columns_sent: false,
    };
    let mut changed = sim.changed.subscribe();
    let mut shutdown = sim.shutdown.clone();
    let deadline = tokio::time::Instant::now() + spec.timeout;
    let mut bookmark =
        tokio::time::interval_at(tokio::time::Instant::now() + BOOKMARK_EVERY, BOOKMARK_EVERY);

    // The starting point and the initial events, read under one lock so nothing is missed.
    let (mut last, initial) = sim.read(|c| {
        changed.borrow_and_update();
        let rv = c.store.rv();
        let all = |enc: &mut Encoder| -> Vec<Bytes> {
            let objects: Vec<&Arc<Value>> = c
                .store
                .list(spec.res, spec.ns.as_deref())
                .filter(|o| enc.matches(o))
                .collect();
            objects.into_iter().map(|o| enc.event("ADDED", o)).collect()
        };
        match spec.start {
            Start::Now => (Some(rv), all(&mut enc)),
            Start::InitialEvents => {
                let mut lines = all(&mut enc);
                lines.push(enc.bookmark(rv, true));
                (Some(rv), lines)
            }
            Start::After(from) => match c.store.changes_after(from) {
                Ok(_) => (Some(from), Vec::new()),
                Err(e) => (None, vec![expired(from, e.oldest)]),
            },
        }
    });
    for b in initial {
        if tx.send(b).await.is_err() {
            return;
        }
    }
    loop {
        let Some(from) = last else {
            return;
        };
        let (next, lines) = sim.read(|c| {
            changed.borrow_and_update();
            match c.store.changes_after(from) {
                Ok(changes) => {
                    let lines: Vec<Bytes> = changes.filter_map(|ch| enc.change(ch)).collect();
                    (Some(c.store.rv()), lines)
                }
                // The client fell further behind than the history reaches.
                Err(e) => (None, vec![expired(from, e.oldest)]),
            }
        });
        last = next;
        for b in lines {
            if tx.send(b).await.is_err() {
                return;
            }
        }
        if last.is_none() {
            return;
        }
        tokio::select! {
            r = changed.changed() => if r.is_err() { return },
            _ = bookmark.tick(), if spec.bookmarks && !matches!(spec.format, Format::Table(_)) => {
                let rv = last.unwrap_or_default();
                if tx.send(enc.bookmark(rv, false)).await.is_err() {
                    return;
                }
            }
            _ = tokio::time::sleep_until(deadline) => return,
            _ = tx.closed() => return,
            _ = shutdown.changed() => return,
        }
    }
}

// ---------------------------------------------------------------- discovery

fn version(sim: &Sim) -> Value {
    let minor = sim.read(|c| c.scenario().kube_minor.clone());
    json!({
        "major": "1",
        "minor": minor,
        "gitVersion": format!("v1.{minor}.0"),
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z",
        "goVersion": "go1.23.4",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

/// The API groups other than core, in discovery order.
fn groups() -> Vec<(&'static str, &'static str)> {
    let mut gs: Vec<(&str, &str)> = Vec::new();
    for r in Resource::ALL {
        let i = r.info();
        if !i.group.is_empty() && !gs.contains(&(i.group, i.version)) {
            gs.push((i.group, i.version));
        }
    }
    gs
}

fn group(name: &str) -> Option<Value> {
    let (g, v) = groups().into_iter().find(|(g, _)| *g == name)?;
    let gv = json!({"groupVersion": format!("{g}/{v}"), "version": v});
    Some(json!({
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": g,
        "versions": [gv.clone()],
        "preferredVersion": gv,
    }))
}

fn group_list() -> Value {
    let groups: Vec<Value> = groups()
        .into_iter()
        .filter_map(|(g, _)| {
            let mut v = group(g)?;
            let o = v.as_object_mut()?;
            o.remove("kind");
            o.remove("apiVersion");
            Some(v)
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

fn resource_list(group: &str, version: &str) -> Result<Value, ApiError> {
    let mut resources = Vec::new();
    for r in Resource::ALL {
        let i = r.info();
        if i.group != group || i.version != version {
            continue;
        }
        let mut entry = json!({
            "name": i.plural,
            "singularName": i.singular,
            "namespaced": i.namespaced,
            "kind": i.kind,
            "verbs": i.verbs,
        });
        if !i.short_names.is_empty() {
            entry["shortNames"] = json!(i.short_names);
        }
        if !i.categories.is_empty() {
            entry["categories"] = json!(i.categories);
        }
        resources.push(entry);
        if r == Resource::Deployment {
            resources.push(json!({
                "name": "deployments/scale",
                "singularName": "",
                "namespaced": true,
                "group": "autoscaling",
                "version": "v1",
                "kind": "Scale",
                "verbs": ["get", "patch", "update"],
            }));
        }
        if i.status_subresource {
            resources.push(json!({
                "name": format!("{}/status", i.plural),
                "singularName": "",
                "namespaced": i.namespaced,
                "kind": i.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
    }
    if resources.is_empty() {
        return Err(path_not_found());
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Ok(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

// ---------------------------------------------------------------- pod logs

/// A pod's log, as its container would have written it: start-up, then one request a
/// second or so (errors as often as its version errs), or a crash loop's last words.
/// Deterministic: the same pod at the same moment always says the same. A container
/// that never started has no log: 400, as the kubelet answers.
fn pod_log(sim: &Sim, req: &Req, ns: &str, name: &str) -> Result<Response<Body>, ApiError> {
    let (pod, scenario) = sim.read(|c| {
        (
            c.store.get(Resource::Pod, ns, name).cloned(),
            c.scenario().clone(),
        )
    });
    let pod = pod.ok_or_else(|| ApiError::not_found(Resource::Pod, name))?;
    let container = pod
        .pointer("/spec/containers/0/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if let Some(want) = req.q("container")
        && want != container
    {
        return Err(ApiError::bad_request(format!(
            "container {want} is not valid for pod {name}"
        )));
    }
    let image = pod
        .pointer("/spec/containers/0/image")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let cs = pod.pointer("/status/containerStatuses/0");
    let started = cs
        .and_then(|c| {
            c.pointer("/state/running/startedAt")
                .or_else(|| c.pointer("/lastState/terminated/startedAt"))
        })
        .and_then(Value::as_str)
        .and_then(super::store::parse_time);
    let Some(started) = started else {
        let why = cs
            .and_then(|c| c.pointer("/state/waiting/reason"))
            .and_then(Value::as_str)
            .unwrap_or("ContainerCreating");
        return Err(ApiError::bad_request(format!(
            "container \"{container}\" in pod \"{name}\" is waiting to start: {why}"
        )));
    };
    let app = pod
        .pointer("/metadata/labels/app")
        .and_then(Value::as_str)
        .unwrap_or("");
    let svc = scenario.service_of(app);
    let b = svc.behavior(&image);
    let tag = crate::runbook::Scenario::tag(&image);
    let at = super::store::rfc3339;
    let mut lines = vec![
        format!(
            "{} INFO {} {tag} starting (pod {name})",
            at(started),
            svc.app
        ),
        if svc.is_worker() {
            format!(
                "{} INFO health checks on :8080, taking jobs from the queue",
                at(started)
            )
        } else {
            format!("{} INFO listening on :8080", at(started))
        },
    ];
    let crash = b.is_some_and(|b| b.crash_loop);
    if crash {
        lines.push(format!(
            "{} ERROR cannot connect to the database: connection refused",
            at(started + 1.0)
        ));
        lines.push(format!("{} FATAL exiting with status 1", at(started + 1.0)));
    } else {
        let error_rate = b.map_or(0.0, |b| b.error_rate);
        let p95 = b.map_or(300.0, |b| b.latency_p95_ms);
        let end = now();
        let mut t = started + 2.0;
        let mut i = 0u64;
        while t <= end {
            // One request in every two seconds, an error as often as the version errs.
            let h = super::controller::fnv(&format!("{name}/{i}"));
            let roll = (h % 10_000) as f64 / 10_000.0;
            let ms = (p95 * (0.3 + 0.7 * ((h / 10_000) % 100) as f64 / 100.0)).round();
            let failed = roll < error_rate;
            lines.push(match (svc.is_worker(), failed) {
                (false, true) => format!(
                    "{} ERROR POST /api/orders 500 {ms}ms: inventory service timed out",
                    at(t)
                ),
                (false, false) => format!("{} INFO GET /api/orders 200 {ms}ms", at(t)),
                // A background worker logs the jobs it takes from its queue.
                (true, true) => format!(
                    "{} ERROR job {i} failed after {ms}ms: upstream timed out",
                    at(t)
                ),
                (true, false) => format!("{} INFO job {i} done in {ms}ms", at(t)),
            });
            t += 2.0;
            i += 1;
        }
    }
    let tail: usize = match req.q("tailLines") {
        Some(n) => n
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid tailLines: {n}")))?,
        None => usize::MAX,
    };
    let from = lines.len().saturating_sub(tail);
    let mut text = lines[from..].join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    let mut resp = Response::new(body_of(text.into_bytes()));
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    Ok(resp)
}

// ---------------------------------------------------------------- responses

fn body_of(bytes: Vec<u8>) -> Body {
    Full::new(Bytes::from(bytes)).boxed_unsync()
}

fn json_response(code: StatusCode, v: &Value) -> Response<Body> {
    with_type(code, v, "application/json")
}

fn table_response(v: &Value) -> Response<Body> {
    with_type(StatusCode::OK, v, TABLE_CONTENT_TYPE)
}

fn with_type(code: StatusCode, v: &Value, content_type: &'static str) -> Response<Body> {
    let mut resp = Response::new(body_of(serde_json::to_vec(v).unwrap_or_default()));
    *resp.status_mut() = code;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

fn text_response(s: &'static str) -> Response<Body> {
    let mut resp = Response::new(body_of(s.as_bytes().to_vec()));
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

fn error(e: &ApiError) -> Response<Body> {
    let code = StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(code, &e.status())
}

fn path_not_found() -> ApiError {
    ApiError::new(
        404,
        "NotFound",
        "the server could not find the requested resource",
    )
}

fn method_not_allowed() -> ApiError {
    ApiError::new(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
    )
}

// ---------------------------------------------------------------- query strings

fn parse_query(q: &str) -> HashMap<String, String> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                percent_decode(&k.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
