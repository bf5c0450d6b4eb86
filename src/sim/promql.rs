//! PromQL over the simulator's [`Tsdb`], with Prometheus' semantics for the parts a
//! release console uses: selectors, `rate`/`increase`/`irate`, `histogram_quantile`,
//! the common aggregations and binary operators.
//!
//! promql-parser does the parsing. Whatever the evaluator does not implement is refused
//! with [`EvalError::Unsupported`], naming the construct, instead of being answered
//! approximately: a console gate must never act on a number the simulator made up.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Display};

use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::token::{
    T_ADD, T_ATAN2, T_AVG, T_COUNT, T_DIV, T_EQLC, T_GTE, T_GTR, T_LAND, T_LOR, T_LSS, T_LTE,
    T_LUNLESS, T_MAX, T_MIN, T_MOD, T_MUL, T_NEQ, T_POW, T_SUB, T_SUM, TokenId, TokenType,
};
use promql_parser::parser::value::ValueType;
use promql_parser::parser::{
    self, AggregateExpr, BinModifier, BinaryExpr, Call, Expr, LabelModifier, MatrixSelector,
    Offset, VectorMatchCardinality, VectorSelector,
};

use super::tsdb::{Labels, METRIC_NAME, Tsdb, is_stale_marker};

/// How far back an instant selector looks for a series' latest sample.
pub const LOOKBACK_MS: i64 = 5 * 60 * 1000;

/// Prometheus refuses range queries with more points per series than this.
pub const MAX_POINTS: i64 = 11_000;

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: Labels,
    pub t_ms: i64,
    pub v: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: Labels,
    pub points: Vec<(i64, f64)>,
}

/// A query result. Vectors and matrices are sorted by labels.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Scalar { t_ms: i64, v: f64 },
    Vector(Vec<Sample>),
    Matrix(Vec<Series>),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// The query does not parse or a parameter is invalid (Prometheus: 400 `bad_data`).
    #[error("{0}")]
    BadData(String),
    /// Valid PromQL the simulator does not evaluate; the message names the construct.
    #[error("{0}")]
    Unsupported(String),
    /// Valid PromQL whose evaluation fails on this data, e.g. ambiguous vector matching
    /// (Prometheus: 422 `execution`).
    #[error("{0}")]
    Execution(String),
}

fn unsupported(what: impl Display) -> EvalError {
    EvalError::Unsupported(format!(
        "unsupported PromQL: {what} is not implemented by the simulator"
    ))
}

/// Evaluate `query` at one instant, as `GET /api/v1/query` does.
pub fn instant(tsdb: &Tsdb, query: &str, t_ms: i64) -> Result<Value, EvalError> {
    let expr = parse(query)?;
    Ok(match (Evaluator { tsdb, t: t_ms }).eval(&expr)? {
        Val::Scalar(v) => Value::Scalar { t_ms, v },
        Val::Vector(mut els) => {
            els.sort_by(|a, b| a.labels.cmp(&b.labels));
            Value::Vector(
                els.into_iter()
                    .map(|e| Sample {
                        labels: e.labels,
                        t_ms,
                        v: e.v,
                    })
                    .collect(),
            )
        }
        Val::Matrix(mut series) => {
            series.sort_by(|a, b| a.labels.cmp(&b.labels));
            Value::Matrix(series)
        }
    })
}

/// Evaluate `query` at every step from `start_ms` to `end_ms` inclusive, as
/// `GET /api/v1/query_range` does; the result is always a matrix.
pub fn range(
    tsdb: &Tsdb,
    query: &str,
    start_ms: i64,
    end_ms: i64,
    step_ms: i64,
) -> Result<Value, EvalError> {
    // Prometheus' own checks and wording, in its order.
    if end_ms < start_ms {
        return Err(EvalError::BadData(
            "end timestamp must not be before start time".into(),
        ));
    }
    if step_ms <= 0 {
        return Err(EvalError::BadData(
            "zero or negative query resolution step widths are not accepted. Try a positive integer"
                .into(),
        ));
    }
    if (end_ms - start_ms) / step_ms > MAX_POINTS {
        return Err(EvalError::BadData(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)".into(),
        ));
    }
    let expr = parse(query)?;
    let kind = expr.value_type();
    if !matches!(kind, ValueType::Vector | ValueType::Scalar) {
        return Err(EvalError::BadData(format!(
            "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
            documented_type(kind)
        )));
    }
    let mut series: BTreeMap<Labels, Vec<(i64, f64)>> = BTreeMap::new();
    let mut t = start_ms;
    while t <= end_ms {
        match (Evaluator { tsdb, t }).eval(&expr)? {
            Val::Scalar(v) => series.entry(Labels::new()).or_default().push((t, v)),
            Val::Vector(els) => {
                for e in els {
                    series.entry(e.labels).or_default().push((t, e.v));
                }
            }
            Val::Matrix(_) => return Err(type_error("a range query", ValueType::Matrix)),
        }
        t += step_ms;
    }
    Ok(Value::Matrix(
        series
            .into_iter()
            .map(|(labels, points)| Series { labels, points })
            .collect(),
    ))
}

fn parse(query: &str) -> Result<Expr, EvalError> {
    parser::parse(query).map_err(EvalError::BadData)
}

/// The type names Prometheus uses in its error messages.
fn documented_type(t: ValueType) -> &'static str {
    match t {
        ValueType::Vector => "instant vector",
        ValueType::Matrix => "range vector",
        ValueType::Scalar => "scalar",
        ValueType::String => "string",
    }
}

/// The parser type-checks queries, so this only fires on a parser/evaluator mismatch.
fn type_error(context: &str, got: ValueType) -> EvalError {
    EvalError::Execution(format!("unexpected {} in {context}", documented_type(got)))
}

/// A sample value as Prometheus writes it in JSON (`jsonutil.MarshalFloat`): the
/// shortest decimal that reads back as the same float, in plain notation except below
/// 1e-6 and from 1e21 up, where Go's exponent form (`1e-07`, `1.5e+21`) is used.
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let abs = v.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // Rust writes `1.5e21`; Go signs the exponent and gives it at least two digits.
        let s = format!("{v:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let (sign, digits) = match exp.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', exp),
        };
        format!("{mantissa}e{sign}{digits:0>2}")
    } else {
        // Rust's `Display` is Go's `FormatFloat(v, 'f', -1, 64)`: shortest, no exponent.
        format!("{v}")
    }
}

