//! An `attrs` MAP or LIST of {key, value} on the column path: where its key and value leaves
//! are, what their levels mean, and a row of it written over a record's attributes.

use std::collections::BTreeMap;

use parquet::basic::{ConvertedType, LogicalType, Repetition};
use parquet::data_type::ByteArray;
use parquet::record::Field;
use parquet::schema::types::{SchemaDescriptor, Type};
use serde_json::{Map, Value};

use super::batch::{Batch, Cell};
use super::{attr_text, attr_value, string};
use crate::parquet::pair as pair_entry;

/// An `attrs` MAP<key, value> or LIST<STRUCT<key, value>> as two leaf columns read in step:
/// one level per entry, or one for a row whose map is null or empty. A level's definition
/// says how far down the row is defined (Dremel encoding), so the thresholds below are counted
/// from the schema, not assumed: writers differ on which nodes are optional.
#[derive(Clone, Copy, Debug)]
pub(super) struct PairsShape {
    pub(super) key: usize,
    pub(super) value: usize,
    /// At or above: the map is there (null below).
    pub(super) defined: i16,
    /// At or above: the level is an entry (an empty map below).
    pub(super) entry: i16,
    /// At or above: the entry is a struct (a LIST's element can be null below).
    pub(super) element: i16,
}

impl PairsShape {
    /// The shape of top-level column `column`, when its key is text and its value a primitive
    /// the path decodes; `None` sends the file to the row path.
    pub(super) fn of(schema: &SchemaDescriptor, column: usize) -> Option<PairsShape> {
        let attrs = schema.root_schema().get_fields().get(column)?;
        let optional =
            |t: &Type| i16::from(t.get_basic_info().repetition() != Repetition::REQUIRED);
        let defined = optional(attrs);
        let repeated = attrs.get_fields().first()?;
        if repeated.is_primitive() || repeated.get_basic_info().repetition() != Repetition::REPEATED
        {
            return None;
        }
        let entry = defined + 1;
        let is_map = matches!(
            attrs.get_basic_info().logical_type_ref(),
            Some(LogicalType::Map)
        ) || matches!(
            attrs.get_basic_info().converted_type(),
            ConvertedType::MAP | ConvertedType::MAP_KEY_VALUE
        );
        // A MAP's entry is its key and value by position, as the row API reads it. A LIST's
        // element is the repeated group itself (two-level) or its one child (three-level),
        // with fields named `key` and `value`.
        let (path, pair, element, key, value) = if is_map {
            let fields = repeated.get_fields();
            if fields.len() != 2 {
                return None;
            }
            (
                vec![repeated.name()],
                repeated.as_ref(),
                entry,
                &fields[0],
                &fields[1],
            )
        } else {
            let two_level = repeated.get_fields().len() > 1;
            let (path, pair, element) = if two_level {
                (vec![repeated.name()], repeated.as_ref(), entry)
            } else {
                let inner = repeated.get_fields().first()?;
                if inner.is_primitive() {
                    return None;
                }
                (
                    vec![repeated.name(), inner.name()],
                    inner.as_ref(),
                    entry + optional(inner),
                )
            };
            let named = |name: &str| pair.get_fields().iter().find(|f| f.name() == name);
            (path, pair, element, named("key")?, named("value")?)
        };
        if !pair.get_fields().iter().all(|f| f.is_primitive()) {
            return None;
        }
        let leaf_of = |field: &Type| {
            (0..schema.num_columns()).find(|&l| {
                let parts = schema.column(l).path().parts().to_vec();
                parts.len() == path.len() + 2
                    && parts[0] == attrs.name()
                    && parts[1..=path.len()].iter().zip(&path).all(|(a, b)| a == b)
                    && parts[path.len() + 1] == field.name()
            })
        };
        let (key, value) = (leaf_of(key)?, leaf_of(value)?);
        let (key_descr, value_descr) = (schema.column(key), schema.column(value));
        if key_descr.max_rep_level() != 1 || value_descr.max_rep_level() != 1 {
            return None;
        }
        if !string(&key_descr) || !attr_value(&value_descr) {
            return None;
        }
        Some(PairsShape {
            key,
            value,
            defined,
            entry,
            element,
        })
    }
}

