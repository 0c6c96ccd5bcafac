//! What poem-openapi's generated documents cannot say on their own, added to the JSON each
//! version serves:
//! - every object a request body names is closed (`additionalProperties: false`): every
//!   rail input denies unknown fields (`#[oai(deny_unknown_fields)]`);
//! - a bulk body (an array) takes at most [`MAX_BULK`] items, each of an `…Item` schema:
//!   the single request's schema with the same types but without the lengths and patterns
//!   of its values, because a bulk item whose values fail those checks is answered in its
//!   own entry, not by refusing the request (only a value of the wrong type is);
//! - a property an object may lack may also be null: poem-openapi writes an absent
//!   `Option` as `null` and reads `null` as absent, but does not document it;
//! - every POST takes an optional `Idempotency-Key` header and its answers may carry
//!   `Idempotent-Replayed` (the wrapper of [`http::idempotency`](crate::http::idempotency)
//!   handles both, outside the operations).

use serde_json::{Map, Value};

use super::pages::MAX_BULK;

const PREFIX: &str = "#/components/schemas/";

/// The bounds of a value that a bulk item's entry answers rather than the request.
const VALUE_BOUNDS: &[&str] = &["pattern", "minLength", "maxLength"];

/// `spec` with the additions above; `spec` unchanged if it is not JSON.
pub fn finish(spec: &str) -> String {
    let Ok(mut doc) = serde_json::from_str::<Value>(spec) else {
        return spec.to_owned();
    };
    if let Some(all) = schemas(&mut doc) {
        all.values_mut().for_each(nullable_optionals);
    }
    let mut inputs = Vec::new();
    for body in request_bodies(&mut doc) {
        refs(body, &mut inputs);
    }
    let mut i = 0;
    while let Some(name) = inputs.get(i).cloned() {
        if let Some(schema) = schemas(&mut doc).and_then(|s| s.get_mut(&name)) {
            refs(schema, &mut inputs);
            if schema.get("type").and_then(Value::as_str) == Some("object") {
                schema["additionalProperties"] = Value::Bool(false);
            }
        }
        i += 1;
    }
    let mut items = Vec::new();
    for body in request_bodies(&mut doc) {
        if body.get("type").and_then(Value::as_str) == Some("array") {
            body["maxItems"] = Value::from(MAX_BULK);
            if let Some(item) = body.get_mut("items") {
                retarget(item, &mut items);
            }
        }
    }
    let mut i = 0;
    while let Some(name) = items.get(i).cloned() {
        let loose = schemas(&mut doc).and_then(|s| s.get(&name)).cloned();
        if let Some(mut loose) = loose {
            retarget(&mut loose, &mut items);
            if let Some(Value::String(text)) = loose.get_mut("description") {
                text.push_str(
                    "\n\nAs an item of a bulk request: values of these types whose content \
                     is refused are answered in the item's entry.",
                );
            }
            if let Some(all) = schemas(&mut doc) {
                all.insert(format!("{name}Item"), loose);
            }
        }
        i += 1;
    }
    idempotency_headers(&mut doc);
    serde_json::to_string(&doc).unwrap_or_else(|_| spec.to_owned())
}

/// Documents `Idempotency-Key` on every POST, and `Idempotent-Replayed` on its answers.
fn idempotency_headers(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    let key = serde_json::json!({
        "name": "Idempotency-Key",
        "in": "header",
        "required": false,
        "description": "Makes the request safe to retry: the first answer is stored and \
            replayed for a retry with the same key (`Idempotent-Replayed: true`); the same key \
            with another request is 422, and a retry while the first runs is 409. 1 to 255 \
            visible ASCII characters; remembered for `api.idempotency_ttl` (24 h by default).",
        "schema": { "type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]{1,255}$" }
    });
    let replayed = serde_json::json!({
        "description": "`true` when this answer is the stored answer of an earlier request \
            with the same `Idempotency-Key`.",
        "schema": { "type": "string", "enum": ["true"] }
    });
    for operation in paths.values_mut().filter_map(|ops| ops.get_mut("post")) {
        if let Some(parameters) = operation
            .get_mut("parameters")
            .and_then(Value::as_array_mut)
        {
            parameters.push(key.clone());
        } else if let Some(operation) = operation.as_object_mut() {
            operation.insert("parameters".into(), Value::Array(vec![key.clone()]));
        }
        let Some(responses) = operation
            .get_mut("responses")
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        for response in responses.values_mut().filter_map(Value::as_object_mut) {
            let headers = response
                .entry("headers")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(headers) = headers.as_object_mut() {
                headers.insert("Idempotent-Replayed".into(), replayed.clone());
            }
        }
    }
}

/// Marks the properties of `schema` that are not required as nullable.
fn nullable_optionals(schema: &mut Value) {
    let required: Vec<String> = match schema.get("required").and_then(Value::as_array) {
        Some(list) => list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        None => Vec::new(),
    };
    let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    for (name, prop) in props {
        if !required.contains(name) {
            if let Some(prop) = prop.as_object_mut() {
                prop.insert("nullable".into(), Value::Bool(true));
            }
        }
    }
}

