//! JSON Schema → Gemini's `Schema` (an OpenAPI 3.0 subset).
//!
//! Gemini's `responseSchema` and `functionDeclarations[].parameters` accept
//! `type` (upper-case enum), `format`, `title`, `description`, `nullable`,
//! `enum` (strings), `properties`, `required`, `items`, `anyOf`, min/max
//! counts, lengths and bounds, `pattern`, `example` and `default`.
//!
//! What JSON Schema says beyond that is handled in one of three ways:
//! - rewritten: `$ref` into `$defs`/`definitions` is inlined, `["T", "null"]`
//!   types and `null` branches of `anyOf`/`oneOf` become `nullable`, `oneOf`
//!   becomes `anyOf`, `const` becomes a one-value `enum`, a one-element `allOf`
//!   is merged;
//! - dropped, because it only annotates or only loosens what Gemini generates:
//!   `$schema`, `$id`, `$comment`, `additionalProperties`, `strict`, `examples`,
//!   `readOnly`, `writeOnly`, `deprecated`, `x-*`, unsupported `format`s;
//! - anything else (`not`, `if`/`then`/`else`, `patternProperties`,
//!   `uniqueItems`, `multipleOf`, `exclusiveMinimum`, recursive `$ref`, …)
//!   cannot be expressed: [`Mode::Strict`] (structured output) fails with the
//!   keyword and its path, [`Mode::Lenient`] (tool parameters) drops it.

use serde_json::{Map, Value};

/// How to treat a keyword Gemini cannot express.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Fail: the caller asked for output that must match the schema.
    Strict,
    /// Drop it: tool parameter schemas are cleaned, not rejected.
    Lenient,
}

/// Keywords copied as they are.
const COPIED: &[&str] = &[
    "title",
    "description",
    "nullable",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "example",
    "default",
];

/// Keywords dropped in either mode.
const DROPPED: &[&str] = &[
    "$schema",
    "$id",
    "$anchor",
    "$comment",
    "$defs",
    "definitions",
    "additionalProperties",
    "strict",
    "examples",
    "readOnly",
    "writeOnly",
    "deprecated",
    "contentMediaType",
    "contentEncoding",
];

/// `format` values Gemini accepts.
const FORMATS: &[&str] = &["enum", "date-time", "int32", "int64", "float", "double"];

/// Convert `schema`; `what` names it in errors (`response_format.json_schema.schema`).
pub fn convert(schema: &Value, mode: Mode, what: &str) -> Result<Value, String> {
    let defs = schema
        .get("$defs")
        .or_else(|| schema.get("definitions"))
        .and_then(Value::as_object);
    let mut cx = Context {
        mode,
        defs,
        stack: Vec::new(),
    };
    cx.node(schema, what)
}

struct Context<'a> {
    mode: Mode,
    defs: Option<&'a Map<String, Value>>,
    /// `$ref`s being expanded (to detect recursion).
    stack: Vec<String>,
}

impl<'a> Context<'a> {
    fn unsupported(&self, path: &str, keyword: &str) -> Result<(), String> {
        match self.mode {
            Mode::Lenient => Ok(()),
            Mode::Strict => Err(format!(
                "{path}: '{keyword}' cannot be expressed in Gemini's response schema"
            )),
        }
    }

