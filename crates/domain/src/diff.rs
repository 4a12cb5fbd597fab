//! Field-level change sets between two JSON documents, and their replay.
//!
//! Audit events store `before`/`after` as maps from JSON Pointer to value, holding only what
//! changed. Applying every event's `after` in order to an empty document rebuilds the current
//! case exactly; that is what `audit replay` checks.

use serde_json::{Map, Value};

/// Marker for a key that does not exist on one side.
const ABSENT: &str = "$absent";
/// Marker for elements appended to an array (histories grow; storing only the tail keeps
/// events small however long a case lives).
const APPEND: &str = "$append";

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChangeSet {
    pub before: Map<String, Value>,
    pub after: Map<String, Value>,
}

impl ChangeSet {
    pub fn is_empty(&self) -> bool {
        self.after.is_empty()
    }
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn unescape(seg: &str) -> String {
    seg.replace("~1", "/").replace("~0", "~")
}

fn absent() -> Value {
    serde_json::json!({ ABSENT: true })
}

pub fn diff(before: &Value, after: &Value) -> ChangeSet {
    let mut cs = ChangeSet::default();
    walk("", Some(before), Some(after), &mut cs);
    cs
}

fn walk(path: &str, before: Option<&Value>, after: Option<&Value>, cs: &mut ChangeSet) {
    match (before, after) {
        (Some(b), Some(a)) if b == a => {}
        (Some(Value::Object(b)), Some(Value::Object(a))) if !path.is_empty() || !b.is_empty() => {
            for (k, av) in a {
                walk(&format!("{path}/{}", escape(k)), b.get(k), Some(av), cs);
            }
            for (k, bv) in b.iter().filter(|(k, _)| !a.contains_key(*k)) {
                walk(&format!("{path}/{}", escape(k)), Some(bv), None, cs);
            }
        }
        (Some(Value::Array(b)), Some(Value::Array(a))) if a.len() > b.len() && a[..b.len()] == b[..] => {
            cs.before.insert(path.into(), serde_json::json!({ "$len": b.len() }));
            cs.after.insert(path.into(), serde_json::json!({ APPEND: a[b.len()..] }));
        }
        (b, a) => {
            cs.before.insert(path.into(), b.cloned().unwrap_or_else(absent));
            cs.after.insert(path.into(), a.cloned().unwrap_or_else(absent));
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot apply change at '{0}'")]
pub struct ApplyError(pub String);

/// Applies one event's `after` map to `doc`.
pub fn apply(doc: &mut Value, after: &Map<String, Value>) -> Result<(), ApplyError> {
    for (path, value) in after {
        if path.is_empty() {
            *doc = value.clone();
            continue;
        }
        let segments: Vec<String> = path.split('/').skip(1).map(unescape).collect();
        let (last, parents) = segments.split_last().ok_or_else(|| ApplyError(path.clone()))?;
        let mut node = &mut *doc;
        for seg in parents {
            if !node.is_object() {
                *node = Value::Object(Map::new());
            }
            node = node
                .as_object_mut()
                .ok_or_else(|| ApplyError(path.clone()))?
                .entry(seg.clone())
                .or_insert_with(|| Value::Object(Map::new()));
        }
        if !node.is_object() {
            *node = Value::Object(Map::new());
        }
        let obj = node.as_object_mut().ok_or_else(|| ApplyError(path.clone()))?;
        match value.as_object() {
            Some(m) if m.len() == 1 && m.contains_key(ABSENT) => {
                obj.remove(last);
            }
            Some(m) if m.len() == 1 && m.contains_key(APPEND) => {
                let tail = m[APPEND].as_array().ok_or_else(|| ApplyError(path.clone()))?;
                let target = obj.entry(last.clone()).or_insert_with(|| Value::Array(vec![]));
                target.as_array_mut().ok_or_else(|| ApplyError(path.clone()))?.extend(tail.iter().cloned());
            }
            _ => {
                obj.insert(last.clone(), value.clone());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round_trip(steps: &[Value]) {
        let mut rebuilt = Value::Null;
        let mut prev = Value::Null;
        for next in steps {
            let cs = diff(&prev, next);
            apply(&mut rebuilt, &cs.after).expect("apply");
            assert_eq!(&rebuilt, next, "after applying {:?}", cs.after);
            prev = next.clone();
        }
    }

    #[test]
    fn only_changed_fields_are_recorded() {
        let a = json!({"state": "intake", "version": 1, "site": {"address": "1 Elm", "notes": null}, "tags": ["x"]});
        let b = json!({"state": "scheduled", "version": 2, "site": {"address": "1 Elm", "notes": "gate"}, "tags": ["x", "y"]});
        let cs = diff(&a, &b);
        let keys: Vec<&str> = cs.after.keys().map(String::as_str).collect();
        assert_eq!(keys, vec!["/site/notes", "/state", "/tags", "/version"]);
        assert_eq!(cs.after["/tags"], json!({"$append": ["y"]}));
        assert_eq!(cs.before["/state"], json!("intake"));
        assert!(diff(&a, &a).is_empty());
    }

    #[test]
    fn replay_rebuilds_every_step_exactly() {
        round_trip(&[
            json!({"id": "t1", "state": "lead", "site": null, "list": [], "a/b": 1}),
            json!({"id": "t1", "state": "intake", "site": {"address": "1 Elm"}, "list": [1], "a/b": 2}),
            json!({"id": "t1", "state": "intake", "site": {"address": "2 Oak", "zone": "n"}, "list": [1, 2, 3], "a/b": 2}),
            json!({"id": "t1", "state": "scheduled", "site": {"address": "2 Oak"}, "list": [3], "extra": {"deep": {"x": 1}}}),
            json!({"id": "t1", "state": "scheduled", "site": null, "list": [], "extra": {}}),
        ]);
    }

    #[test]
    fn bad_targets_are_errors() {
        let mut doc = json!({"list": 5});
        let mut after = Map::new();
        after.insert("/list".into(), json!({"$append": [1]}));
        assert!(apply(&mut doc, &after).is_err());
    }
}
