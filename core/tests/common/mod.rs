//! What both fixture suites share: reading a fixture, the normalisations
//! llmux's serialisation may apply ([`Norm`]), and the round trip itself.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::path::PathBuf;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

/// The text of fixture `name` under `tests/fixtures/<dir>`.
pub(crate) fn read_fixture(dir: &str, name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(dir)
        .join(name);
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The only differences llmux's serialisation may have from OpenAI's documented
/// JSON. Each is a deliberate representation choice that loses no information.
///
/// Paths are `/`-separated keys from the document root; `*` matches every array
/// element or object member at that level.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Norm {
    /// An explicit `null` at one of these paths comes back as an absent key.
    ///
    /// llmux models these optional fields as `Option<_>` with
    /// `skip_serializing_if = "Option::is_none"`, so `null` and "absent" are the
    /// same value. OpenAI itself sends either (its own documented examples differ:
    /// `refusal: null` in one `chat.completion`, no `refusal` in the next), and
    /// OpenAI's SDKs read both as `None`. Nulls inside untyped JSON that llmux
    /// carries as a `Value` (e.g. `logprobs.refusal`) are kept and not listed here.
    NullOmitted(&'static [&'static str]),
    /// Integral numbers at these paths come back as floats (`0` → `0.0`).
    ///
    /// llmux types sampling parameters as `f64`; `0` and `0.0` are the same JSON
    /// number to every reader, only `serde_json::Value` equality tells them apart.
    IntegralAsFloat(&'static [&'static str]),
}

impl Norm {
    pub(crate) fn apply(self, v: &mut Value) {
        let paths = match self {
            Norm::NullOmitted(p) | Norm::IntegralAsFloat(p) => p,
        };
        for path in paths {
            let segs: Vec<&str> = path.split('/').collect();
            self.apply_at(v, &segs);
        }
    }

    fn apply_at(self, v: &mut Value, segs: &[&str]) {
        let Some((first, rest)) = segs.split_first() else {
            return;
        };
        if rest.is_empty() {
            if let Value::Object(map) = v {
                match self {
                    Norm::NullOmitted(_) => {
                        if map.get(*first).is_some_and(Value::is_null) {
                            map.remove(*first);
                        }
                    }
                    Norm::IntegralAsFloat(_) => {
                        if let Some(val) = map.get_mut(*first) {
                            if let Some(n) = val.as_i64().filter(|_| !val.is_f64()) {
                                *val = json!(n as f64);
                            }
                        }
                    }
                }
            }
            return;
        }
        match (v, *first) {
            (Value::Array(items), "*") => {
                for item in items {
                    self.apply_at(item, rest);
                }
            }
            (Value::Object(map), "*") => {
                for val in map.values_mut() {
                    self.apply_at(val, rest);
                }
            }
            (Value::Object(map), key) => {
                if let Some(val) = map.get_mut(key) {
                    self.apply_at(val, rest);
                }
            }
            _ => {}
        }
    }
}

/// `expected` after `norms`, each of which must change something.
pub(crate) fn normalised(what: &str, mut expected: Value, norms: &[Norm]) -> Value {
    for norm in norms {
        let before = expected.clone();
        norm.apply(&mut expected);
        assert_ne!(
            before, expected,
            "{what}: normalisation {norm:?} is listed but not needed"
        );
    }
    expected
}

/// Deserialise `text` as `T`, serialise it back, compare with `text` after `norms`.
pub(crate) fn round_trip_text<T: DeserializeOwned + Serialize>(
    what: &str,
    text: &str,
    norms: &[Norm],
) -> T {
    let typed: T = serde_json::from_str(text).unwrap_or_else(|e| panic!("{what}: {e}"));
    let back = serde_json::to_value(&typed).unwrap();
    let expected = normalised(what, serde_json::from_str(text).unwrap(), norms);
    assert_eq!(
        back,
        expected,
        "{what}: round trip differs\n back: {}\n want: {}",
        serde_json::to_string_pretty(&back).unwrap(),
        serde_json::to_string_pretty(&expected).unwrap()
    );
    typed
}