    fn node(&mut self, schema: &'a Value, path: &str) -> Result<Value, String> {
        let obj = match schema {
            Value::Object(o) => o,
            Value::Bool(true) => return Ok(Value::Object(Map::new())),
            _ => return Err(format!("{path}: a schema must be an object")),
        };
        if let Some(reference) = obj.get("$ref") {
            return self.reference(obj, reference, path);
        }
        let mut out = Map::new();
        let mut nullable = false;
        for (key, value) in obj {
            let here = format!("{path}.{key}");
            match key.as_str() {
                "type" => match value {
                    Value::String(t) if t == "null" => {
                        out.insert("type".into(), Value::String("NULL".into()));
                    }
                    Value::String(t) => {
                        out.insert("type".into(), Value::String(t.to_ascii_uppercase()));
                    }
                    Value::Array(types) => {
                        let mut kept = Vec::new();
                        for t in types {
                            match t.as_str() {
                                Some("null") => nullable = true,
                                Some(t) => kept.push(t.to_ascii_uppercase()),
                                None => return Err(format!("{here}: types must be strings")),
                            }
                        }
                        match kept.as_slice() {
                            [] => {
                                out.insert("type".into(), Value::String("NULL".into()));
                            }
                            [one] => {
                                out.insert("type".into(), Value::String(one.clone()));
                            }
                            many => {
                                let branches = many
                                    .iter()
                                    .map(|t| {
                                        let mut m = Map::new();
                                        m.insert("type".into(), Value::String(t.clone()));
                                        Value::Object(m)
                                    })
                                    .collect();
                                out.insert("anyOf".into(), Value::Array(branches));
                            }
                        }
                    }
                    _ => return Err(format!("{here}: must be a string or a list of strings")),
                },
                "properties" => {
                    let Some(props) = value.as_object() else {
                        return Err(format!("{here}: must be an object"));
                    };
                    let mut converted = Map::new();
                    for (name, sub) in props {
                        converted.insert(name.clone(), self.node(sub, &format!("{here}.{name}"))?);
                    }
                    out.insert("properties".into(), Value::Object(converted));
                }
                "required" => {
                    out.insert("required".into(), value.clone());
                }
                "items" => match value {
                    Value::Object(_) | Value::Bool(true) => {
                        out.insert("items".into(), self.node(value, &here)?);
                    }
                    _ => self.unsupported(&here, "items (tuple form)")?,
                },
                "anyOf" | "oneOf" => {
                    let Some(branches) = value.as_array() else {
                        return Err(format!("{here}: must be a list"));
                    };
                    let mut kept = Vec::new();
                    for (i, b) in branches.iter().enumerate() {
                        if b.get("type").and_then(Value::as_str) == Some("null")
                            && b.as_object().is_some_and(|o| o.len() == 1)
                        {
                            nullable = true;
                            continue;
                        }
                        kept.push(self.node(b, &format!("{here}[{i}]"))?);
                    }
                    if kept.len() == 1 {
                        if let Some(Value::Object(only)) = kept.pop() {
                            for (k, v) in only {
                                out.entry(k).or_insert(v);
                            }
                        }
                    } else if !kept.is_empty() {
                        out.insert("anyOf".into(), Value::Array(kept));
                    }
                }
                "allOf" => match value.as_array().map(Vec::as_slice) {
                    Some([only]) => {
                        if let Value::Object(merged) = self.node(only, &format!("{here}[0]"))? {
                            for (k, v) in merged {
                                out.entry(k).or_insert(v);
                            }
                        }
                    }
                    _ => self.unsupported(&here, "allOf")?,
                },
                "enum" => {
                    let Some(values) = value.as_array() else {
                        return Err(format!("{here}: must be a list"));
                    };
                    if values.iter().all(Value::is_string) {
                        out.insert("enum".into(), value.clone());
                        out.insert("format".into(), Value::String("enum".into()));
                    } else {
                        self.unsupported(&here, "enum of non-string values")?;
                    }
                }
                "const" => match value {
                    Value::String(_) => {
                        out.insert("enum".into(), Value::Array(vec![value.clone()]));
                        out.insert("format".into(), Value::String("enum".into()));
                        out.entry("type").or_insert(Value::String("STRING".into()));
                    }
                    _ => self.unsupported(&here, "const of a non-string value")?,
                },
                "format" => {
                    if value.as_str().is_some_and(|f| FORMATS.contains(&f)) {
                        out.entry("format").or_insert(value.clone());
                    }
                }
                k if COPIED.contains(&k) => {
                    out.insert(key.clone(), value.clone());
                }
                k if DROPPED.contains(&k) || k.starts_with("x-") => {}
                _ => self.unsupported(&here, key)?,
            }
        }
        if out.contains_key("enum") {
            out.entry("type").or_insert(Value::String("STRING".into()));
        }
        if nullable {
            out.insert("nullable".into(), Value::Bool(true));
        }
        Ok(Value::Object(out))
    }

