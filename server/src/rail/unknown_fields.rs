//! Every unknown field of a body, not only the first: poem-openapi's `deny_unknown_fields`
//! stops at the first one it meets, so [`UnknownFields`] reads the body against the
//! operation's schema in the version's own OpenAPI document (the one clients read, where
//! every rail object has `additionalProperties: false`) and refuses it with a pointer to
//! each unknown field before the operation parses it.

use std::sync::Arc;

use poem::http::{Method, StatusCode};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};
use serde_json::{Map, Value};

use crate::http::idempotency::not_stored;
use crate::http::problem::{FieldError, Problem};

/// How deep a body is walked; deeper parts are left to the parser (which has its own limit).
const MAX_DEPTH: usize = 32;

/// One operation that takes a JSON body: its path template split in segments, its schema.
#[derive(Debug)]
struct Operation {
    method: Method,
    segments: Vec<String>,
    schema: Value,
}

/// The middleware, built from one version's OpenAPI document.
#[derive(Debug, Clone)]
pub struct UnknownFields {
    operations: Arc<Vec<Operation>>,
    schemas: Arc<Map<String, Value>>,
}

impl UnknownFields {
    /// Reads the operations with a JSON body from the document `json` (none when it is not
    /// JSON).
    pub fn from_json(json: &str) -> Self {
        let document = serde_json::from_str(json).unwrap_or(Value::Null);
        Self::from_document(&document)
    }

    /// Reads the operations with a JSON body from `document`.
    pub fn from_document(document: &Value) -> Self {
        let mut operations = Vec::new();
        let paths = document["paths"].as_object().cloned().unwrap_or_default();
        for (path, item) in paths {
            let Some(item) = item.as_object() else {
                continue;
            };
            for (method, operation) in item {
                let content = operation["requestBody"]["content"].as_object();
                let json = content.and_then(|types| {
                    types
                        .iter()
                        .find(|(kind, _)| kind.starts_with("application/json"))
                        .map(|(_, body)| &body["schema"])
                });
                let Some(schema) = json else {
                    continue;
                };
                let Ok(method) = Method::from_bytes(method.to_ascii_uppercase().as_bytes()) else {
                    continue;
                };
                operations.push(Operation {
                    method,
                    segments: split(&path),
                    schema: schema.clone(),
                });
            }
        }
        let schemas = document["components"]["schemas"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        Self {
            operations: Arc::new(operations),
            schemas: Arc::new(schemas),
        }
    }

    fn schema_for(&self, method: &Method, path: &str) -> Option<&Value> {
        let segments = split(path);
        self.operations
            .iter()
            .find(|op| {
                op.method == method
                    && op.segments.len() == segments.len()
                    && op
                        .segments
                        .iter()
                        .zip(&segments)
                        .all(|(template, given)| template.starts_with('{') || template == given)
            })
            .map(|op| &op.schema)
    }

    /// The pointers of every field of `value` its `schema` does not know.
    fn unknown(&self, schema: &Value, value: &Value) -> Vec<String> {
        let mut found = Vec::new();
        self.walk(schema, value, &mut String::new(), &mut found, 0);
        found
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema["$ref"].as_str() {
            Some(reference) => reference
                .strip_prefix("#/components/schemas/")
                .and_then(|name| self.schemas.get(name))
                .unwrap_or(&Value::Null),
            None => schema,
        }
    }

    fn walk(
        &self,
        schema: &Value,
        value: &Value,
        at: &mut String,
        found: &mut Vec<String>,
        depth: usize,
    ) {
        if depth > MAX_DEPTH {
            return;
        }
        let schema = self.resolve(schema);
        if let Some(all) = schema["allOf"].as_array() {
            // poem-openapi documents a described reference as `allOf: [{$ref}, {description}]`:
            // the one branch with a shape is the schema; with several, nothing is decided.
            let shaped: Vec<&Value> = all
                .iter()
                .filter(|branch| {
                    ["$ref", "properties", "items"]
                        .iter()
                        .any(|key| branch.get(key).is_some())
                })
                .collect();
            if let [only] = shaped.as_slice() {
                self.walk(only, value, at, found, depth + 1);
            }
            return;
        }
        match value {
            Value::Object(fields) if schema["additionalProperties"] == Value::Bool(false) => {
                let known = schema["properties"].as_object();
                for (name, field) in fields {
                    let len = at.len();
                    at.push('/');
                    at.push_str(&name.replace('~', "~0").replace('/', "~1"));
                    match known.and_then(|k| k.get(name)) {
                        Some(property) => self.walk(property, field, at, found, depth + 1),
                        None => found.push(at.clone()),
                    }
                    at.truncate(len);
                }
            }
            Value::Array(items) if !schema["items"].is_null() => {
                for (index, item) in items.iter().enumerate() {
                    let len = at.len();
                    at.push_str(&format!("/{index}"));
                    self.walk(&schema["items"], item, at, found, depth + 1);
                    at.truncate(len);
                }
            }
            _ => {}
        }
    }
}

fn split(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl<E: Endpoint> Middleware<E> for UnknownFields {
    type Output = UnknownFieldsEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        UnknownFieldsEndpoint {
            inner,
            fields: self.clone(),
        }
    }
}

/// An endpoint wrapped by [`UnknownFields`].
#[derive(Debug)]
pub struct UnknownFieldsEndpoint<E> {
    inner: E,
    fields: UnknownFields,
}

impl<E: Endpoint> Endpoint for UnknownFieldsEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Response> {
        let Some(schema) = self.fields.schema_for(req.method(), req.uri().path()) else {
            return self.inner.call(req).await.map(IntoResponse::into_response);
        };
        let body = req.take_body().into_bytes().await?;
        if let Ok(value) = serde_json::from_slice::<Value>(&body) {
            let unknown = self.fields.unknown(schema, &value);
            if !unknown.is_empty() {
                let detail = format!("{} unknown field(s) in the body", unknown.len());
                let errors = unknown
                    .into_iter()
                    .map(|pointer| FieldError {
                        pointer,
                        detail: "is not a field of this body".to_owned(),
                    })
                    .collect();
                let problem =
                    Problem::new(StatusCode::BAD_REQUEST, Some(detail)).with_errors(errors);
                return Ok(not_stored(problem));
            }
        }
        req.set_body(body);
        self.inner.call(req).await.map(IntoResponse::into_response)
    }
}