/// Labels as Prometheus prints them in messages: `{a="b", c="d"}`.
struct LabelsDisplay<'a>(&'a Labels);

impl Display for LabelsDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{k}={v:?}")?;
        }
        f.write_str("}")
    }
}

/// One element of an instant vector during evaluation; its timestamp is the
/// evaluation time, attached when the result is returned.
#[derive(Debug, Clone)]
struct El {
    labels: Labels,
    v: f64,
}

enum Val {
    Scalar(f64),
    Vector(Vec<El>),
    Matrix(Vec<Series>),
}

struct Evaluator<'a> {
    tsdb: &'a Tsdb,
    t: i64,
}

impl Evaluator<'_> {
    fn eval(&self, expr: &Expr) -> Result<Val, EvalError> {
        match expr {
            Expr::NumberLiteral(n) => Ok(Val::Scalar(n.val)),
            Expr::Paren(p) => self.eval(&p.expr),
            Expr::Unary(u) => match self.eval(&u.expr)? {
                Val::Scalar(v) => Ok(Val::Scalar(-v)),
                Val::Vector(els) => unique(
                    els.into_iter()
                        .map(|e| El {
                            labels: without_name(e.labels),
                            v: -e.v,
                        })
                        .collect(),
                ),
                Val::Matrix(_) => Err(type_error("unary minus", ValueType::Matrix)),
            },
            Expr::VectorSelector(vs) => self.instant_selector(vs).map(Val::Vector),
            Expr::MatrixSelector(ms) => self.range_selector(ms).map(Val::Matrix),
            Expr::Call(call) => self.call(call),
            Expr::Aggregate(agg) => self.aggregate(agg),
            Expr::Binary(bin) => self.binary(bin),
            Expr::StringLiteral(_) => Err(unsupported("a string literal")),
            Expr::Subquery(_) => Err(unsupported("a subquery (`expr[range:step]`)")),
            Expr::Extension(_) => Err(unsupported("an extension expression")),
        }
    }

    fn scalar(&self, expr: &Expr) -> Result<f64, EvalError> {
        match self.eval(expr)? {
            Val::Scalar(v) => Ok(v),
            Val::Vector(_) => Err(type_error("a scalar argument", ValueType::Vector)),
            Val::Matrix(_) => Err(type_error("a scalar argument", ValueType::Matrix)),
        }
    }

    fn vector(&self, expr: &Expr) -> Result<Vec<El>, EvalError> {
        match self.eval(expr)? {
            Val::Vector(els) => Ok(els),
            Val::Scalar(_) => Err(type_error("an instant vector argument", ValueType::Scalar)),
            Val::Matrix(_) => Err(type_error("an instant vector argument", ValueType::Matrix)),
        }
    }

    /// The latest sample of each matching series at or before the (offset) evaluation
    /// time and after the lookback window's start; a series whose latest sample is a
    /// staleness marker has ended and is left out.
    fn instant_selector(&self, vs: &VectorSelector) -> Result<Vec<El>, EvalError> {
        let matchers = selector_matchers(vs)?;
        let at = self.t - offset_ms(vs);
        let mut out = Vec::new();
        for (labels, samples) in self.tsdb.select(&matchers) {
            let end = samples.partition_point(|&(t, _)| t <= at);
            let Some(&(t, v)) = end.checked_sub(1).map(|i| &samples[i]) else {
                continue;
            };
            if t > at - LOOKBACK_MS && !is_stale_marker(v) {
                out.push(El {
                    labels: labels.clone(),
                    v,
                });
            }
        }
        Ok(out)
    }

    /// The samples of each matching series in `(t - range, t]` (offset applied),
    /// staleness markers dropped; series with no samples there are left out.
    fn range_selector(&self, ms: &MatrixSelector) -> Result<Vec<Series>, EvalError> {
        let matchers = selector_matchers(&ms.vs)?;
        let (start, end) = self.window(ms);
        Ok(self
            .tsdb
            .select(&matchers)
            .into_iter()
            .filter_map(|(labels, samples)| {
                let lo = samples.partition_point(|&(t, _)| t <= start);
                let hi = samples.partition_point(|&(t, _)| t <= end);
                let points: Vec<_> = samples[lo..hi]
                    .iter()
                    .copied()
                    .filter(|&(_, v)| !is_stale_marker(v))
                    .collect();
                (!points.is_empty()).then(|| Series {
                    labels: labels.clone(),
                    points,
                })
            })
            .collect())
    }

    fn window(&self, ms: &MatrixSelector) -> (i64, i64) {
        let end = self.t - offset_ms(&ms.vs);
        (end - duration_ms(ms.range), end)
    }

    fn call(&self, call: &Call) -> Result<Val, EvalError> {
        let name = call.func.name;
        let args = &call.args.args;
        let arg = |i: usize| -> Result<&Expr, EvalError> {
            args.get(i).map(|a| &**a).ok_or_else(|| {
                EvalError::BadData(format!("missing argument {} to function \"{name}\"", i + 1))
            })
        };
        match name {
            "rate" | "increase" | "delta" | "irate" | "idelta" => {
                let ms = match unparen(arg(0)?) {
                    Expr::MatrixSelector(ms) => ms,
                    Expr::Subquery(_) => {
                        return Err(unsupported("a subquery (`expr[range:step]`)"));
                    }
                    other => return Err(type_error(name, other.value_type())),
                };
                let (start, end) = self.window(ms);
                let mut out = Vec::new();
                for s in self.range_selector(ms)? {
                    let v = match name {
                        "rate" => extrapolated_rate(&s.points, start, end, true, true),
                        "increase" => extrapolated_rate(&s.points, start, end, true, false),
                        "delta" => extrapolated_rate(&s.points, start, end, false, false),
                        "irate" => instant_value(&s.points, true),
                        _ => instant_value(&s.points, false),
                    };
                    if let Some(v) = v {
                        out.push(El {
                            labels: without_name(s.labels),
                            v,
                        });
                    }
                }
                unique(out)
            }
            "abs" => self.map_values(arg(0)?, f64::abs),
            "clamp" => {
                let (lo, hi) = (self.scalar(arg(1)?)?, self.scalar(arg(2)?)?);
                if hi < lo {
                    return Ok(Val::Vector(Vec::new()));
                }
                self.map_values(arg(0)?, |v| go_max(lo, go_min(hi, v)))
            }
            "clamp_min" => {
                let lo = self.scalar(arg(1)?)?;
                self.map_values(arg(0)?, |v| go_max(lo, v))
            }
            "clamp_max" => {
                let hi = self.scalar(arg(1)?)?;
                self.map_values(arg(0)?, |v| go_min(hi, v))
            }
            "round" => {
                let to_nearest = match args.get(1) {
                    Some(a) => self.scalar(a)?,
                    None => 1.0,
                };
                // Prometheus multiplies by the inverse: it causes fewer float surprises.
                let inverse = 1.0 / to_nearest;
                self.map_values(arg(0)?, |v| (v * inverse + 0.5).floor() / inverse)
            }
            "time" => Ok(Val::Scalar(self.t as f64 / 1000.0)),
            "vector" => Ok(Val::Vector(vec![El {
                labels: Labels::new(),
                v: self.scalar(arg(0)?)?,
            }])),
            "scalar" => {
                let els = self.vector(arg(0)?)?;
                Ok(Val::Scalar(match els.as_slice() {
                    [one] => one.v,
                    _ => f64::NAN,
                }))
            }
            "histogram_quantile" => {
                let q = self.scalar(arg(0)?)?;
                self.histogram_quantile(q, self.vector(arg(1)?)?)
            }
            _ => Err(unsupported(format!("function \"{name}\""))),
        }
    }

    fn map_values(&self, arg: &Expr, f: impl Fn(f64) -> f64) -> Result<Val, EvalError> {
        let els = self.vector(arg)?;
        unique(
            els.into_iter()
                .map(|e| El {
                    labels: without_name(e.labels),
                    v: f(e.v),
                })
                .collect(),
        )
    }

    /// Buckets are grouped by all their labels but `le` (the metric name included, as
    /// in Prometheus); series without a parseable `le` are ignored.
    fn histogram_quantile(&self, q: f64, els: Vec<El>) -> Result<Val, EvalError> {
        let mut groups: BTreeMap<Labels, Vec<(f64, f64)>> = BTreeMap::new();
        for mut e in els {
            let Some(le) = e.labels.remove("le").and_then(|s| parse_go_float(&s)) else {
                continue;
            };
            groups.entry(e.labels).or_default().push((le, e.v));
        }
        unique(
            groups
                .into_iter()
                .map(|(labels, buckets)| El {
                    labels: without_name(labels),
                    v: bucket_quantile(q, buckets),
                })
                .collect(),
        )
    }

    fn aggregate(&self, agg: &AggregateExpr) -> Result<Val, EvalError> {
        let op = agg.op.id();
        if !matches!(op, T_SUM | T_AVG | T_MIN | T_MAX | T_COUNT) {
            return Err(unsupported(format!("aggregation \"{}\"", agg.op)));
        }
        let mut groups: BTreeMap<Labels, Group> = BTreeMap::new();
        for e in self.vector(&agg.expr)? {
            let key = grouping_labels(&e.labels, agg.modifier.as_ref());
            groups
                .entry(key)
                .and_modify(|g| g.add(e.v))
                .or_insert_with(|| Group::new(e.v));
        }
        Ok(Val::Vector(
            groups
                .into_iter()
                .map(|(labels, g)| El {
                    labels,
                    v: g.result(op),
                })
                .collect(),
        ))
    }

    fn binary(&self, bin: &BinaryExpr) -> Result<Val, EvalError> {
        let op = bin.op.id();
        let modifier = bin.modifier.clone().unwrap_or_default();
        if modifier.fill_values.lhs.is_some() || modifier.fill_values.rhs.is_some() {
            return Err(unsupported("the fill modifier"));
        }
        match modifier.card {
            VectorMatchCardinality::ManyToOne(_) => {
                return Err(unsupported("group_left (many-to-one matching)"));
            }
            VectorMatchCardinality::OneToMany(_) => {
                return Err(unsupported("group_right (one-to-many matching)"));
            }
            _ => {}
        }
        let lhs = self.eval(&bin.lhs)?;
        let rhs = self.eval(&bin.rhs)?;
        let return_bool = modifier.return_bool;
        match (lhs, rhs) {
            (Val::Scalar(l), Val::Scalar(r)) => {
                // The parser only accepts scalar comparisons with `bool`: the result is 1 or 0.
                let (v, keep) = elem_binop(op, l, r)?;
                Ok(Val::Scalar(if is_comparison(op) {
                    bool_value(keep)
                } else {
                    v
                }))
            }
            (Val::Vector(els), Val::Scalar(s)) => vector_scalar(op, els, s, false, return_bool),
            (Val::Scalar(s), Val::Vector(els)) => vector_scalar(op, els, s, true, return_bool),
            (Val::Vector(l), Val::Vector(r)) => match op {
                T_LAND | T_LOR | T_LUNLESS => Ok(Val::Vector(set_op(op, l, r, &modifier))),
                _ => vector_vector(op, l, r, &modifier),
            },
            (Val::Matrix(_), _) | (_, Val::Matrix(_)) => {
                Err(type_error("a binary operation", ValueType::Matrix))
            }
        }
    }
}

