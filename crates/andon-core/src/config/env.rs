//! `${VAR}` in string values, replaced from the environment.

use crate::error::ConfigError;

/// Replaces `${VAR}` in every string of `table`, recursively. `path` is the key path so far.
pub(crate) fn expand_table(
    table: &mut toml::Table,
    path: &mut Vec<String>,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    for (key, value) in table.iter_mut() {
        path.push(key.clone());
        expand_value(value, path, lookup)?;
        path.pop();
    }
    Ok(())
}

fn expand_value(
    value: &mut toml::Value,
    path: &mut Vec<String>,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    match value {
        toml::Value::String(text) if text.contains('$') => {
            *text = expand(text, lookup)
                .map_err(|message| ConfigError::new(path.join("."), message))?;
        }
        toml::Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                path.push(index.to_string());
                expand_value(item, path, lookup)?;
                path.pop();
            }
        }
        toml::Value::Table(table) => expand_table(table, path, lookup)?,
        _ => {}
    }
    Ok(())
}

/// Expands one string: `${NAME}` is replaced by the variable, `$${` stands for a literal `${`,
/// and any other `$` is kept as it is.
pub(crate) fn expand(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(after) = tail.strip_prefix("${") {
            let Some(end) = after.find('}') else {
                return Err(
                    "unclosed `${` (the value is not shown: it may be a secret): write `${NAME}` for a variable or `$${` for a literal `${`"
                        .to_owned(),
                );
            };
            let name = &after[..end];
            let valid = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            if !valid {
                // The text between the braces is not shown: the value may be a secret.
                return Err(
                    "`${…}` does not hold a variable name: use letters, digits and `_`, not starting with a digit (or write `$${` for a literal `${`)"
                        .to_owned(),
                );
            }
            match lookup(name) {
                Some(value) => out.push_str(&value),
                None => {
                    return Err(format!(
                        "environment variable `{name}` is not set: set it, or remove `${{{name}}}` from the configuration"
                    ));
                }
            }
            rest = &after[end + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "A" => Some("alpha".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_variables_escapes_and_plain_dollars() {
        assert_eq!(expand("x-${A}-${A}", &env).unwrap(), "x-alpha-alpha");
        assert_eq!(expand("${EMPTY}", &env).unwrap(), "");
        assert_eq!(expand("$${A}", &env).unwrap(), "${A}");
        assert_eq!(expand("cost $5 and $", &env).unwrap(), "cost $5 and $");
        assert_eq!(expand("no vars", &env).unwrap(), "no vars");
    }

    #[test]
    fn errors_name_the_variable() {
        let err = expand("${NOPE}", &env).unwrap_err();
        assert!(
            err.contains("environment variable `NOPE` is not set"),
            "{err}"
        );
        // A malformed reference does not echo the value: it may be a secret.
        let err = expand("hunter2${A", &env).unwrap_err();
        assert!(
            err.contains("unclosed") && !err.contains("hunter2"),
            "{err}"
        );
        let err = expand("${1hunter2}", &env).unwrap_err();
        assert!(
            err.contains("does not hold a variable name") && !err.contains("hunter2"),
            "{err}"
        );
    }
}
