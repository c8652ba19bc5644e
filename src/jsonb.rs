//! `RawJsonb`: a jsonb argument or result passed through as PostgreSQL's own datum.
//!
//! pgrx's `JsonB` converts every value to text and parses it into serde_json and back, which
//! would dominate the cost of publishing and polling. pg_mq never looks inside a payload, so it
//! keeps the datum as it is and only reads its size and root type.

use pgrx::callconv::{Arg, ArgAbi, BoxRet, FcInfo};
use pgrx::datum::Datum;
use pgrx::memcxt::PgMemoryContexts;
use pgrx::pgrx_sql_entity_graph::metadata::{
    ArgumentError, ReturnsError, ReturnsRef, SqlMappingRef, SqlTranslatable, TypeOrigin,
};
use pgrx::{pg_sys, FromDatum, IntoDatum};

use crate::validation::JsonRoot;

/// A non-NULL jsonb datum, valid in the memory context it was received or copied into.
#[derive(Clone, Copy, Debug)]
pub struct RawJsonb(pg_sys::Datum);

// Flags of the root container header (src/include/utils/jsonb.h).
const JB_FSCALAR: u32 = 0x1000_0000;
const JB_FOBJECT: u32 = 0x2000_0000;

impl RawJsonb {
    /// The size of the value uncompressed, in bytes, including the 4-byte length word:
    /// what `pg_column_size()` reports for an uncompressed jsonb value.
    pub fn size(self) -> usize {
        // SAFETY: self.0 is a valid jsonb varlena datum (see the FromDatum impl).
        unsafe { pg_sys::toast_raw_datum_size(self.0) }
    }

    /// The JSON type at the root of the document.
    pub fn root(self) -> JsonRoot {
        // SAFETY: self.0 is a valid jsonb varlena. Detoasting gives an unaligned pointer to a
        // JsonbContainer whose first 32 bits are its header; read it unaligned.
        let header = unsafe {
            let original = self.0.cast_mut_ptr::<pg_sys::varlena>();
            let detoasted = pg_sys::pg_detoast_datum_packed(original);
            let data = pgrx::vardata_any(detoasted) as *const u32;
            let header = data.read_unaligned();
            if detoasted != original {
                pg_sys::pfree(detoasted.cast());
            }
            header
        };
        if header & JB_FSCALAR != 0 {
            JsonRoot::Scalar
        } else if header & JB_FOBJECT != 0 {
            JsonRoot::Object
        } else {
            JsonRoot::Array
        }
    }
}

impl FromDatum for RawJsonb {
    unsafe fn from_polymorphic_datum(
        datum: pg_sys::Datum,
        is_null: bool,
        _typoid: pg_sys::Oid,
    ) -> Option<Self> {
        (!is_null).then_some(RawJsonb(datum))
    }

    /// SPI results die with the SPI context: copy the value (detoasted) into `memory_context`.
    unsafe fn from_datum_in_memory_context(
        mut memory_context: PgMemoryContexts,
        datum: pg_sys::Datum,
        is_null: bool,
        _typoid: pg_sys::Oid,
    ) -> Option<Self> {
        if is_null {
            return None;
        }
        // SAFETY: datum is a non-null jsonb varlena owned by the caller's (SPI) context.
        let copy = unsafe {
            memory_context.switch_to(|_| pg_sys::pg_detoast_datum_copy(datum.cast_mut_ptr()))
        };
        Some(RawJsonb(pg_sys::Datum::from(copy)))
    }
}

impl IntoDatum for RawJsonb {
    fn into_datum(self) -> Option<pg_sys::Datum> {
        Some(self.0)
    }

    fn type_oid() -> pg_sys::Oid {
        pg_sys::JSONBOID
    }
}

// SAFETY: RawJsonb is exactly a jsonb datum, in and out.
unsafe impl SqlTranslatable for RawJsonb {
    const TYPE_IDENT: &'static str = pgrx::pgrx_resolved_type!(RawJsonb);
    const TYPE_ORIGIN: TypeOrigin = TypeOrigin::External;
    const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> = Ok(SqlMappingRef::literal("jsonb"));
    const RETURN_SQL: Result<ReturnsRef, ReturnsError> =
        Ok(ReturnsRef::One(SqlMappingRef::literal("jsonb")));
}