fn unparen(mut expr: &Expr) -> &Expr {
    while let Expr::Paren(p) = expr {
        expr = &p.expr;
    }
    expr
}

fn selector_matchers(vs: &VectorSelector) -> Result<Vec<Matcher>, EvalError> {
    if vs.at.is_some() {
        return Err(unsupported("the @ modifier"));
    }
    if !vs.matchers.or_matchers.is_empty() {
        return Err(unsupported("`or` between label matchers"));
    }
    let mut matchers = vs.matchers.matchers.clone();
    if let Some(name) = &vs.name {
        matchers.push(Matcher::new(MatchOp::Equal, METRIC_NAME, name));
    }
    Ok(matchers)
}

fn duration_ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn offset_ms(vs: &VectorSelector) -> i64 {
    match &vs.offset {
        None => 0,
        Some(Offset::Pos(d)) => duration_ms(*d),
        Some(Offset::Neg(d)) => -duration_ms(*d),
    }
}

fn without_name(mut labels: Labels) -> Labels {
    labels.remove(METRIC_NAME);
    labels
}

/// Functions and operators that drop `__name__` can make two series collide; Prometheus
/// refuses such a result rather than silently merging them.
fn unique(els: Vec<El>) -> Result<Val, EvalError> {
    let mut seen = BTreeSet::new();
    for e in &els {
        if !seen.insert(&e.labels) {
            return Err(EvalError::Execution(
                "vector cannot contain metrics with the same labelset".into(),
            ));
        }
    }
    Ok(Val::Vector(els))
}

