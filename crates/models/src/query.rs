//! The fleet-indexing query language subset that search and dynamic thing groups share.
//!
//! Supported (a subset of AWS IoT's syntax, so a query valid here means the same on AWS):
//! - terms `field:value`, where `value` may hold `*` wildcards (any run of characters);
//! - fields `thingName`, `thingTypeName`, `thingGroupNames` (any of the thing's static groups),
//!   `attributes.NAME`, `shadow.reported.PATH` and `shadow.desired.PATH` (the classic shadow; PATH
//!   is dot-separated keys);
//! - numeric comparisons `field<n`, `field<=n`, `field>n`, `field>=n` and inclusive ranges
//!   `field:[a TO b]`;
//! - `AND`, `OR`, `NOT` (upper case) and parentheses; terms side by side are joined by `AND`.
//!   `NOT` binds tighter than `AND`, which binds tighter than `OR`.
//!
//! Anything else is refused with a [`QueryError`] naming the token, never matched silently.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

/// Longest query accepted, in characters.
pub const MAX_QUERY_LEN: usize = 1024;
/// Deepest nesting of parentheses and `NOT`s accepted.
const MAX_DEPTH: usize = 32;

/// A query refused: the token that is not in the subset and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryError {
    pub token: String,
    pub reason: String,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unsupported token {:?}: {}", self.token, self.reason)
    }
}

impl std::error::Error for QueryError {}

/// A parsed query, with the text it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    text: String,
    expr: Expr,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Term(Field, Predicate),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Field {
    ThingName,
    ThingTypeName,
    ThingGroupNames,
    Attribute(String),
    Reported(Vec<String>),
    Desired(Vec<String>),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Predicate {
    /// Equal to the value, where `*` stands for any run of characters.
    Matches(String),
    Less(f64),
    LessOrEqual(f64),
    Greater(f64),
    GreaterOrEqual(f64),
    /// Inclusive on both ends.
    Range(f64, f64),
}

/// What a query is evaluated against: one thing as the index sees it.
pub struct Indexed<'a> {
    pub thing_name: &'a str,
    pub thing_type_name: Option<&'a str>,
    pub thing_group_names: &'a [String],
    pub attributes: &'a BTreeMap<String, String>,
    pub reported: Option<&'a Map<String, Value>>,
    pub desired: Option<&'a Map<String, Value>>,
}

impl Query {
    pub fn parse(text: &str) -> Result<Query, QueryError> {
        if text.trim().is_empty() {
            return Err(QueryError {
                token: text.to_owned(),
                reason: "the query is empty".into(),
            });
        }
        let len = text.chars().count();
        if len > MAX_QUERY_LEN {
            return Err(QueryError {
                token: text.chars().take(20).collect::<String>() + "...",
                reason: format!("a query is at most {MAX_QUERY_LEN} characters, got {len}"),
            });
        }
        let tokens = tokenize(text)?;
        let mut parser = Parser {
            tokens: &tokens,
            at: 0,
            depth: 0,
        };
        let expr = parser.or()?;
        if let Some(extra) = parser.peek() {
            return Err(QueryError {
                token: extra.text(),
                reason: "expected AND, OR or the end of the query".into(),
            });
        }
        Ok(Query {
            text: text.to_owned(),
            expr,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    pub fn matches(&self, thing: &Indexed<'_>) -> bool {
        self.expr.matches(thing)
    }

    /// Which costly parts of a thing the query reads, so an index may leave the others out.
    pub fn needs(&self) -> Needs {
        let mut needs = Needs::default();
        self.expr.visit_fields(&mut |field| match field {
            Field::ThingGroupNames => needs.groups = true,
            Field::Reported(_) | Field::Desired(_) => needs.shadow = true,
            _ => {}
        });
        needs
    }
}

/// What a query reads beyond a thing's name, type and attributes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Needs {
    pub groups: bool,
    pub shadow: bool,
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Expr {
    fn visit_fields(&self, visit: &mut impl FnMut(&Field)) {
        match self {
            Expr::And(a, b) | Expr::Or(a, b) => {
                a.visit_fields(visit);
                b.visit_fields(visit);
            }
            Expr::Not(a) => a.visit_fields(visit),
            Expr::Term(field, _) => visit(field),
        }
    }

    pub fn matches(&self, thing: &Indexed<'_>) -> bool {
        match self {
            Expr::And(a, b) => a.matches(thing) && b.matches(thing),
            Expr::Or(a, b) => a.matches(thing) || b.matches(thing),
            Expr::Not(a) => !a.matches(thing),
            Expr::Term(field, predicate) => field.values(thing).iter().any(|v| predicate.holds(v)),
        }
    }
}

/// A value of a field: text, or what a shadow holds.
enum FieldValue<'a> {
    Text(&'a str),
    Json(&'a Value),
}

impl Field {
    fn values<'a>(&self, thing: &Indexed<'a>) -> Vec<FieldValue<'a>> {
        match self {
            Field::ThingName => vec![FieldValue::Text(thing.thing_name)],
            Field::ThingTypeName => thing
                .thing_type_name
                .map(FieldValue::Text)
                .into_iter()
                .collect(),
            Field::ThingGroupNames => thing
                .thing_group_names
                .iter()
                .map(|g| FieldValue::Text(g))
                .collect(),
            Field::Attribute(name) => thing
                .attributes
                .get(name)
                .map(|v| FieldValue::Text(v))
                .into_iter()
                .collect(),
            Field::Reported(path) => lookup(thing.reported, path),
            Field::Desired(path) => lookup(thing.desired, path),
        }
    }
}

fn lookup<'a>(root: Option<&'a Map<String, Value>>, path: &[String]) -> Vec<FieldValue<'a>> {
    let Some((first, rest)) = path.split_first() else {
        return Vec::new();
    };
    let mut current = root.and_then(|map| map.get(first));
    for key in rest {
        current = current.and_then(|v| v.get(key));
    }
    match current {
        // An array matches when any of its elements does.
        Some(Value::Array(items)) => items.iter().map(FieldValue::Json).collect(),
        Some(Value::Null) | None => Vec::new(),
        Some(value) => vec![FieldValue::Json(value)],
    }
}

