//! Every SQL example of the README runs: the ```sql blocks, in order, in a fresh database
//! (the first one creates the extension). A block that fails names its line.

use std::path::Path;

use pg_mq_live_tests::{error_message, run_suite, Cluster, NoTls};

/// Roles the README's examples create.
const ROLES: &[&str] = &[
    "orders_app",
    "order_worker",
    "mailer",
    "postgres_exporter",
    "ops",
];

fn main() {
    run_suite(
        "readme",
        &[],
        &[("every_sql_example_runs", every_sql_example_runs)],
    );
}

/// The ```sql blocks of `markdown`, each with the line it starts on.
fn sql_blocks(markdown: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (index, line) in markdown.lines().enumerate() {
        match (&mut current, line.trim_end()) {
            (None, "```sql") => current = Some((index + 2, String::new())),
            (Some(_), "```") => blocks.push(current.take().unwrap()),
            (Some((_, text)), line) => {
                text.push_str(line);
                text.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

fn every_sql_example_runs(cluster: &Cluster) {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    let blocks = sql_blocks(&readme);
    assert!(blocks.len() > 15, "only {} sql blocks found", blocks.len());
    let mut admin = cluster.connect();
    admin
        .batch_execute("DROP DATABASE IF EXISTS readme_examples WITH (FORCE)")
        .unwrap();
    for role in ROLES {
        admin
            .batch_execute(&format!("DROP ROLE IF EXISTS {role}"))
            .unwrap();
    }
    admin
        .batch_execute("CREATE DATABASE readme_examples")
        .unwrap();
    let mut config = cluster.config(pg_mq_live_tests::SUPERUSER);
    config.dbname("readme_examples");
    let mut client = config.connect(NoTls).unwrap();
    let mut failures = Vec::new();
    for (line, sql) in &blocks {
        if let Err(e) = client.batch_execute(sql) {
            failures.push(format!(
                "README.md line {line}: {}\n{sql}",
                error_message(&e)
            ));
            // Leave a failed transaction block behind for the next example.
            let _ = client.batch_execute("ROLLBACK");
        }
    }
    drop(client);
    admin
        .batch_execute("DROP DATABASE readme_examples WITH (FORCE)")
        .unwrap();
    for role in ROLES {
        admin
            .batch_execute(&format!("DROP ROLE IF EXISTS {role}"))
            .unwrap();
    }
    assert!(
        failures.is_empty(),
        "README examples failed:\n{}",
        failures.join("\n")
    );
    println!("  {} sql blocks ran", blocks.len());
}
