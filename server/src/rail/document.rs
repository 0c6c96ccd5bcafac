//! What poem-openapi's generated documents cannot say on their own, added to the JSON each
//! version serves:
//! - every object a request body names is closed (`additionalProperties: false`): every
//!   rail input denies unknown fields (`#[oai(deny_unknown_fields)]`);
//! - a bulk body (an array) takes at most [`MAX_BULK`] items, each of an `…Item` schema:
//!   the single request's schema with the same types but without the lengths and patterns
//!   of its values, because a bulk item whose values fail those checks is answered in its
//!   own entry, not by refusing the request (only a value of the wrong type is);
//! - a property an object may lack may also be null: poem-openapi writes an absent
//!   `Option` as `null` and reads `null` as absent, but does not document it.

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
    serde_json::to_string(&doc).unwrap_or_else(|_| spec.to_owned())
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