/// Prometheus' `extrapolatedRate` (promql/functions.go) for `rate`, `increase` and
/// `delta`: the increase between the first and last sample in the window, corrected for
/// counter resets, then extrapolated towards the window's edges — all the way if the
/// edge is within 1.1 average sample intervals, else by half an interval, and for
/// counters never past the point where the counter would have been zero.
fn extrapolated_rate(
    points: &[(i64, f64)],
    range_start: i64,
    range_end: i64,
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    let (&(first_t, first_v), &(last_t, last_v)) = (points.first()?, points.last()?);
    if points.len() < 2 {
        return None;
    }
    let mut result = last_v - first_v;
    if is_counter {
        for w in points.windows(2) {
            if w[1].1 < w[0].1 {
                result += w[0].1;
            }
        }
    }
    let mut to_start = (first_t - range_start) as f64 / 1000.0;
    let mut to_end = (range_end - last_t) as f64 / 1000.0;
    let sampled = (last_t - first_t) as f64 / 1000.0;
    let average_interval = sampled / (points.len() - 1) as f64;
    let threshold = average_interval * 1.1;
    if to_start >= threshold {
        to_start = average_interval / 2.0;
    }
    if is_counter {
        let mut to_zero = to_start;
        if result > 0.0 && first_v >= 0.0 {
            to_zero = sampled * (first_v / result);
        }
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if to_end >= threshold {
        to_end = average_interval / 2.0;
    }
    let mut factor = (sampled + to_start + to_end) / sampled;
    if is_rate {
        factor /= (range_end - range_start) as f64 / 1000.0;
    }
    Some(result * factor)
}

/// Prometheus' `instantValue` for `irate` and `idelta`: the last two samples only; for
/// `irate` a drop is a counter reset, so the last value is the increase.
fn instant_value(points: &[(i64, f64)], is_rate: bool) -> Option<f64> {
    let [.., (t0, v0), (t1, v1)] = *points else {
        return None;
    };
    let interval = t1 - t0;
    if interval == 0 {
        return None;
    }
    let mut v = v1;
    // Not "v1 >= v0": a NaN compares as no reset, as in Prometheus.
    if !is_rate || v1.partial_cmp(&v0) != Some(std::cmp::Ordering::Less) {
        v = v1 - v0;
    }
    if is_rate {
        v /= interval as f64 / 1000.0;
    }
    Some(v)
}

/// Go's `strconv.ParseFloat`, as Prometheus parses `le` labels (`+Inf` included).
fn parse_go_float(s: &str) -> Option<f64> {
    s.parse().ok()
}

/// Prometheus' `BucketQuantile` (promql/quantile.go) over classic `(upper bound, count)`
/// buckets: linear interpolation inside the bucket holding the rank, 0 as the lowest
/// bucket's lower bound, the highest finite bound when the rank lands in `+Inf`.
fn bucket_quantile(q: f64, mut buckets: Vec<(f64, f64)>) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    if buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
        return f64::NAN;
    }
    // Coalesce buckets with the same bound (e.g. `le="1"` and `le="1.0"`).
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for (le, count) in buckets {
        match merged.last_mut() {
            Some(last) if last.0 == le => last.1 += count,
            _ => merged.push((le, count)),
        }
    }
    let mut buckets = merged;
    ensure_monotonic_and_ignore_small_deltas(&mut buckets, 1e-12);
    if buckets.len() < 2 {
        return f64::NAN;
    }
    let observations = buckets[buckets.len() - 1].1;
    if observations == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let b = go_search(buckets.len() - 1, |i| buckets[i].1 >= rank);
    if b == buckets.len() - 1 {
        return buckets[buckets.len() - 2].0;
    }
    if b == 0 && buckets[0].0 <= 0.0 {
        return buckets[0].0;
    }
    let (mut start, end, mut count) = (0.0, buckets[b].0, buckets[b].1);
    if b > 0 {
        start = buckets[b - 1].0;
        count -= buckets[b - 1].1;
        rank -= buckets[b - 1].1;
    }
    start + (end - start) * (rank / count)
}

/// Bucket counts may decrease (inconsistent targets) or differ by rounding noise;
/// Prometheus absorbs tiny differences either way, then flattens any decrease.
fn ensure_monotonic_and_ignore_small_deltas(buckets: &mut [(f64, f64)], tolerance: f64) {
    let mut prev = buckets[0].1;
    for b in buckets.iter_mut().skip(1) {
        let curr = b.1;
        if curr == prev {
            continue;
        }
        if almost_equal(prev, curr, tolerance) || curr < prev {
            b.1 = prev;
            continue;
        }
        prev = curr;
    }
}

/// Prometheus' `almost.Equal`: relative comparison, absolute near zero.
fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < f64::MIN_POSITIVE {
        return diff < epsilon * f64::MIN_POSITIVE;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

/// Go's `sort.Search`, copied so a non-monotonic input lands where Prometheus' would.
fn go_search(n: usize, f: impl Fn(usize) -> bool) -> usize {
    let (mut i, mut j) = (0, n);
    while i < j {
        let h = i + (j - i) / 2;
        if !f(h) {
            i = h + 1;
        } else {
            j = h;
        }
    }
    i
}

/// Go's `math.Max`: +Inf wins even over NaN, otherwise NaN wins, and +0 beats -0.
fn go_max(a: f64, b: f64) -> f64 {
    if a == f64::INFINITY || b == f64::INFINITY {
        f64::INFINITY
    } else if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() { b } else { a }
    } else if a > b {
        a
    } else {
        b
    }
}

/// Go's `math.Min`: -Inf wins even over NaN, otherwise NaN wins, and -0 beats +0.
fn go_min(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY || b == f64::NEG_INFINITY {
        f64::NEG_INFINITY
    } else if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() { a } else { b }
    } else if a < b {
        a
    } else {
        b
    }
}