    fn reference(
        &mut self,
        obj: &'a Map<String, Value>,
        reference: &Value,
        path: &str,
    ) -> Result<Value, String> {
        let here = format!("{path}.$ref");
        let Some(r) = reference.as_str() else {
            return Err(format!("{here}: must be a string"));
        };
        let name = r
            .strip_prefix("#/$defs/")
            .or_else(|| r.strip_prefix("#/definitions/"))
            .ok_or_else(|| {
                format!("{here}: only local references into $defs are supported ('{r}')")
            })?;
        if self.stack.iter().any(|s| s == name) {
            return Err(format!(
                "{here}: recursive reference '{r}' cannot be expressed in Gemini's schema"
            ));
        }
        let target = self
            .defs
            .and_then(|d| d.get(name))
            .ok_or_else(|| format!("{here}: '{r}' is not defined"))?;
        self.stack.push(name.to_string());
        let resolved = self.node(target, &format!("{path}<{r}>"));
        self.stack.pop();
        let mut resolved = resolved?;
        // Keywords beside `$ref` (a description, say) annotate the use site.
        if let Value::Object(out) = &mut resolved {
            for (k, v) in obj {
                if k != "$ref" && COPIED.contains(&k.as_str()) {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
        Ok(resolved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn openai_strict_schema_converts() {
        let schema = json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {
                "name": {"type": "string", "description": "Full name"},
                "age": {"type": ["integer", "null"]},
                "email": {"type": "string", "format": "email"},
                "role": {"enum": ["admin", "user"]},
                "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 5},
                "address": {"$ref": "#/$defs/Address", "description": "Home"},
                "kind": {"const": "person"},
                "score": {"anyOf": [{"type": "number"}, {"type": "null"}]}
            },
            "required": ["name", "age"],
            "additionalProperties": false,
            "$defs": {
                "Address": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": false}
            }
        });
        let got = convert(&schema, Mode::Strict, "schema").unwrap();
        assert_eq!(
            got,
            json!({
                "type": "OBJECT",
                "properties": {
                    "name": {"type": "STRING", "description": "Full name"},
                    "age": {"type": "INTEGER", "nullable": true},
                    "email": {"type": "STRING"},
                    "role": {"type": "STRING", "format": "enum", "enum": ["admin", "user"]},
                    "tags": {"type": "ARRAY", "items": {"type": "STRING"}, "maxItems": 5},
                    "address": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}, "required": ["city"], "description": "Home"},
                    "kind": {"type": "STRING", "format": "enum", "enum": ["person"]},
                    "score": {"type": "NUMBER", "nullable": true}
                },
                "required": ["name", "age"]
            })
        );
    }

    #[test]
    fn multi_type_unions_become_any_of() {
        let got = convert(
            &json!({"type": ["string", "integer", "null"]}),
            Mode::Strict,
            "s",
        )
        .unwrap();
        assert_eq!(
            got,
            json!({"anyOf": [{"type": "STRING"}, {"type": "INTEGER"}], "nullable": true})
        );
        let got = convert(
            &json!({"oneOf": [{"type": "string"}, {"type": "object", "properties": {"a": {"type": "boolean"}}}]}),
            Mode::Strict,
            "s",
        )
        .unwrap();
        assert_eq!(
            got,
            json!({"anyOf": [{"type": "STRING"}, {"type": "OBJECT", "properties": {"a": {"type": "BOOLEAN"}}}]})
        );
    }

    #[test]
    fn strict_mode_names_what_cannot_be_expressed() {
        let cases = [
            (json!({"type": "object", "properties": {"n": {"type": "number", "exclusiveMinimum": 0}}}), "schema.properties.n.exclusiveMinimum: 'exclusiveMinimum' cannot be expressed in Gemini's response schema"),
            (json!({"type": "array", "items": {"type": "string"}, "uniqueItems": true}), "schema.uniqueItems: 'uniqueItems' cannot be expressed in Gemini's response schema"),
            (json!({"not": {"type": "string"}}), "schema.not: 'not' cannot be expressed in Gemini's response schema"),
            (json!({"enum": [1, 2]}), "schema.enum: 'enum of non-string values' cannot be expressed in Gemini's response schema"),
            (json!({"allOf": [{"type": "string"}, {"minLength": 1}]}), "schema.allOf: 'allOf' cannot be expressed in Gemini's response schema"),
        ];
        for (schema, message) in cases {
            assert_eq!(
                convert(&schema, Mode::Strict, "schema").unwrap_err(),
                message
            );
        }
    }

    #[test]
    fn recursive_and_dangling_refs_fail_in_both_modes() {
        let tree = json!({
            "$ref": "#/$defs/Node",
            "$defs": {"Node": {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}}}}
        });
        for mode in [Mode::Strict, Mode::Lenient] {
            let err = convert(&tree, mode, "schema").unwrap_err();
            assert!(err.contains("recursive reference '#/$defs/Node'"), "{err}");
        }
        let err = convert(&json!({"$ref": "#/$defs/Missing"}), Mode::Lenient, "p").unwrap_err();
        assert_eq!(err, "p.$ref: '#/$defs/Missing' is not defined");
    }

    #[test]
    fn lenient_mode_cleans_tool_parameters() {
        let schema = json!({
            "type": "object",
            "properties": {
                "n": {"type": "integer", "exclusiveMinimum": 0, "multipleOf": 2},
                "list": {"type": "array", "items": {"type": "string"}, "uniqueItems": true}
            },
            "required": ["n"],
            "additionalProperties": false,
            "strict": true,
            "x-internal": 1
        });
        assert_eq!(
            convert(&schema, Mode::Lenient, "p").unwrap(),
            json!({
                "type": "OBJECT",
                "properties": {
                    "n": {"type": "INTEGER"},
                    "list": {"type": "ARRAY", "items": {"type": "STRING"}}
                },
                "required": ["n"]
            })
        );
    }
}