impl Predicate {
    fn holds(&self, value: &FieldValue<'_>) -> bool {
        let number = match value {
            FieldValue::Text(t) => t.parse::<f64>().ok(),
            FieldValue::Json(Value::Number(n)) => n.as_f64(),
            FieldValue::Json(Value::String(s)) => s.parse::<f64>().ok(),
            FieldValue::Json(_) => None,
        };
        match self {
            Predicate::Matches(pattern) => match value {
                FieldValue::Text(t) => wildcard_match(pattern, t),
                FieldValue::Json(Value::String(s)) => wildcard_match(pattern, s),
                FieldValue::Json(Value::Bool(b)) => wildcard_match(pattern, &b.to_string()),
                FieldValue::Json(Value::Number(n)) => match pattern.parse::<f64>() {
                    Ok(wanted) => n.as_f64() == Some(wanted),
                    Err(_) => wildcard_match(pattern, &n.to_string()),
                },
                FieldValue::Json(_) => false,
            },
            Predicate::Less(n) => number.is_some_and(|v| v < *n),
            Predicate::LessOrEqual(n) => number.is_some_and(|v| v <= *n),
            Predicate::Greater(n) => number.is_some_and(|v| v > *n),
            Predicate::GreaterOrEqual(n) => number.is_some_and(|v| v >= *n),
            Predicate::Range(low, high) => number.is_some_and(|v| *low <= v && v <= *high),
        }
    }
}

/// Whether `text` fits `pattern`, where each `*` stands for any run of characters.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || !text.ends_with(last) || text.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Open,
    Close,
    And,
    Or,
    Not,
    /// `field:value`, `field:[a TO b]` or `field<op>number`, still to be checked.
    Term {
        field: String,
        op: String,
        value: String,
    },
}

impl Token {
    fn text(&self) -> String {
        match self {
            Token::Open => "(".into(),
            Token::Close => ")".into(),
            Token::And => "AND".into(),
            Token::Or => "OR".into(),
            Token::Not => "NOT".into(),
            Token::Term { field, op, value } => format!("{field}{op}{value}"),
        }
    }
}

fn value_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_-.,@/#=:*+".contains(c)
}

fn field_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_-.,@/#".contains(c)
}

fn tokenize(text: &str) -> Result<Vec<Token>, QueryError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' {
            tokens.push(Token::Open);
            i += 1;
        } else if c == ')' {
            tokens.push(Token::Close);
            i += 1;
        } else if field_char(c) {
            let start = i;
            while i < chars.len() && field_char(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let next = chars.get(i).copied();
            if matches!(next, Some(':' | '<' | '>')) {
                let mut op = String::from(chars[i]);
                i += 1;
                if op != ":" && chars.get(i) == Some(&'=') {
                    op.push('=');
                    i += 1;
                }
                let value_start = i;
                if op == ":" && chars.get(i) == Some(&'[') {
                    while i < chars.len() && chars[i] != ']' {
                        i += 1;
                    }
                    if i == chars.len() {
                        return Err(QueryError {
                            token: chars[value_start..].iter().collect(),
                            reason: "a range [a TO b] is not closed with ]".into(),
                        });
                    }
                    i += 1;
                } else {
                    while i < chars.len() && value_char(chars[i]) {
                        i += 1;
                    }
                }
                let value: String = chars[value_start..i].iter().collect();
                if value.is_empty() {
                    let rest: String = chars[i..]
                        .iter()
                        .take_while(|c| !c.is_whitespace())
                        .collect();
                    let reason = format!(
                        "{word}{op} must be followed by a value of [a-zA-Z0-9_-.,@/#=:+] and * wildcards"
                    );
                    return Err(QueryError {
                        token: if rest.is_empty() {
                            format!("{word}{op}")
                        } else {
                            rest
                        },
                        reason,
                    });
                }
                tokens.push(Token::Term {
                    field: word,
                    op,
                    value,
                });
            } else {
                tokens.push(match word.as_str() {
                    "AND" => Token::And,
                    "OR" => Token::Or,
                    "NOT" => Token::Not,
                    _ => {
                        return Err(QueryError {
                            token: word,
                            reason: "expected field:value, AND, OR, NOT or a parenthesis".into(),
                        })
                    }
                });
            }
        } else {
            let token: String = chars[i..]
                .iter()
                .take_while(|c| !c.is_whitespace())
                .collect();
            return Err(QueryError {
                token,
                reason: format!("{c:?} is not part of the supported query syntax"),
            });
        }
    }
    Ok(tokens)
}

