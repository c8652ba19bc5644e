//! Array arguments passed through as PostgreSQL's own datums: `jsonb[]` payloads and `bigint[]`
//! ids go to the SQL statements unconverted (`= ANY($1)` ignores NULL elements and matches a
//! duplicated id once), and only what must be checked is looked at.

use std::marker::PhantomData;

use pgrx::callconv::{Arg, ArgAbi};
use pgrx::pgrx_sql_entity_graph::metadata::{
    ArgumentError, ReturnsError, ReturnsRef, SqlMappingRef, SqlTranslatable, TypeOrigin,
};
use pgrx::{pg_sys, FromDatum, IntoDatum};

use crate::pg::jsonb::RawJsonb;

/// An array element type.
pub trait Element {
    const OID: pg_sys::Oid;
    const ARRAY_OID: pg_sys::Oid;
    const SQL: &'static str;
    const IDENT: &'static str;
    /// typlen, typbyval, typalign of the element type.
    const LAYOUT: (i16, bool, u8);
}

pub struct Jsonb;
pub struct Int8;

impl Element for Jsonb {
    const OID: pg_sys::Oid = pg_sys::JSONBOID;
    const ARRAY_OID: pg_sys::Oid = pg_sys::JSONBARRAYOID;
    const SQL: &'static str = "jsonb[]";
    const IDENT: &'static str = "pg_mq::arrays::RawArray<Jsonb>";
    const LAYOUT: (i16, bool, u8) = (-1, false, b'i');
}

impl Element for Int8 {
    const OID: pg_sys::Oid = pg_sys::INT8OID;
    const ARRAY_OID: pg_sys::Oid = pg_sys::INT8ARRAYOID;
    const SQL: &'static str = "bigint[]";
    const IDENT: &'static str = "pg_mq::arrays::RawArray<Int8>";
    const LAYOUT: (i16, bool, u8) = (8, true, b'd');
}

/// A non-NULL array datum, detoasted, valid in the memory context it was received in.
pub struct RawArray<E: Element>(pg_sys::Datum, PhantomData<E>);

impl<E: Element> Clone for RawArray<E> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<E: Element> Copy for RawArray<E> {}

impl<E: Element> RawArray<E> {
    /// The element datums, None for a NULL element.
    fn datums(self) -> Vec<Option<pg_sys::Datum>> {
        let (len, byval, align) = E::LAYOUT;
        let mut values: *mut pg_sys::Datum = std::ptr::null_mut();
        let mut nulls: *mut bool = std::ptr::null_mut();
        let mut count: std::ffi::c_int = 0;
        // SAFETY: self.0 is a detoasted array of E (see FromDatum); deconstruct_array pallocs
        // the two output arrays in the current memory context.
        unsafe {
            pg_sys::deconstruct_array(
                self.0.cast_mut_ptr(),
                E::OID,
                i32::from(len),
                byval,
                align as std::ffi::c_char,
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
                .map(|(value, is_null)| (!is_null).then_some(*value))
                .collect()
        }
    }

    /// Whether the array has no elements (in any dimension).
    pub fn is_empty(self) -> bool {
        // SAFETY: self.0 is a detoasted ArrayType; its dimensions follow the fixed header
        // (ARR_DIMS in array.h), and ArrayGetNItems multiplies them.
        unsafe {
            let array = self.0.cast_mut_ptr::<pg_sys::ArrayType>();
            let dims = array
                .cast::<u8>()
                .add(std::mem::size_of::<pg_sys::ArrayType>())
                .cast::<i32>();
            pg_sys::ArrayGetNItems((*array).ndim, dims) == 0
        }
    }
}

impl RawArray<Jsonb> {
    /// The payloads, None for a NULL element, valid while the array is.
    pub fn elements(&self) -> Vec<Option<RawJsonb<'_>>> {
        self.datums()
            .into_iter()
            .map(|d| {
                // SAFETY: a non-null element of a jsonb[] is a jsonb datum inside the array.
                d.map(|d| unsafe { RawJsonb::from_datum_in(d) })
            })
            .collect()
    }
}

impl<E: Element> FromDatum for RawArray<E> {
    unsafe fn from_polymorphic_datum(
        datum: pg_sys::Datum,
        is_null: bool,
        _typoid: pg_sys::Oid,
    ) -> Option<Self> {
        if is_null {
            return None;
        }
        // SAFETY: a non-null array datum; detoasting gives a plain ArrayType in the current
        // memory context (or the datum itself when it was not toasted).
        let detoasted = unsafe { pg_sys::pg_detoast_datum(datum.cast_mut_ptr()) };
        Some(RawArray(pg_sys::Datum::from(detoasted), PhantomData))
    }
}

impl<E: Element> IntoDatum for RawArray<E> {
    fn into_datum(self) -> Option<pg_sys::Datum> {
        Some(self.0)
    }

    fn type_oid() -> pg_sys::Oid {
        E::ARRAY_OID
    }
}

// SAFETY: RawArray<E> is exactly an array of E.
unsafe impl<E: Element> SqlTranslatable for RawArray<E> {
    const TYPE_IDENT: &'static str = E::IDENT;
    const TYPE_ORIGIN: TypeOrigin = TypeOrigin::External;
    const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> = Ok(SqlMappingRef::literal(E::SQL));
    const RETURN_SQL: Result<ReturnsRef, ReturnsError> =
        Ok(ReturnsRef::One(SqlMappingRef::literal(E::SQL)));
}

// SAFETY: the argument is declared as an array of E in SQL.
unsafe impl<'fcx, E: Element> ArgAbi<'fcx> for RawArray<E> {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        let index = arg.index();
        unsafe { arg.unbox_arg_using_from_datum() }
            .unwrap_or_else(|| panic!("argument {index} must not be null"))
    }
}

/// A `jsonb[]` argument.
pub type JsonbArray = RawArray<Jsonb>;
/// A `bigint[]` argument.
pub type IdArray = RawArray<Int8>;
