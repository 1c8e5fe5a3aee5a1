//! The Parquet schema checked against the contract, once per file: what each top-level column
//! is, and whether its type can hold that field.

use std::collections::HashSet;

use parquet::basic::{ConvertedType, LogicalType, TimeUnit, TimestampType, Type as Physical};
use parquet::schema::types::{SchemaDescriptor, Type};

use crate::csv::Column;
use crate::error::ReadError;

/// The unit of an INT64 time column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Unit {
    /// TIMESTAMP(NANOS): the row API gives the raw number.
    Nanos,
    /// Any other: the row API gives milliseconds or microseconds, or a plain number is epoch
    /// milliseconds as in JSON.
    Other,
}

#[derive(Clone, Debug)]
pub(super) enum Kind {
    Time(Unit),
    Int,
    Bool,
    Text,
    Attr(String),
    AttrsJson,
    AttrsMap,
    AttrsList,
}

impl Kind {
    pub fn accepted(&self) -> &'static str {
        match self {
            Kind::Time(_) => {
                "TIMESTAMP (millis, micros or nanos, INT64 or INT96; not UTC-adjusted is read as \
                 UTC), INT64 epoch milliseconds, or a string (RFC 3339 with an offset, or epoch \
                 milliseconds)"
            }
            Kind::Int => {
                "an integer of any width (INT32, INT64, signed or not) or a string of digits"
            }
            Kind::Bool => "BOOLEAN or a string (true/false, 1/0)",
            Kind::Text => "a string (BYTE_ARRAY, UTF8) or a UUID",
            Kind::Attr(_) => {
                "any primitive type (text kept as text, numbers and booleans as written)"
            }
            Kind::AttrsJson | Kind::AttrsMap | Kind::AttrsList => {
                "MAP<string, string>, LIST<STRUCT<key, value>> or a JSON object as a string"
            }
        }
    }
}

/// A top-level column as read.
#[derive(Debug)]
pub(super) struct Col {
    pub name: String,
    pub kind: Kind,
    /// Its Parquet type, for messages: `DOUBLE`, `BYTE_ARRAY (String)`.
    pub parquet_type: String,
    /// A 16-byte UUID column.
    pub uuid: bool,
}

pub(super) fn columns(path: &str, schema: &SchemaDescriptor) -> Result<Vec<Col>, ReadError> {
    // Every leaf first: the row API panics on pairs it does not convert, so they never reach it.
    for leaf in schema.columns() {
        if !convertible(leaf.physical_type(), leaf.converted_type()) {
            return Err(ReadError::ParquetColumn {
                path: path.to_string(),
                column: leaf.path().string(),
                why: format!(
                    "its type {} ({}) is not read; write it as a string or a number",
                    leaf.physical_type(),
                    leaf.converted_type()
                ),
            });
        }
    }
    let mut seen = HashSet::new();
    let mut cols = Vec::new();
    for field in schema.root_schema().get_fields() {
        let name = field.name().to_string();
        let column = Column::of(&name).map_err(|why| ReadError::ParquetSchema {
            path: path.to_string(),
            why,
        })?;
        if !seen.insert(name.clone()) {
            return Err(ReadError::ParquetSchema {
                path: path.to_string(),
                why: format!("column `{name}` appears twice"),
            });
        }
        let parquet_type = describe(field);
        let (kind, fits) = kind_of(&column, field);
        if !fits {
            return Err(ReadError::ParquetColumn {
                path: path.to_string(),
                column: name,
                why: format!(
                    "its Parquet type is {parquet_type}; accepted: {}",
                    kind.accepted()
                ),
            });
        }
        let uuid = matches!(
            field.get_basic_info().logical_type_ref(),
            Some(LogicalType::Uuid)
        );
        cols.push(Col {
            name,
            kind,
            parquet_type,
            uuid,
        });
    }
    if !seen.contains("sent_at") {
        return Err(ReadError::ParquetSchema {
            path: path.to_string(),
            why: "no `sent_at` column: every push needs the time the server sent it".to_string(),
        });
    }
    Ok(cols)
}

/// The pairs the row API converts without `unimplemented!`.
fn convertible(physical: Physical, converted: ConvertedType) -> bool {
    use ConvertedType as C;
    match physical {
        Physical::BOOLEAN | Physical::INT96 | Physical::FLOAT | Physical::DOUBLE => true,
        Physical::INT32 => matches!(
            converted,
            C::NONE
                | C::INT_8
                | C::INT_16
                | C::INT_32
                | C::UINT_8
                | C::UINT_16
                | C::UINT_32
                | C::DATE
                | C::TIME_MILLIS
                | C::DECIMAL
        ),
        Physical::INT64 => matches!(
            converted,
            C::NONE
                | C::INT_64
                | C::UINT_64
                | C::TIME_MICROS
                | C::TIMESTAMP_MILLIS
                | C::TIMESTAMP_MICROS
                | C::DECIMAL
        ),
        Physical::BYTE_ARRAY => matches!(
            converted,
            C::NONE | C::UTF8 | C::ENUM | C::JSON | C::BSON | C::DECIMAL
        ),
        Physical::FIXED_LEN_BYTE_ARRAY => matches!(converted, C::NONE | C::DECIMAL),
    }
}

