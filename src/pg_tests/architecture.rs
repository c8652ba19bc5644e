//! The declarations of the crate held against the installed extension: every statement
//! prepares with its declared parameters and columns in both trace modes; the lifecycle names
//! match the tables' CHECK constraints and what the listings accept; every setting is
//! registered as declared.

use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::pg::statements::Statement;
    use crate::pg_tests::{error_of, one};
    use mq_core::lifecycle::{Status, TraceEvent};
    use mq_core::settings::{self as spec, Context, Kind};
    use pgrx::prelude::*;

    #[pg_test]
    fn every_statement_prepares_with_its_declared_columns_in_both_trace_modes() {
        for statement in Statement::ALL {
            for trace in [true, false] {
                let sql = statement.sql(trace);
                assert_eq!(
                    sql.matches("--trace{").count(),
                    sql.matches("--}trace").count(),
                    "{statement:?}: unbalanced trace markers"
                );
                if !trace {
                    assert!(
                        !sql.contains("INSERT INTO mq.traces"),
                        "{statement:?} still writes traces when tracing is off"
                    );
                }
                assert_eq!(statement.arg_names().len(), statement.arg_types().len());
                // Every declared parameter is used (with tracing off, some may serve only the
                // trace lines), and no other.
                let highest = highest_parameter(&sql);
                assert!(
                    highest == statement.arg_types().len()
                        || (!trace && highest < statement.arg_types().len()),
                    "{statement:?} (trace {trace}): the SQL uses ${highest}, the declaration has {}",
                    statement.arg_types().len()
                );
                // Plan::prepare asserts the result columns against the declaration.
                let plan = Spi::connect(|client| statement.prepare(client, trace));
                assert_eq!(
                    plan.arg_count(),
                    statement.arg_types().len(),
                    "{statement:?} (trace {trace})"
                );
                assert_eq!(
                    plan.result_columns(),
                    statement.columns(),
                    "{statement:?} (trace {trace})"
                );
            }
        }
    }

    /// The highest `$n` a statement refers to.
    fn highest_parameter(sql: &str) -> usize {
        sql.split('$')
            .skip(1)
            .filter_map(|rest| {
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                digits.parse().ok()
            })
            .max()
            .unwrap_or(0)
    }

    /// The values a CHECK constraint of the form `col IN ('A', 'B', …)` allows.
    fn check_values(constraint: &str) -> Vec<String> {
        let definition: String = one(&format!(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = '{constraint}'"
        ));
        let mut values: Vec<String> = definition
            .split('\'')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect();
        values.sort();
        values
    }

    fn sorted(names: impl Iterator<Item = &'static str>) -> Vec<String> {
        let mut names: Vec<String> = names.map(str::to_owned).collect();
        names.sort();
        names
    }

    #[pg_test]
    fn lifecycle_names_match_the_check_constraints() {
        assert_eq!(
            check_values("messages_status_check"),
            sorted(Status::ALL.iter().map(|s| s.as_str()))
        );
        assert_eq!(
            check_values("traces_event_check"),
            sorted(TraceEvent::ALL.iter().map(|e| e.as_str()))
        );
    }

    #[pg_test]
    fn the_listings_accept_exactly_the_lifecycle_names() {
        for status in Status::ALL {
            assert_eq!(
                error_of(&format!("SELECT * FROM mq_messages(status => '{status}')")),
                None,
                "{status}"
            );
        }
        for event in TraceEvent::ALL {
            assert_eq!(
                error_of(&format!("SELECT * FROM mq_traces(event => '{event}')")),
                None,
                "{event}"
            );
        }
        let refused = error_of("SELECT * FROM mq_messages(status => 'LOST')").expect("an error");
        assert_eq!(refused.0, "22023");
        let refused = error_of("SELECT * FROM mq_traces(event => 'LOST')").expect("an error");
        assert_eq!(refused.0, "22023");
    }

    #[pg_test]
    fn every_declared_setting_is_registered_as_declared() {
        let mut registered = crate::pg::settings::registered_names();
        registered.sort_unstable();
        let mut declared: Vec<&str> = spec::ALL.iter().map(spec::Setting::name).collect();
        declared.sort_unstable();
        assert_eq!(registered, declared);
        assert_eq!(
            one::<i64>("SELECT count(*) FROM pg_settings WHERE name LIKE 'pg\\_mq.%'"),
            i64::try_from(spec::ALL.len()).unwrap()
        );
        for setting in spec::ALL {
            let name = setting.name();
            let (context, boot, min, max, short) = Spi::connect(|client| {
                let row = client
                    .select(
                        "SELECT context, boot_val, min_val, max_val, short_desc FROM pg_settings WHERE name = $1",
                        None,
                        &[name.into()],
                    )
                    .unwrap()
                    .first();
                (
                    row.get::<String>(1).unwrap().unwrap(),
                    row.get::<String>(2).unwrap().unwrap(),
                    row.get::<String>(3).unwrap(),
                    row.get::<String>(4).unwrap(),
                    row.get::<String>(5).unwrap().unwrap(),
                )
            });
            let expected_context = match setting.context {
                Context::User => "user",
                Context::Superuser => "superuser",
                Context::Reload => "sighup",
            };
            assert_eq!(context, expected_context, "{name}");
            assert_eq!(short, setting.description.to_str().unwrap(), "{name}");
            match setting.kind {
                Kind::Int {
                    default,
                    min: lo,
                    max: hi,
                    ..
                } => {
                    assert_eq!(boot, default.to_string(), "{name}");
                    assert_eq!(min, Some(lo.to_string()), "{name}");
                    assert_eq!(max, Some(hi.to_string()), "{name}");
                }
                Kind::Real {
                    default,
                    min: lo,
                    max: hi,
                } => {
                    assert_eq!(boot.parse::<f64>().unwrap(), default, "{name}");
                    assert_eq!(min.unwrap().parse::<f64>().unwrap(), lo, "{name}");
                    assert_eq!(max.unwrap().parse::<f64>().unwrap(), hi, "{name}");
                }
                Kind::Bool { default } => {
                    assert_eq!(boot, if default { "on" } else { "off" }, "{name}")
                }
                Kind::Text { default } => assert_eq!(boot, default.to_str().unwrap(), "{name}"),
            }
            // The default as PostgreSQL shows it is what the README says.
            if setting.context != Context::Reload {
                assert_eq!(
                    one::<String>(&format!("SELECT current_setting('{name}')")),
                    setting.shown_default(),
                    "{name}"
                );
            }
        }
    }
}