fn schemas(doc: &mut Value) -> Option<&mut Map<String, Value>> {
    doc.pointer_mut("/components/schemas")?.as_object_mut()
}

/// The JSON request body schemas of every operation.
fn request_bodies(doc: &mut Value) -> Vec<&mut Value> {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return Vec::new();
    };
    paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|ops| ops.values_mut())
        .filter_map(|op| op.pointer_mut("/requestBody/content"))
        .filter_map(Value::as_object_mut)
        .flat_map(|content| content.iter_mut())
        .filter(|(kind, _)| kind.starts_with("application/json"))
        .filter_map(|(_, media)| media.get_mut("schema"))
        .collect()
}

/// Adds the schema names `value` refers to, anywhere inside it, to `names`.
fn refs(value: &Value, names: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    ("$ref", Value::String(target)) => {
                        if let Some(name) = target.strip_prefix(PREFIX) {
                            if !names.iter().any(|n| n == name) {
                                names.push(name.to_owned());
                            }
                        }
                    }
                    _ => refs(inner, names),
                }
            }
        }
        Value::Array(list) => list.iter().for_each(|v| refs(v, names)),
        _ => {}
    }
}

/// Drops the value bounds inside `value` and points its references at the `…Item` copies,
/// adding the names copied to `names`.
fn retarget(value: &mut Value, names: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for bound in VALUE_BOUNDS {
                map.remove(*bound);
            }
            for (key, inner) in map.iter_mut() {
                match (key.as_str(), inner) {
                    ("$ref", Value::String(target)) => {
                        if let Some(name) = target.strip_prefix(PREFIX).map(str::to_owned) {
                            *target = format!("{PREFIX}{name}Item");
                            if !names.contains(&name) {
                                names.push(name);
                            }
                        }
                    }
                    // A property named like a bound is a property, not a bound.
                    ("properties", Value::Object(props)) => {
                        props.values_mut().for_each(|v| retarget(v, names));
                    }
                    (_, inner) => retarget(inner, names),
                }
            }
        }
        Value::Array(list) => list.iter_mut().for_each(|v| retarget(v, names)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_post_documents_its_idempotency_key() {
        let spec = r#"{"paths":{"/users":{"post":{"responses":{"201":{}}},"get":{"responses":{"200":{}}}}}}"#;
        let doc: Value = serde_json::from_str(&finish(spec)).unwrap();
        let post = &doc["paths"]["/users"]["post"];
        assert_eq!(post["parameters"][0]["name"], "Idempotency-Key");
        assert_eq!(post["parameters"][0]["schema"]["maxLength"], 255);
        assert!(post["responses"]["201"]["headers"]["Idempotent-Replayed"].is_object());
        assert!(doc["paths"]["/users"]["get"].get("parameters").is_none());
    }

    #[test]
    fn inputs_are_closed_and_bulk_items_loosened() {
        let body = |schema: Value| json!({"requestBody": {"content": {"application/json": {"schema": schema}}}});
        let doc = json!({
            "paths": {
                "/one": {"post": body(json!({"$ref": "#/components/schemas/In"}))},
                "/bulk": {"post": body(json!({"type": "array", "items": {"$ref": "#/components/schemas/In"}}))},
            },
            "components": {"schemas": {
                "In": {"type": "object", "description": "In.", "required": ["name"], "properties": {
                    "name": {"type": "string", "maxLength": 5, "pattern": "^a$"},
                    "money": {"allOf": [{"$ref": "#/components/schemas/Money"}]},
                    "n": {"type": "integer", "maximum": 9},
                }},
                "Money": {"type": "object", "required": ["amount"],
                    "properties": {"amount": {"type": "string", "minLength": 1}}},
                "Out": {"type": "object", "properties": {}},
            }},
        });
        let done: Value = serde_json::from_str(&finish(&doc.to_string())).unwrap();
        let schemas = &done["components"]["schemas"];
        assert_eq!(schemas["In"]["additionalProperties"], json!(false));
        assert_eq!(schemas["Money"]["additionalProperties"], json!(false));
        assert_eq!(schemas["Out"].get("additionalProperties"), None);
        assert_eq!(schemas["In"]["properties"]["name"]["maxLength"], json!(5));
        let bulk =
            &done["paths"]["/bulk"]["post"]["requestBody"]["content"]["application/json"]["schema"];
        assert_eq!(bulk["maxItems"], json!(MAX_BULK));
        assert_eq!(bulk["items"]["$ref"], json!("#/components/schemas/InItem"));
        let item = &schemas["InItem"];
        assert_eq!(item["additionalProperties"], json!(false));
        assert_eq!(item["properties"]["name"], json!({"type": "string"}));
        assert_eq!(
            item["description"].as_str().map(|d| d.starts_with("In.")),
            Some(true)
        );
        assert_eq!(
            item["properties"]["n"]["maximum"],
            json!(9),
            "types keep their range"
        );
        assert_eq!(
            item["properties"]["money"]["allOf"][0]["$ref"],
            json!("#/components/schemas/MoneyItem")
        );
        assert_eq!(
            schemas["MoneyItem"]["properties"]["amount"],
            json!({"type": "string"})
        );
    }
}