fn describe(field: &Type) -> String {
    let info = field.get_basic_info();
    let annotation = match info.logical_type_ref() {
        Some(logical) => format!(" ({logical:?})"),
        None if info.converted_type() != ConvertedType::NONE => {
            format!(" ({})", info.converted_type())
        }
        None => String::new(),
    };
    if field.is_primitive() {
        format!("{}{annotation}", field.get_physical_type())
    } else {
        format!("a group{annotation}")
    }
}

fn is_string(field: &Type) -> bool {
    field.is_primitive()
        && field.get_physical_type() == Physical::BYTE_ARRAY
        && matches!(
            field.get_basic_info().converted_type(),
            ConvertedType::NONE | ConvertedType::UTF8 | ConvertedType::ENUM | ConvertedType::JSON
        )
}

/// What the column is read as, and whether its type fits.
fn kind_of(column: &Column, field: &Type) -> (Kind, bool) {
    let info = field.get_basic_info();
    let primitive = field.is_primitive();
    let physical = primitive.then(|| field.get_physical_type());
    let converted = info.converted_type();
    let logical = info.logical_type_ref();
    let integer = matches!(physical, Some(Physical::INT32 | Physical::INT64))
        && matches!(
            converted,
            ConvertedType::NONE
                | ConvertedType::INT_8
                | ConvertedType::INT_16
                | ConvertedType::INT_32
                | ConvertedType::INT_64
                | ConvertedType::UINT_8
                | ConvertedType::UINT_16
                | ConvertedType::UINT_32
                | ConvertedType::UINT_64
        )
        && !matches!(logical, Some(LogicalType::Timestamp(_)));
    match column {
        Column::Field(name) => match *name {
            "queued_at" | "sent_at" | "apns_timestamp" | "responded_at" | "received_at"
            | "reported_at" | "deadline" => {
                let nanos = matches!(
                    logical,
                    Some(LogicalType::Timestamp(TimestampType {
                        unit: TimeUnit::NANOS,
                        ..
                    }))
                );
                let timestamp = matches!(logical, Some(LogicalType::Timestamp(_)))
                    || matches!(
                        converted,
                        ConvertedType::TIMESTAMP_MILLIS | ConvertedType::TIMESTAMP_MICROS
                    );
                let fits = physical == Some(Physical::INT96)
                    || physical == Some(Physical::INT64) && (timestamp || integer)
                    || is_string(field);
                let unit = if nanos { Unit::Nanos } else { Unit::Other };
                (Kind::Time(unit), fits)
            }
            "priority" | "apns_status" | "expiration" => (Kind::Int, integer || is_string(field)),
            "must_report" => (
                Kind::Bool,
                physical == Some(Physical::BOOLEAN) || is_string(field),
            ),
            _ => {
                let uuid = physical == Some(Physical::FIXED_LEN_BYTE_ARRAY)
                    && matches!(logical, Some(LogicalType::Uuid))
                    && matches!(
                        field,
                        Type::PrimitiveType {
                            type_length: 16,
                            ..
                        }
                    );
                (Kind::Text, is_string(field) || uuid)
            }
        },
        Column::Attr(name) => (Kind::Attr(name.clone()), primitive),
        Column::Attrs => {
            if is_string(field) {
                return (Kind::AttrsJson, true);
            }
            if primitive {
                return (Kind::AttrsJson, false);
            }
            let map = matches!(logical, Some(LogicalType::Map))
                || matches!(converted, ConvertedType::MAP | ConvertedType::MAP_KEY_VALUE);
            let list =
                matches!(logical, Some(LogicalType::List)) || converted == ConvertedType::LIST;
            let children = field.get_fields();
            let entries = children.len() == 1 && !children[0].is_primitive();
            if map && entries && children[0].get_fields().len() == 2 {
                let pair = children[0].get_fields();
                let fits = pair[0].is_primitive() && pair[1].is_primitive();
                return (Kind::AttrsMap, fits);
            }
            if list && children.len() == 1 {
                return (Kind::AttrsList, list_of_pairs(&children[0]));
            }
            (Kind::AttrsMap, false)
        }
    }
}

/// The repeated child of a LIST is a {key, value} struct (2-level lists) or holds one (3-level).
fn list_of_pairs(repeated: &Type) -> bool {
    let pair = |t: &Type| {
        !t.is_primitive()
            && t.get_fields()
                .iter()
                .any(|f| f.name() == "key" && f.is_primitive())
            && t.get_fields().iter().all(|f| f.is_primitive())
    };
    if pair(repeated) {
        return true;
    }
    !repeated.is_primitive() && repeated.get_fields().len() == 1 && pair(&repeated.get_fields()[0])
}