// SAFETY: the argument is declared jsonb in SQL, so its datum is a jsonb varlena.
unsafe impl<'fcx> ArgAbi<'fcx> for RawJsonb {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        let index = arg.index();
        unsafe { arg.unbox_arg_using_from_datum() }
            .unwrap_or_else(|| panic!("argument {index} must not be null"))
    }
}

// SAFETY: the function is declared to return jsonb and the datum is a jsonb varlena.
unsafe impl BoxRet for RawJsonb {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> Datum<'fcx> {
        unsafe { fcinfo.return_raw_datum(self.0) }
    }
}

/// A non-NULL `jsonb[]` datum, detoasted, valid in the memory context it was received in.
#[derive(Clone, Copy, Debug)]
pub struct RawJsonbArray(pg_sys::Datum);

impl RawJsonbArray {
    /// The elements, None for a NULL element.
    pub fn elements(self) -> Vec<Option<RawJsonb>> {
        let mut values: *mut pg_sys::Datum = std::ptr::null_mut();
        let mut nulls: *mut bool = std::ptr::null_mut();
        let mut count: std::ffi::c_int = 0;
        // SAFETY: self.0 is a detoasted jsonb[] (see FromDatum); jsonb is a varlena (typlen
        // -1, not by value, int alignment). deconstruct_array pallocs the two output arrays.
        unsafe {
            pg_sys::deconstruct_array(
                self.0.cast_mut_ptr(),
                pg_sys::JSONBOID,
                -1,
                false,
                b'i' as std::ffi::c_char,
                &mut values,
                &mut nulls,
                &mut count,
            );
            let n = usize::try_from(count).unwrap_or(0);
            let values = std::slice::from_raw_parts(values, n);
            let nulls = std::slice::from_raw_parts(nulls, n);
            values
                .iter()
                .zip(nulls)
                .map(|(value, is_null)| (!is_null).then_some(RawJsonb(*value)))
                .collect()
        }
    }
}

impl FromDatum for RawJsonbArray {
    unsafe fn from_polymorphic_datum(
        datum: pg_sys::Datum,
        is_null: bool,
        _typoid: pg_sys::Oid,
    ) -> Option<Self> {
        if is_null {
            return None;
        }
        // SAFETY: a non-null jsonb[] datum; detoasting gives a plain ArrayType in the current
        // memory context (or the datum itself when it was not toasted).
        let detoasted = unsafe { pg_sys::pg_detoast_datum(datum.cast_mut_ptr()) };
        Some(RawJsonbArray(pg_sys::Datum::from(detoasted)))
    }
}

impl IntoDatum for RawJsonbArray {
    fn into_datum(self) -> Option<pg_sys::Datum> {
        Some(self.0)
    }

    fn type_oid() -> pg_sys::Oid {
        pg_sys::JSONBARRAYOID
    }
}

// SAFETY: RawJsonbArray is exactly a jsonb[] datum.
unsafe impl SqlTranslatable for RawJsonbArray {
    const TYPE_IDENT: &'static str = pgrx::pgrx_resolved_type!(RawJsonbArray);
    const TYPE_ORIGIN: TypeOrigin = TypeOrigin::External;
    const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> =
        Ok(SqlMappingRef::literal("jsonb[]"));
    const RETURN_SQL: Result<ReturnsRef, ReturnsError> =
        Ok(ReturnsRef::One(SqlMappingRef::literal("jsonb[]")));
}

// SAFETY: the argument is declared jsonb[] in SQL.
unsafe impl<'fcx> ArgAbi<'fcx> for RawJsonbArray {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        let index = arg.index();
        unsafe { arg.unbox_arg_using_from_datum() }
            .unwrap_or_else(|| panic!("argument {index} must not be null"))
    }
}
