//! The host application's section, `app:`: free-form for STACK, typed for the host.
//!
//! A host keeps its own settings beside STACK's in one YAML file (and sets them with
//! `STACK__APP__<KEY>` variables); STACK's sections keep refusing unknown keys. The host
//! reads the section into its own type, and a value of the wrong type, a missing key or (with
//! `#[serde(deny_unknown_fields)]`) an unknown one is a [`ConfigProblem`] naming `app.<key>`.

use figment::Figment;
use figment::error::Kind;
use figment::providers::Serialized;
use figment::value::Dict;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::Config;
use super::load::problem_at;
use super::problem::{ConfigError, ConfigProblem};
use super::sources::remove;

/// The top-level key of the host application's section.
pub const APP_KEY: &str = "app";

/// The document as the host's type sees it: its section under [`APP_KEY`], so that errors
/// carry the key's whole path.
#[derive(Deserialize)]
struct HostSection<T> {
    app: T,
}

impl Config {
    /// The `app` section read into the host's type `T` (no section reads as an empty one, so
    /// a `T` whose fields all have defaults needs none). Environment variables reach the
    /// section as text, so numbers and booleans are also read from text (`"8080"`, `"true"`)
    /// where `T` asks for one.
    ///
    /// ```
    /// use stack_core::config::Config;
    /// #[derive(Debug, serde::Deserialize)]
    /// struct Shop { name: String, port: u16 }
    ///
    /// let config = Config::from_yaml_str("app:\n  name: tea\n  port: 7000\n").unwrap();
    /// let shop: Shop = config.app_settings().unwrap();
    /// assert_eq!((shop.name.as_str(), shop.port), ("tea", 7000));
    ///
    /// let config = Config::from_yaml_str("app:\n  name: tea\n  port: high\n").unwrap();
    /// let err = config.app_settings::<Shop>().unwrap_err();
    /// assert_eq!(err.problems()[0].key, "app.port");
    /// ```
    ///
    /// # Errors
    /// A [`ConfigError`] with every problem of the section found, each naming `app.<key>`.
    pub fn app_settings<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        app_settings(&self.app).map_err(|problems| ConfigError::new(None, problems))
    }
}

