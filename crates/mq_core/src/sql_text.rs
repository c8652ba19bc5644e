//! Text of pg_mq's SQL statements (the documents under sql/statements/).

/// `sql` without the lines from `--trace{` to `--}trace`: a statement's form for
/// `pg_mq.trace = off`.
pub fn without_trace(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut skipping = false;
    for line in sql.lines() {
        match line.trim() {
            "--trace{" => skipping = true,
            "--}trace" => skipping = false,
            _ if !skipping => {
                out.push_str(line);
                out.push('\n');
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_lines_are_cut_out() {
        let sql = "WITH a AS (x)\n--trace{\n, t AS (y)\n--}trace\nSELECT 1";
        assert_eq!(without_trace(sql), "WITH a AS (x)\nSELECT 1\n");
        assert_eq!(without_trace("SELECT 1"), "SELECT 1\n");
    }
}
