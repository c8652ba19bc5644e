//! `RawJsonb`: a jsonb argument or result passed through as PostgreSQL's own datum.
//!
//! pgrx's `JsonB` converts every value to text and parses it into serde_json and back, which
//! would dominate the cost of publishing and polling. pg_mq never looks inside a payload, so it
//! keeps the datum as it is and only reads its size and root type.
//!
//! The lifetime is the memory the datum lives in: a function argument's (`'fcx`), or an SPI
//! connection's (`'conn`, from `Row::jsonb`). `transfer` copies a value out of SPI memory into
//! the memory context of the function call, which outlives the connection; that copy is typed
//! `RawJsonb<'static>` (it lives until the call returns its result, which is all pgrx asks of
//! a returned value).

use std::marker::PhantomData;

use pgrx::callconv::{Arg, ArgAbi, BoxRet, FcInfo};
use pgrx::datum::Datum;
use pgrx::pgrx_sql_entity_graph::metadata::{
    ArgumentError, ReturnsError, ReturnsRef, SqlMappingRef, SqlTranslatable, TypeOrigin,
};
use pgrx::{pg_sys, IntoDatum};

use mq_core::validation::JsonRoot;

/// A non-NULL jsonb datum, valid in the memory context it was received or copied into.
#[derive(Clone, Copy, Debug)]
pub struct RawJsonb<'a>(pg_sys::Datum, PhantomData<&'a ()>);

// Flags of the root container header (src/include/utils/jsonb.h).
const JB_FSCALAR: u32 = 0x1000_0000;
const JB_FOBJECT: u32 = 0x2000_0000;

impl<'a> RawJsonb<'a> {
    /// A datum that must be a valid jsonb varlena living for `'a`.
    ///
    /// # Safety
    /// `datum` is a non-NULL jsonb datum that stays valid for `'a`.
    pub unsafe fn from_datum_in(datum: pg_sys::Datum) -> RawJsonb<'a> {
        RawJsonb(datum, PhantomData)
    }

    /// The size of the value uncompressed, in bytes, including the 4-byte length word:
    /// what `pg_column_size()` reports for an uncompressed jsonb value.
    pub fn size(self) -> usize {
        // SAFETY: self.0 is a valid jsonb varlena datum (see the FromDatum impl).
        unsafe { pg_sys::toast_raw_datum_size(self.0) }
    }

    /// A copy, detoasted, in the memory context the current SPI connection was opened from:
    /// values read from SPI results die with the connection, their copies outlive it.
    pub fn transfer(self) -> RawJsonb<'static> {
        // SAFETY: self.0 is a valid jsonb varlena; we are inside an SPI connection, and
        // SPI_datumTransfer copies a flat varlena into the upper executor context.
        unsafe {
            let original = self.0.cast_mut_ptr::<pg_sys::varlena>();
            let flat = pg_sys::pg_detoast_datum_packed(original);
            RawJsonb(
                pg_sys::SPI_datumTransfer(pg_sys::Datum::from(flat), false, -1),
                PhantomData,
            )
        }
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

impl IntoDatum for RawJsonb<'_> {
    fn into_datum(self) -> Option<pg_sys::Datum> {
        Some(self.0)
    }

    fn type_oid() -> pg_sys::Oid {
        pg_sys::JSONBOID
    }
}

// SAFETY: RawJsonb is exactly a jsonb datum, in and out.
unsafe impl SqlTranslatable for RawJsonb<'_> {
    const TYPE_IDENT: &'static str = pgrx::pgrx_resolved_type!(RawJsonb);
    const TYPE_ORIGIN: TypeOrigin = TypeOrigin::External;
    const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> = Ok(SqlMappingRef::literal("jsonb"));
    const RETURN_SQL: Result<ReturnsRef, ReturnsError> =
        Ok(ReturnsRef::One(SqlMappingRef::literal("jsonb")));
}

// SAFETY: the argument is declared jsonb in SQL, so its datum is a jsonb varlena.
unsafe impl<'fcx> ArgAbi<'fcx> for RawJsonb<'fcx> {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        let index = arg.index();
        // SAFETY: the argument's datum lives for the call ('fcx).
        unsafe { arg.unbox_arg_using_from_datum::<pg_sys::Datum>() }
            .map(|datum| RawJsonb(datum, PhantomData))
            .unwrap_or_else(|| panic!("argument {index} must not be null"))
    }
}

// SAFETY: the function is declared to return jsonb and the datum is a jsonb varlena.
unsafe impl BoxRet for RawJsonb<'_> {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> Datum<'fcx> {
        unsafe { fcinfo.return_raw_datum(self.0) }
    }
}