/// `app` read into `T`, or every problem found, each keyed `app.<key>`.
pub(super) fn app_settings<T: DeserializeOwned>(
    app: &serde_json::Value,
) -> Result<T, Vec<ConfigProblem>> {
    let section = if app.is_null() {
        serde_json::Value::Object(serde_json::Map::new())
    } else {
        app.clone()
    };
    let document = serde_json::json!({ APP_KEY: section });
    let mut data: Dict = Figment::from(Serialized::defaults(document))
        .extract()
        .map_err(|e| vec![problem_at(&e).1])?;
    let mut problems = Vec::new();
    let mut removed: Vec<Vec<String>> = Vec::new();
    loop {
        match Figment::from(Serialized::defaults(&data)).extract_lossy::<HostSection<T>>() {
            Ok(section) if problems.is_empty() => return Ok(section.app),
            Ok(_) => return Err(problems),
            Err(error) => {
                // A key removed for being wrong is not also missing.
                if let Kind::MissingField(name) = &error.kind {
                    let mut path = error.path.clone();
                    path.push(name.to_string());
                    if removed.iter().any(|r| r.starts_with(&path)) {
                        return Err(problems);
                    }
                }
                let (path, problem) = problem_at(&error);
                problems.push(problem);
                if !remove(&mut data, &path) {
                    return Err(problems);
                }
                removed.push(path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use crate::config::{Config, ConfigError, ConfigLoader};

    /// A host's own settings, as a host application would write them.
    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Shop {
        name: String,
        port: u16,
        #[serde(default)]
        open: bool,
        #[serde(default)]
        tags: Vec<String>,
        #[serde(default)]
        limits: BTreeMap<String, u32>,
    }

    const YAML: &str = "workers:\n  count: 4\napp:\n  name: tea\n  port: 7000\n  tags: [green, black]\n  limits:\n    cups: 3\n";

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn problems<T>(result: Result<T, ConfigError>) -> Vec<String> {
        match result {
            Ok(_) => Vec::new(),
            Err(e) => e.problems().iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn a_host_section_loads_beside_stack_s_own() {
        let (config, shop) = ConfigLoader::new()
            .env_vars([])
            .yaml(YAML)
            .load_with::<Shop>()
            .unwrap();
        assert_eq!(config.workers.count, 4);
        let expected = Shop {
            name: "tea".into(),
            port: 7000,
            open: false,
            tags: vec!["green".into(), "black".into()],
            limits: BTreeMap::from([("cups".into(), 3)]),
        };
        assert_eq!(shop, expected);
        assert_eq!(config.app_settings::<Shop>().unwrap(), expected);
        assert_eq!(config.app["limits"]["cups"], 3);
    }

    #[test]
    fn a_bad_host_value_is_named_by_its_path() {
        let yaml = YAML
            .replace("port: 7000", "port: high")
            .replace("cups: 3", "cups: -1");
        let found = problems(Config::from_yaml_str(&yaml).unwrap().app_settings::<Shop>());
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("app.limits.cups: "), "{found:?}");
        assert_eq!(found[1], "app.port: expected u16, found string \"high\"");

        let found = problems(
            Config::from_yaml_str(&YAML.replace("name:", "nmae:"))
                .unwrap()
                .app_settings::<Shop>(),
        );
        assert_eq!(
            found[0],
            "app.nmae: unknown key; the keys here are: name, port, open, tags, limits"
        );
        let found = problems(
            Config::from_yaml_str("app:\n  port: 1\n")
                .unwrap()
                .app_settings::<Shop>(),
        );
        assert_eq!(found, ["app: missing key name"]);
    }

    #[test]
    fn stack_s_sections_and_other_top_level_keys_still_refuse_unknown_keys() {
        let yaml = format!("{YAML}databse:\n  url: x\n").replace("count: 4", "cuont: 4");
        let found = problems(
            ConfigLoader::new()
                .env_vars([])
                .yaml(&yaml)
                .load_with::<Shop>(),
        );
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("databse: unknown key; the keys here are: server, log, database, redis, cache, queue, workers, api, metrics, tracing, app"), "{found:?}");
        assert!(
            found[1].starts_with("workers.cuont: unknown key"),
            "{found:?}"
        );
    }

    #[test]
    fn environment_variables_reach_the_host_section() {
        let env = vars(&[
            ("STACK__APP__PORT", "7001"),
            ("STACK__APP__NAME", "1234"),
            ("STACK__APP__OPEN", "true"),
            ("STACK__APP__TAGS", "[oolong]"),
            ("STACK__APP__LIMITS__POTS", "2"),
        ]);
        let (_, shop) = ConfigLoader::new()
            .env_vars(env)
            .yaml(YAML)
            .load_with::<Shop>()
            .unwrap();
        assert_eq!(
            (shop.name.as_str(), shop.port, shop.open),
            ("1234", 7001, true)
        );
        assert_eq!(shop.tags, ["oolong"]);
        assert_eq!(
            shop.limits,
            BTreeMap::from([("cups".into(), 3), ("pots".into(), 2)])
        );

        // With no section in the file at all, and the problem blamed on its variable.
        let env = vars(&[("STACK__APP__NAME", "tea"), ("STACK__APP__PORT", "high")]);
        let found = problems(ConfigLoader::new().env_vars(env).load_with::<Shop>());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            found[0],
            "app.port (from STACK__APP__PORT): expected u16, found string \"high\""
        );
    }

    /// The documented limits of variables: a value beginning with `[` is a list, refused for
    /// a text field naming the key and the variable, and keys are lowercased.
    #[test]
    fn a_bracketed_variable_is_a_list_and_keys_are_lowercased() {
        let env = vars(&[("STACK__APP__NAME", "[beta]"), ("STACK__APP__PORT", "1")]);
        let found = problems(ConfigLoader::new().env_vars(env).load_with::<Shop>());
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("app.name (from STACK__APP__NAME): "),
            "{found:?}"
        );
        let env = vars(&[("STACK__APP__NAME", "tea"), ("STACK__APP__Port", "9")]);
        let (_, shop) = ConfigLoader::new()
            .env_vars(env)
            .load_with::<Shop>()
            .unwrap();
        assert_eq!(shop.port, 9, "STACK__APP__Port set app.port");
    }

    #[test]
    fn stack_s_problems_and_the_host_s_are_reported_together() {
        let yaml = YAML
            .replace("count: 4", "count: 0")
            .replace("port: 7000", "port: x");
        let found = problems(
            ConfigLoader::new()
                .env_vars([])
                .yaml(&yaml)
                .load_with::<Shop>(),
        );
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0], "workers.count: must be between 1 and 1000");
        assert!(found[1].starts_with("app.port: "), "{found:?}");
    }
}