/// One row of an `attrs` MAP or LIST: its levels and where its keys and values start.
#[derive(Clone, Copy)]
pub(super) struct PairsRow<'a> {
    pub(super) key: &'a Batch,
    pub(super) value: &'a Batch,
    pub(super) shape: PairsShape,
    /// The row's levels, `start..end`: one per entry, or one for a null or empty map.
    pub(super) start: usize,
    pub(super) end: usize,
    /// Index of the row's first key and first value among the batch's values.
    pub(super) keys_at: usize,
    pub(super) values_at: usize,
}

/// One level of an `attrs` MAP or LIST.
#[derive(Clone, Copy)]
pub(super) enum Pair<'a> {
    /// A LIST element that is null where a {key, value} struct was expected.
    NullElement,
    Entry {
        key: Option<&'a [u8]>,
        value: Cell<'a>,
    },
}

impl<'a> PairsRow<'a> {
    /// Whether the map itself is null (no entries either way).
    pub(super) fn is_null(&self) -> bool {
        self.key.levels().defs.get(self.start).copied().unwrap_or(0) < self.shape.defined
    }

    /// The row's entries, in file order (none for a null or empty map).
    fn entries(self) -> impl Iterator<Item = Pair<'a>> {
        let (mut keys, mut values) = (self.keys_at, self.values_at);
        (self.start..self.end).filter_map(move |level| {
            let def = self.key.levels().defs[level];
            if def < self.shape.entry {
                return None;
            }
            if def < self.shape.element {
                return Some(Pair::NullElement);
            }
            let key = (def == self.key.levels().max_def).then(|| {
                keys += 1;
                self.key.text(keys - 1)
            });
            let value = if self.value.levels().defs.get(level) == Some(&self.value.levels().max_def)
            {
                values += 1;
                self.value.value(values - 1)
            } else {
                Cell::Null
            };
            Some(Pair::Entry {
                key: key.flatten(),
                value,
            })
        })
    }
}

/// A row of an `attrs` MAP or LIST written over the record's attributes, reusing the keys and
/// values the last row left; `None` when the row needs the contract's rules (a null element or
/// key, a key twice, text that is not UTF-8).
pub(super) fn fill_pairs<'a>(
    attrs: &mut BTreeMap<String, String>,
    row: PairsRow<'a>,
    seen: &mut Vec<&'a [u8]>,
) -> Option<()> {
    // The row's keys that have a value: a key twice is the contract's error, and a key of the
    // last row that is not among them goes.
    seen.clear();
    for pair in row.entries() {
        let Pair::Entry { key, value } = pair else {
            return None;
        };
        let bytes = key?;
        if matches!(value, Cell::Null) {
            continue;
        }
        if seen.contains(&bytes) {
            return None;
        }
        seen.push(bytes);
        let key = std::str::from_utf8(bytes).ok()?;
        match attrs.get_mut(key) {
            Some(text) => attr_text(text, value)?,
            None => attr_text(attrs.entry(key.to_string()).or_default(), value)?,
        }
    }
    // Every key of the row is in; any other key is the last row's.
    if attrs.len() != seen.len() {
        attrs.retain(|name, _| seen.contains(&name.as_bytes()));
    }
    Some(())
}

/// A row of an `attrs` MAP or LIST as the row path reads it: each entry through the row path's
/// own rule for a pair, so the errors are its errors.
pub(super) fn pairs_object(row: PairsRow<'_>) -> Result<Map<String, Value>, String> {
    let mut found = Map::new();
    for pair in row.entries() {
        let Pair::Entry { key, value } = pair else {
            return Err(format!("{} is not a {{key, value}} struct", Field::Null));
        };
        let key = key.map_or(Field::Null, field_of_text);
        let value = match value {
            Cell::Text(bytes) => field_of_text(bytes),
            Cell::Int(n) => Field::Long(n),
            Cell::Bool(b) => Field::Bool(b),
            Cell::Null | Cell::Pairs(_) => Field::Null,
        };
        pair_entry(&mut found, &key, &value)?;
    }
    Ok(found)
}

/// Text bytes as the row API's field: a string when UTF-8, else bytes (kept with replacement
/// characters by the pair rule).
fn field_of_text(bytes: &[u8]) -> Field {
    match std::str::from_utf8(bytes) {
        Ok(text) => Field::Str(text.to_string()),
        Err(_) => Field::Bytes(ByteArray::from(bytes.to_vec())),
    }
}
