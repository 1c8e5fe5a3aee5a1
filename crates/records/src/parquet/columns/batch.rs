//! The leaf columns of a row group decoded a batch at a time, and one row's value of each.

use parquet::column::reader::{ColumnReader, ColumnReaderImpl, get_typed_column_reader};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, Int32Type, Int64Type};
use parquet::errors::ParquetError;

use super::BATCH_ROWS;
use super::pairs::{PairsRow, PairsShape};

/// One row's value of one column.
#[derive(Clone, Copy)]
pub(super) enum Cell<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Text(&'a [u8]),
    /// The row's entries of an `attrs` MAP or LIST.
    Pairs(PairsRow<'a>),
}

/// A column's reader, by the shape of its column.
pub(super) enum Reader {
    Flat(Batch),
    /// An `attrs` MAP or LIST: its key and value leaves, read in step.
    Pairs {
        key: Batch,
        value: Box<Batch>,
        shape: PairsShape,
    },
}

impl Reader {
    /// Decodes the next `rows` rows; how many the column had.
    pub(super) fn read(&mut self, rows: usize) -> Result<usize, String> {
        match self {
            Reader::Flat(batch) => batch.read(rows).map_err(|e| e.to_string()),
            Reader::Pairs { key, value, .. } => {
                let got = key.read(rows).map_err(|e| e.to_string())?;
                let also = value.read(rows).map_err(|e| e.to_string())?;
                if got != also || key.levels().defs.len() != value.levels().defs.len() {
                    return Err(format!(
                        "the keys and values of the `attrs` column disagree: {} rows and {} \
                         levels against {also} rows and {} levels",
                        got,
                        key.levels().defs.len(),
                        value.levels().defs.len()
                    ));
                }
                Ok(got)
            }
        }
    }

    /// The cursor's row, moving past it.
    pub(super) fn cell(&self, cursor: &mut Cursor) -> Cell<'_> {
        match self {
            Reader::Flat(batch) => batch.cell(cursor),
            Reader::Pairs { key, value, shape } => {
                let start = cursor.level;
                let reps = &key.levels().reps;
                let mut end = start + 1;
                while reps.get(end).is_some_and(|&rep| rep > 0) {
                    end += 1;
                }
                let row = PairsRow {
                    key,
                    value,
                    shape: *shape,
                    start,
                    end: end.min(reps.len()),
                    keys_at: cursor.value,
                    values_at: cursor.second,
                };
                let count = |batch: &Batch| {
                    batch.levels().defs[row.start..row.end]
                        .iter()
                        .filter(|&&d| d == batch.levels().max_def)
                        .count()
                };
                cursor.level = end;
                cursor.value += count(key);
                cursor.second += count(value);
                Cell::Pairs(row)
            }
        }
    }
}

/// A leaf column's reader with the values of its current batch.
pub(super) enum Batch {
    Bool(ColumnReaderImpl<BoolType>, Levels, Vec<bool>),
    Int32(ColumnReaderImpl<Int32Type>, Levels, Vec<i32>),
    Int64(ColumnReaderImpl<Int64Type>, Levels, Vec<i64>),
    Bytes(ColumnReaderImpl<ByteArrayType>, Levels, Vec<ByteArray>),
}

/// The levels of a batch: a row (or an entry) has a value when its definition level is the
/// column's maximum; a repetition level above 0 continues the row before it.
pub(super) struct Levels {
    pub(super) max_def: i16,
    pub(super) defs: Vec<i16>,
    /// Read for a repeated leaf only.
    repeated: bool,
    reps: Vec<i16>,
}

/// Where the next row of a batch is: its first level, and its first value (of the key leaf,
/// for an `attrs` MAP or LIST; `second` counts that column's values).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Cursor {
    level: usize,
    value: usize,
    second: usize,
}

impl Levels {
    /// Whether the cursor's row has a value, moving past it; its index in the values when it has.
    fn next(&self, cursor: &mut Cursor) -> Option<usize> {
        let defined = self.max_def == 0 || self.defs.get(cursor.level) == Some(&self.max_def);
        cursor.level += 1;
        if defined {
            cursor.value += 1;
            Some(cursor.value - 1)
        } else {
            None
        }
    }
}

impl Batch {
    pub(super) fn new(reader: ColumnReader, max_def: i16, repeated: bool) -> Batch {
        let levels = Levels {
            max_def,
            defs: Vec::with_capacity(BATCH_ROWS),
            repeated,
            reps: Vec::new(),
        };
        match reader {
            ColumnReader::BoolColumnReader(_) => {
                Batch::Bool(get_typed_column_reader(reader), levels, Vec::new())
            }
            ColumnReader::Int32ColumnReader(_) => {
                Batch::Int32(get_typed_column_reader(reader), levels, Vec::new())
            }
            ColumnReader::Int64ColumnReader(_) => {
                Batch::Int64(get_typed_column_reader(reader), levels, Vec::new())
            }
            // The plan admits these four physical types only.
            _ => Batch::Bytes(get_typed_column_reader(reader), levels, Vec::new()),
        }
    }

    pub(super) fn levels(&self) -> &Levels {
        match self {
            Batch::Bool(_, levels, _)
            | Batch::Int32(_, levels, _)
            | Batch::Int64(_, levels, _)
            | Batch::Bytes(_, levels, _) => levels,
        }
    }

    /// Decodes the next `rows` rows (whole rows, for a repeated leaf); how many the column had.
    fn read(&mut self, rows: usize) -> Result<usize, ParquetError> {
        fn refill<T: parquet::data_type::DataType>(
            reader: &mut ColumnReaderImpl<T>,
            levels: &mut Levels,
            values: &mut Vec<T::T>,
            rows: usize,
        ) -> Result<usize, ParquetError> {
            levels.defs.clear();
            levels.reps.clear();
            values.clear();
            let reps = levels.repeated.then_some(&mut levels.reps);
            let (records, _, _) =
                reader.read_records(rows, Some(&mut levels.defs), reps, values)?;
            Ok(records)
        }
        match self {
            Batch::Bool(reader, levels, values) => refill(reader, levels, values, rows),
            Batch::Int32(reader, levels, values) => refill(reader, levels, values, rows),
            Batch::Int64(reader, levels, values) => refill(reader, levels, values, rows),
            Batch::Bytes(reader, levels, values) => refill(reader, levels, values, rows),
        }
    }

    /// Value `i` of the batch as a cell (`Null` past the end: a corrupt file, not a panic).
    pub(super) fn value(&self, i: usize) -> Cell<'_> {
        match self {
            Batch::Bool(_, _, values) => values.get(i).map_or(Cell::Null, |&b| Cell::Bool(b)),
            Batch::Int32(_, _, values) => values
                .get(i)
                .map_or(Cell::Null, |&v| Cell::Int(i64::from(v))),
            Batch::Int64(_, _, values) => values.get(i).map_or(Cell::Null, |&v| Cell::Int(v)),
            Batch::Bytes(_, _, values) => {
                values.get(i).map_or(Cell::Null, |v| Cell::Text(v.data()))
            }
        }
    }

    /// Value `i` of a text batch.
    pub(super) fn text(&self, i: usize) -> Option<&[u8]> {
        match self.value(i) {
            Cell::Text(bytes) => Some(bytes),
            _ => None,
        }
    }

    /// The cursor's row, moving past it.
    fn cell(&self, cursor: &mut Cursor) -> Cell<'_> {
        match self.levels().next(cursor) {
            Some(i) => self.value(i),
            None => Cell::Null,
        }
    }
}