fn grouping_labels(labels: &Labels, modifier: Option<&LabelModifier>) -> Labels {
    match modifier {
        None => Labels::new(),
        Some(LabelModifier::Include(by)) => labels
            .iter()
            .filter(|(k, _)| by.labels.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        Some(LabelModifier::Exclude(without)) => labels
            .iter()
            .filter(|(k, _)| *k != METRIC_NAME && !without.labels.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

/// One aggregation group. Sums use Kahan-Neumaier compensation, as Prometheus does, so
/// results match it to the last bit on the same input order.
struct Group {
    count: f64,
    sum: f64,
    compensation: f64,
    min: f64,
    max: f64,
}

impl Group {
    fn new(v: f64) -> Self {
        Group {
            count: 1.0,
            sum: v,
            compensation: 0.0,
            min: v,
            max: v,
        }
    }

    fn add(&mut self, v: f64) {
        self.count += 1.0;
        (self.sum, self.compensation) = kahan_sum_inc(v, self.sum, self.compensation);
        if self.max < v || self.max.is_nan() {
            self.max = v;
        }
        if self.min > v || self.min.is_nan() {
            self.min = v;
        }
    }

    fn result(&self, op: TokenId) -> f64 {
        match op {
            T_SUM => self.sum + self.compensation,
            T_AVG => self.sum / self.count + self.compensation / self.count,
            T_MIN => self.min,
            T_MAX => self.max,
            _ => self.count,
        }
    }
}

fn kahan_sum_inc(inc: f64, sum: f64, mut c: f64) -> (f64, f64) {
    let t = sum + inc;
    if t.is_infinite() {
        c = 0.0;
    } else if sum.abs() >= inc.abs() {
        c += (sum - t) + inc;
    } else {
        c += (inc - t) + sum;
    }
    (t, c)
}

fn is_comparison(op: TokenId) -> bool {
    matches!(op, T_EQLC | T_NEQ | T_GTR | T_LSS | T_GTE | T_LTE)
}

/// Arithmetic results lose the metric name (they are no longer that metric);
/// comparisons filter and keep it.
fn drops_name(op: TokenId) -> bool {
    matches!(op, T_ADD | T_SUB | T_MUL | T_DIV | T_POW | T_MOD | T_ATAN2)
}

fn bool_value(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// Prometheus' `vectorElemBinop`: the value, and whether a comparison holds (a
/// comparison's value is the left-hand side's).
fn elem_binop(op: TokenId, l: f64, r: f64) -> Result<(f64, bool), EvalError> {
    Ok(match op {
        T_ADD => (l + r, true),
        T_SUB => (l - r, true),
        T_MUL => (l * r, true),
        T_DIV => (l / r, true),
        T_POW => (l.powf(r), true),
        // Rust's `%` on floats is C's fmod, as is Go's math.Mod.
        T_MOD => (l % r, true),
        T_ATAN2 => (l.atan2(r), true),
        T_EQLC => (l, l == r),
        T_NEQ => (l, l != r),
        T_GTR => (l, l > r),
        T_LSS => (l, l < r),
        T_GTE => (l, l >= r),
        T_LTE => (l, l <= r),
        _ => {
            return Err(unsupported(format!("operator \"{}\"", TokenType::new(op))));
        }
    })
}

fn vector_scalar(
    op: TokenId,
    els: Vec<El>,
    s: f64,
    scalar_on_left: bool,
    return_bool: bool,
) -> Result<Val, EvalError> {
    let mut out = Vec::with_capacity(els.len());
    for e in els {
        let (l, r) = if scalar_on_left { (s, e.v) } else { (e.v, s) };
        let (mut v, mut keep) = elem_binop(op, l, r)?;
        // `5 < x` filters x and keeps x's value, whichever side it is on.
        if is_comparison(op) && scalar_on_left {
            v = r;
        }
        if return_bool {
            v = bool_value(keep);
            keep = true;
        }
        if keep {
            let labels = if drops_name(op) || return_bool {
                without_name(e.labels)
            } else {
                e.labels
            };
            out.push(El { labels, v });
        }
    }
    unique(out)
}

/// The labels two series must share to match: the `on` list, or all labels but the
/// `ignoring` list and the metric name.
fn match_signature(labels: &Labels, modifier: &BinModifier) -> Labels {
    let keep = |k: &String| match &modifier.matching {
        Some(LabelModifier::Include(on)) => on.labels.contains(k),
        Some(LabelModifier::Exclude(ignoring)) => k != METRIC_NAME && !ignoring.labels.contains(k),
        None => k != METRIC_NAME,
    };
    labels
        .iter()
        .filter(|(k, _)| keep(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// One-to-one matching (Prometheus' `VectorBinop` without group modifiers).
fn vector_vector(
    op: TokenId,
    lhs: Vec<El>,
    rhs: Vec<El>,
    modifier: &BinModifier,
) -> Result<Val, EvalError> {
    let mut right: BTreeMap<Labels, El> = BTreeMap::new();
    for r in rhs {
        let sig = match_signature(&r.labels, modifier);
        if let Some(dup) = right.get(&sig) {
            return Err(EvalError::Execution(format!(
                "found duplicate series for the match group {} on the right hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                LabelsDisplay(&sig),
                LabelsDisplay(&r.labels),
                LabelsDisplay(&dup.labels)
            )));
        }
        right.insert(sig, r);
    }
    let mut matched = BTreeSet::new();
    let mut out = Vec::new();
    for l in lhs {
        let sig = match_signature(&l.labels, modifier);
        let Some(r) = right.get(&sig) else {
            continue;
        };
        let (mut v, keep) = elem_binop(op, l.v, r.v)?;
        if modifier.return_bool {
            v = bool_value(keep);
        } else if !keep {
            continue;
        }
        let mut labels = l.labels;
        if drops_name(op) || modifier.return_bool {
            labels.remove(METRIC_NAME);
        }
        match &modifier.matching {
            Some(LabelModifier::Include(on)) => labels.retain(|k, _| on.labels.contains(k)),
            Some(LabelModifier::Exclude(ignoring)) => {
                labels.retain(|k, _| !ignoring.labels.contains(k))
            }
            None => {}
        }
        if !matched.insert(sig) {
            return Err(EvalError::Execution(
                "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".into(),
            ));
        }
        out.push(El { labels, v });
    }
    Ok(Val::Vector(out))
}

/// `and`, `or`, `unless`: filter by whether a series' signature appears on the other side.
fn set_op(op: TokenId, lhs: Vec<El>, rhs: Vec<El>, modifier: &BinModifier) -> Vec<El> {
    let right: BTreeSet<Labels> = rhs
        .iter()
        .map(|r| match_signature(&r.labels, modifier))
        .collect();
    match op {
        T_LAND => lhs
            .into_iter()
            .filter(|l| right.contains(&match_signature(&l.labels, modifier)))
            .collect(),
        T_LUNLESS => lhs
            .into_iter()
            .filter(|l| !right.contains(&match_signature(&l.labels, modifier)))
            .collect(),
        _ => {
            let left: BTreeSet<Labels> = lhs
                .iter()
                .map(|l| match_signature(&l.labels, modifier))
                .collect();
            let mut out = lhs;
            out.extend(
                rhs.into_iter()
                    .filter(|r| !left.contains(&match_signature(&r.labels, modifier))),
            );
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_000_000;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn put(db: &mut Tsdb, name: &str, pairs: &[(&str, &str)], points: &[(i64, f64)]) {
        let mut l = labels(pairs);
        l.insert(METRIC_NAME.into(), name.into());
        for &(t, v) in points {
            assert!(db.append(l.clone(), t, v));
        }
    }

    fn vector(db: &Tsdb, q: &str, t: i64) -> Vec<(Labels, f64)> {
        match instant(db, q, t).unwrap_or_else(|e| panic!("{q}: {e}")) {
            Value::Vector(s) => s.into_iter().map(|s| (s.labels, s.v)).collect(),
            other => panic!("{q}: not a vector: {other:?}"),
        }
    }

    fn one(db: &Tsdb, q: &str, t: i64) -> f64 {
        let v = vector(db, q, t);
        assert_eq!(v.len(), 1, "{q}: {v:?}");
        v[0].1
    }

    fn scalar(db: &Tsdb, q: &str, t: i64) -> f64 {
        match instant(db, q, t).unwrap() {
            Value::Scalar { v, .. } => v,
            other => panic!("{q}: not a scalar: {other:?}"),
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1.0)
    }

    /// A counter growing by 1/s, sampled every 15 s from T0.
    fn steady_counter() -> Tsdb {
        let mut db = Tsdb::new();
        let points: Vec<_> = (0..=20)
            .map(|i| (T0 + i * 15_000, i as f64 * 15.0))
            .collect();
        put(&mut db, "c", &[("pod", "a")], &points);
        db
    }

    #[test]
    fn rate_of_a_steady_counter_is_its_slope() {
        let db = steady_counter();
        let t = T0 + 120_000;
        // 45 s of samples plus a 15 s extrapolation to the window's start.
        assert!(close(one(&db, "rate(c[1m])", t), 1.0));
        assert!(close(one(&db, "increase(c[1m])", t), 60.0));
        assert_eq!(one(&db, "irate(c[5m])", t), 1.0);
        // Between samples: the window (67.5 s, 127.5 s] holds 75..120 s; extrapolating
        // 7.5 s to both edges (within 1.1 intervals) still gives 1/s.
        assert!(close(one(&db, "rate(c[1m])", t + 7_500), 1.0));
        // The function drops the metric name.
        assert_eq!(vector(&db, "rate(c[1m])", t)[0].0, labels(&[("pod", "a")]));
        // offset shifts the window back.
        assert!(close(one(&db, "increase(c[1m] offset 1m)", t), 60.0));
    }

    #[test]
    fn rate_follows_prometheus_extrapolation_by_hand() {
        let mut db = Tsdb::new();
        // A reset between 30 s and 45 s; window (0, 60] s.
        let s = |x: i64| T0 + x * 1000;
        put(
            &mut db,
            "c",
            &[],
            &[(s(15), 10.0), (s(30), 20.0), (s(45), 5.0), (s(55), 10.0)],
        );
        // Increase 10 - 10 + 20 (reset) = 20 over 40 s of samples. Average interval 40/3 s;
        // the start gap (15 s) exceeds 1.1 of that, so extrapolate by half an interval
        // (20/3 s); the zero point is 20 s back, farther, so it doesn't limit. The end gap
        // (5 s) is extrapolated in full: 20 * (40 + 20/3 + 5) / 40 = 155/6.
        assert!(close(one(&db, "increase(c[1m])", s(60)), 155.0 / 6.0));
        assert!(close(one(&db, "rate(c[1m])", s(60)), 155.0 / 360.0));
        // irate sees the last two samples, no reset between them.
        assert!(close(one(&db, "irate(c[1m])", s(60)), 0.5));

        // A counter that starts inside the window is extrapolated back to its zero
        // point at most: 1, 4, 7 at 30/45/60 s rose 6 in 30 s; it was 0 at 25 s, nearer
        // than the half-interval guess (22.5 s), so the increase is exactly 7.
        let mut db = Tsdb::new();
        put(
            &mut db,
            "c",
            &[],
            &[(s(30), 1.0), (s(45), 4.0), (s(60), 7.0)],
        );
        assert!(close(one(&db, "increase(c[1m])", s(60)), 7.0));

        // irate over a reset takes the value after it as the increase.
        let mut db = Tsdb::new();
        put(&mut db, "c", &[], &[(s(50), 100.0), (s(60), 4.0)]);
        assert!(close(one(&db, "irate(c[1m])", s(60)), 0.4));

        // One sample is not enough for a rate.
        let mut db = Tsdb::new();
        put(&mut db, "c", &[], &[(s(50), 1.0)]);
        assert!(vector(&db, "rate(c[1m])", s(60)).is_empty());
    }

    #[test]
    fn instant_selector_looks_back_five_minutes_and_respects_staleness() {
        let mut db = Tsdb::new();
        put(&mut db, "g", &[("pod", "a")], &[(T0, 1.0)]);
        assert_eq!(one(&db, "g", T0), 1.0);
        assert_eq!(one(&db, "g", T0 + LOOKBACK_MS - 1), 1.0);
        assert!(vector(&db, "g", T0 + LOOKBACK_MS).is_empty());
        assert!(vector(&db, "g", T0 - 1).is_empty());
        // The selector keeps the name; the sample carries the evaluation time.
        match instant(&db, "g", T0 + 5).unwrap() {
            Value::Vector(s) => {
                assert_eq!(s[0].labels, labels(&[("__name__", "g"), ("pod", "a")]));
                assert_eq!(s[0].t_ms, T0 + 5);
            }
            other => panic!("{other:?}"),
        }
        // A stale marker ends the series at once.
        db.append(
            labels(&[("__name__", "g"), ("pod", "a")]),
            T0 + 1000,
            super::super::tsdb::stale_marker(),
        );
        assert!(vector(&db, "g", T0 + 1000).is_empty());
        assert_eq!(one(&db, "g", T0 + 999), 1.0);
    }

    #[test]
    fn range_selector_is_left_open_and_returns_a_matrix() {
        let db = steady_counter();
        match instant(&db, "c[30s]", T0 + 60_000).unwrap() {
            // (30 s, 60 s]: the sample at 30 s is out.
            Value::Matrix(m) => {
                assert_eq!(m[0].points, vec![(T0 + 45_000, 45.0), (T0 + 60_000, 60.0)])
            }
            other => panic!("{other:?}"),
        }
    }

    fn buckets(db: &mut Tsdb, track: &str, counts: &[(&str, f64)]) {
        for (le, c) in counts {
            put(db, "h_bucket", &[("track", track), ("le", le)], &[(T0, *c)]);
        }
    }

    #[test]
    fn histogram_quantile_interpolates_like_prometheus() {
        let mut db = Tsdb::new();
        buckets(
            &mut db,
            "a",
            &[("0.1", 10.0), ("0.5", 60.0), ("1", 90.0), ("+Inf", 100.0)],
        );
        let q = |phi: &str| one(&db, &format!("histogram_quantile({phi}, h_bucket)"), T0);
        // Rank 50 lies in (0.1, 0.5], 40 of its 50 observations in.
        assert!(close(q("0.5"), 0.42));
        // Rank 5 lies in the first bucket, interpolated from 0.
        assert!(close(q("0.05"), 0.05));
        // Rank 95 lies in +Inf: the highest finite bound.
        assert_eq!(q("0.95"), 1.0);
        assert_eq!(q("-1"), f64::NEG_INFINITY);
        assert_eq!(q("2"), f64::INFINITY);
        // Result labels: everything but le and the name.
        assert_eq!(
            vector(&db, "histogram_quantile(0.5, h_bucket)", T0)[0].0,
            labels(&[("track", "a")])
        );

        // A decreasing bucket is flattened; one without +Inf gives NaN.
        let mut db = Tsdb::new();
        buckets(
            &mut db,
            "b",
            &[
                ("0.1", 10.0),
                ("0.5", 60.0),
                ("1", 55.0),
                ("2", 80.0),
                ("+Inf", 100.0),
            ],
        );
        buckets(&mut db, "c", &[("0.1", 10.0), ("0.5", 60.0)]);
        let got = vector(&db, "histogram_quantile(0.7, h_bucket)", T0);
        assert!(close(got[0].1, 1.0 + (70.0 - 60.0) / 20.0));
        assert!(got[1].1.is_nan());
    }

    fn requests() -> Tsdb {
        let mut db = Tsdb::new();
        for (pod, track, code, v) in [
            ("a", "stable", "200", 90.0),
            ("a", "stable", "500", 10.0),
            ("b", "stable", "200", 45.0),
            ("b", "stable", "500", 5.0),
            ("c", "canary", "200", 30.0),
            ("c", "canary", "500", 20.0),
        ] {
            put(
                &mut db,
                "req",
                &[("pod", pod), ("track", track), ("code", code)],
                &[(T0, v)],
            );
        }
        put(&mut db, "lim", &[("pod", "a")], &[(T0, 2.0)]);
        put(&mut db, "lim", &[("pod", "b")], &[(T0, 4.0)]);
        db
    }

    #[test]
    fn aggregations_group_by_and_without() {
        let db = requests();
        let by_track = vector(&db, "sum by (track) (req)", T0);
        assert_eq!(
            by_track,
            vec![
                (labels(&[("track", "canary")]), 50.0),
                (labels(&[("track", "stable")]), 150.0)
            ]
        );
        let without = vector(&db, r#"sum without (pod, code) (req)"#, T0);
        assert_eq!(without, by_track, "without drops the name too");
        assert_eq!(one(&db, "sum(req)", T0), 200.0);
        assert_eq!(one(&db, "count(req)", T0), 6.0);
        assert!(close(one(&db, "avg(req)", T0), 200.0 / 6.0));
        assert_eq!(one(&db, "min(req)", T0), 5.0);
        assert_eq!(one(&db, "max(req)", T0), 90.0);
        assert!(vector(&db, "sum(nothing)", T0).is_empty());
    }

    #[test]
    fn vector_division_matches_labels() {
        let db = requests();
        // The error ratio per track: one-to-one on the `by` labels.
        let ratio = vector(
            &db,
            r#"sum by (track) (req{code=~"5.."}) / sum by (track) (req)"#,
            T0,
        );
        assert_eq!(
            ratio,
            vec![
                (labels(&[("track", "canary")]), 0.4),
                (labels(&[("track", "stable")]), 0.1)
            ]
        );
        // `on` keeps only the listed labels; pods without a partner drop out.
        let per_pod = vector(&db, r#"req{code="500"} / on (pod) lim"#, T0);
        assert_eq!(
            per_pod,
            vec![
                (labels(&[("pod", "a")]), 5.0),
                (labels(&[("pod", "b")]), 1.25)
            ]
        );
        // `ignoring` matches on the rest and keeps the left side's labels but the name.
        let ign = vector(
            &db,
            r#"req{code="500"} / ignoring (code) req{code="200"}"#,
            T0,
        );
        assert_eq!(ign.len(), 3);
        assert_eq!(ign[0].0, labels(&[("pod", "a"), ("track", "stable")]));
        assert!(close(ign[0].1, 10.0 / 90.0));
        // Several right-hand series per match group is an error, not a guess.
        let err = instant(&db, r#"lim / on (pod) req"#, T0).unwrap_err();
        assert!(
            matches!(err, EvalError::Execution(ref m) if m.contains("many-to-many")),
            "{err}"
        );
        // Set operators.
        assert_eq!(vector(&db, "sum(nothing) or vector(0)", T0)[0].1, 0.0);
        assert_eq!(vector(&db, r#"req and on (pod) lim"#, T0).len(), 4);
        assert_eq!(vector(&db, r#"req unless on (pod) lim"#, T0).len(), 2);
    }

    #[test]
    fn comparisons_filter_or_return_bool() {
        let db = requests();
        let big = vector(&db, "req > 40", T0);
        assert_eq!(big.len(), 2);
        // Filtering keeps the name and the value.
        assert_eq!(big[0].0.get(METRIC_NAME).map(String::as_str), Some("req"));
        assert_eq!(big[0].1, 90.0);
        // The scalar on the left still keeps the vector's value.
        assert_eq!(vector(&db, "40 < req", T0), big);
        let flags = vector(&db, "req > bool 40", T0);
        assert_eq!(flags.len(), 6);
        assert!(flags.iter().all(|(l, _)| !l.contains_key(METRIC_NAME)));
        assert_eq!(flags.iter().map(|(_, v)| v).sum::<f64>(), 2.0);
        // Vector-vector comparison keeps the left value where it holds.
        let cmp = vector(
            &db,
            r#"req{code="500"} < ignoring (code) req{code="200"}"#,
            T0,
        );
        assert_eq!(cmp.len(), 3);
        assert_eq!(scalar(&db, "1 < bool 2", T0), 1.0);
        assert_eq!(scalar(&db, "2 == bool 3", T0), 0.0);
    }

    #[test]
    fn arithmetic_scalars_and_functions() {
        let db = requests();
        assert_eq!(scalar(&db, "2 ^ 10 - 7 % 4 * 2", T0), 1018.0);
        assert_eq!(scalar(&db, "-(3)", T0), -3.0);
        assert_eq!(scalar(&db, "time()", T0 + 500), (T0 + 500) as f64 / 1000.0);
        assert_eq!(scalar(&db, "scalar(sum(req))", T0), 200.0);
        assert!(scalar(&db, "scalar(req)", T0).is_nan());
        let doubled = vector(&db, r#"req{pod="a",code="200"} * 2"#, T0);
        assert_eq!(doubled[0].1, 180.0);
        assert!(!doubled[0].0.contains_key(METRIC_NAME));
        assert_eq!(one(&db, r#"-req{pod="a",code="200"}"#, T0), -90.0);
        assert_eq!(one(&db, r#"abs(-req{pod="a",code="200"})"#, T0), 90.0);
        assert_eq!(
            one(&db, r#"clamp_max(req{pod="a",code="200"}, 50)"#, T0),
            50.0
        );
        assert_eq!(
            one(&db, r#"clamp_min(req{pod="a",code="200"}, 100)"#, T0),
            100.0
        );
        assert_eq!(one(&db, r#"round(lim{pod="b"} / 3, 0.5)"#, T0), 1.5);
        assert_eq!(one(&db, "vector(1) + 1", T0), 2.0);
        // Two series that differ only by name collide once the name is gone.
        let mut db = Tsdb::new();
        put(&mut db, "x", &[], &[(T0, 1.0)]);
        put(&mut db, "y", &[], &[(T0, 1.0)]);
        let err = instant(&db, r#"{__name__=~"x|y"} * 2"#, T0).unwrap_err();
        assert!(matches!(err, EvalError::Execution(_)), "{err}");
    }

    #[test]
    fn range_query_steps_through_time() {
        let db = steady_counter();
        let got = range(&db, "rate(c[1m])", T0 + 60_000, T0 + 120_000, 30_000).unwrap();
        match got {
            Value::Matrix(m) => {
                assert_eq!(m.len(), 1);
                let times: Vec<_> = m[0].points.iter().map(|p| p.0).collect();
                assert_eq!(times, vec![T0 + 60_000, T0 + 90_000, T0 + 120_000]);
                assert!(m[0].points.iter().all(|p| close(p.1, 1.0)));
            }
            other => panic!("{other:?}"),
        }
        match range(&db, "1 + 1", T0, T0 + 10_000, 5_000).unwrap() {
            Value::Matrix(m) => assert_eq!(m[0].points.len(), 3),
            other => panic!("{other:?}"),
        }
        let bad = |q: &str, s: i64, e: i64, st: i64| range(&db, q, s, e, st).unwrap_err();
        assert!(
            matches!(bad("c[1m]", T0, T0, 1000), EvalError::BadData(m) if m.contains("range vector"))
        );
        assert!(matches!(bad("c", T0, T0 - 1, 1000), EvalError::BadData(_)));
        assert!(matches!(bad("c", T0, T0, 0), EvalError::BadData(_)));
        assert!(matches!(
            bad("c", T0, T0 + 11_001_000, 1000),
            EvalError::BadData(_)
        ));
    }

    #[test]
    fn unsupported_constructs_are_named_not_guessed() {
        let db = requests();
        for (q, needle) in [
            ("predict_linear(req[5m], 60)", "function \"predict_linear\""),
            (
                "label_replace(req, \"a\", \"$1\", \"pod\", \"(.*)\")",
                "label_replace",
            ),
            ("topk(3, req)", "aggregation \"topk\""),
            ("quantile(0.9, req)", "aggregation \"quantile\""),
            ("req / on (pod) group_left lim", "group_left"),
            ("rate(req[5m:1m])", "subquery"),
            ("max_over_time(req[5m:1m])", "max_over_time"),
            ("req @ 1700000000", "@ modifier"),
        ] {
            match instant(&db, q, T0) {
                Err(EvalError::Unsupported(m)) => {
                    assert!(m.starts_with("unsupported PromQL: "), "{m}");
                    assert!(m.contains(needle), "{q}: {m}");
                    assert!(m.ends_with("is not implemented by the simulator"), "{m}");
                }
                other => panic!("{q}: {other:?}"),
            }
        }
        assert!(matches!(
            instant(&db, "sum(rate(req{code=~\"5..\"}[5m])", T0),
            Err(EvalError::BadData(_))
        ));
        assert!(matches!(instant(&db, "", T0), Err(EvalError::BadData(_))));
    }

    #[test]
    fn numbers_are_formatted_like_prometheus() {
        for (v, s) in [
            (0.5, "0.5"),
            (0.1 + 0.2, "0.30000000000000004"),
            (2147483648.0, "2147483648"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1.5e300, "1.5e+300"),
            (0.000001, "0.000001"),
            (1e-7, "1e-07"),
            (-2.5e-10, "-2.5e-10"),
            (0.0, "0"),
            (-0.0, "-0"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
        ] {
            assert_eq!(format_value(v), s, "{v:e}");
        }
        assert_eq!(parse_go_float("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_go_float("0.25"), Some(0.25));
    }

    #[test]
    fn go_min_max_keep_nan_like_go() {
        assert!(go_max(1.0, f64::NAN).is_nan());
        assert_eq!(go_max(f64::NAN, f64::INFINITY), f64::INFINITY);
        assert!(go_max(-0.0, 0.0).is_sign_positive());
        assert!(go_min(-0.0, 0.0).is_sign_negative());
        assert_eq!(go_min(3.0, 2.0), 2.0);
    }
}