struct Parser<'t> {
    tokens: &'t [Token],
    at: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn or(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.and()?;
        while self.peek() == Some(&Token::Or) {
            self.at += 1;
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.unary()?;
        loop {
            match self.peek() {
                Some(Token::And) => self.at += 1,
                Some(Token::Open | Token::Not | Token::Term { .. }) => {}
                _ => return Ok(left),
            }
            let right = self.unary()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
    }

    fn unary(&mut self) -> Result<Expr, QueryError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(QueryError {
                token: self.peek().map_or_else(String::new, Token::text),
                reason: format!("parentheses and NOT nest at most {MAX_DEPTH} deep"),
            });
        }
        let expr = match self.tokens.get(self.at).cloned() {
            Some(Token::Not) => {
                self.at += 1;
                Expr::Not(Box::new(self.unary()?))
            }
            Some(Token::Open) => {
                self.at += 1;
                let inner = self.or()?;
                if self.peek() != Some(&Token::Close) {
                    return Err(QueryError {
                        token: self.peek().map_or_else(|| "(".into(), Token::text),
                        reason: "a parenthesis is not closed".into(),
                    });
                }
                self.at += 1;
                inner
            }
            Some(Token::Term { field, op, value }) => {
                self.at += 1;
                term(&field, &op, &value)?
            }
            Some(other) => {
                return Err(QueryError {
                    token: other.text(),
                    reason: "expected a term, NOT or (".into(),
                })
            }
            None => {
                return Err(QueryError {
                    token: self.tokens.last().map_or_else(String::new, Token::text),
                    reason: "the query ends where a term was expected".into(),
                })
            }
        };
        self.depth -= 1;
        Ok(expr)
    }
}

fn term(field: &str, op: &str, value: &str) -> Result<Expr, QueryError> {
    let whole = || format!("{field}{op}{value}");
    let refuse = |reason: String| QueryError {
        token: whole(),
        reason,
    };
    let parsed_field = parse_field(field).map_err(|reason| QueryError {
        token: field.to_owned(),
        reason,
    })?;
    let number = |text: &str| {
        text.trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .ok_or_else(|| refuse(format!("{text:?} is not a number")))
    };
    let predicate = match op {
        ":" if value.starts_with('[') => {
            let inner = &value[1..value.len() - 1];
            let bounds: Vec<&str> = inner.split(" TO ").collect();
            let [low, high] = bounds.as_slice() else {
                return Err(refuse("a range is written [low TO high]".into()));
            };
            Predicate::Range(number(low)?, number(high)?)
        }
        ":" => Predicate::Matches(value.to_owned()),
        "<" => Predicate::Less(number(value)?),
        "<=" => Predicate::LessOrEqual(number(value)?),
        ">" => Predicate::Greater(number(value)?),
        ">=" => Predicate::GreaterOrEqual(number(value)?),
        other => return Err(refuse(format!("{other:?} is not a supported operator"))),
    };
    Ok(Expr::Term(parsed_field, predicate))
}

fn parse_field(field: &str) -> Result<Field, String> {
    let path = |rest: &str| -> Result<Vec<String>, String> {
        let keys: Vec<String> = rest.split('.').map(str::to_owned).collect();
        if keys.iter().any(|k| k.is_empty()) {
            return Err("a shadow path is keys separated by single dots".into());
        }
        Ok(keys)
    };
    match field {
        "thingName" => Ok(Field::ThingName),
        "thingTypeName" => Ok(Field::ThingTypeName),
        "thingGroupNames" => Ok(Field::ThingGroupNames),
        _ => {
            if let Some(name) = field.strip_prefix("attributes.") {
                if name.is_empty() || name.contains('.') {
                    return Err("an attribute field is attributes.NAME".into());
                }
                Ok(Field::Attribute(name.to_owned()))
            } else if let Some(rest) = field.strip_prefix("shadow.reported.") {
                Ok(Field::Reported(path(rest)?))
            } else if let Some(rest) = field.strip_prefix("shadow.desired.") {
                Ok(Field::Desired(path(rest)?))
            } else {
                Err(
                    "supported fields are thingName, thingTypeName, thingGroupNames, \
                     attributes.NAME, shadow.reported.PATH and shadow.desired.PATH"
                        .into(),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests;
