use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Serialized, Yaml};
use figment::value::{Dict, Value};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::problem::{ConfigError, ConfigProblem, key_of, path_of, reason_of};
use super::sources::{ENV_SOURCE, EnvOverrides, FLAG_SOURCE, FlagOverride, remove};
use super::{Config, host};

/// The prefix of environment overrides: `STACK__DATABASE__URL` sets `database.url`.
pub const ENV_PREFIX: &str = "STACK__";

/// A check beyond the configuration's own, added by a crate that knows more (which backends
/// were compiled in, what the log filter accepts at run time).
pub type ExtraCheck = Box<dyn Fn(&Config) -> Vec<ConfigProblem> + Send + Sync>;

/// Reads a configuration from its layers and validates it in one pass, so that every caller
/// (`stack config check`, `stack serve`, a host application) accepts exactly the same
/// configurations.
///
/// Layers, each overriding the one before: built-in defaults, the YAML file, `STACK__`
/// environment variables, values set with [`ConfigLoader::set`] (command-line flags).
/// Every problem is reported, each with its key and, when it came from a variable or a flag,
/// that variable or flag.
///
/// ```
/// use stack_core::config::ConfigLoader;
/// let vars = [("STACK__API__ADMIN_TOKEN".to_owned(), "1234567890123456".to_owned())];
/// let config = ConfigLoader::new().env_vars(vars).set("server.port", 9090, "--port").load().unwrap();
/// assert_eq!(config.api.admin_token.as_deref(), Some("1234567890123456"));
/// assert_eq!(config.server.port, 9090);
///
/// let err = ConfigLoader::new().env_vars([]).set("server.port", 0, "--port").load().unwrap_err();
/// assert_eq!(err.problems()[0].to_string(), "server.port (from --port): must be between 1 and 65535");
/// ```
pub struct ConfigLoader {
    file: Option<PathBuf>,
    yaml: Option<String>,
    env: Vec<(String, String)>,
    flags: Vec<FlagOverride>,
    checks: Vec<ExtraCheck>,
}

impl Default for ConfigLoader {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for ConfigLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigLoader")
            .field("file", &self.file)
            .field("checks", &self.checks.len())
            .finish_non_exhaustive()
    }
}

impl ConfigLoader {
    /// Defaults and this process's `STACK__` variables; no file.
    pub fn new() -> Self {
        Self {
            file: None,
            yaml: None,
            env: std::env::vars().collect(),
            flags: Vec::new(),
            checks: Vec::new(),
        }
    }

    /// Reads the YAML file at `path` (when given) over the defaults.
    pub fn file(mut self, path: Option<&Path>) -> Self {
        self.file = path.map(Path::to_path_buf);
        self
    }

    /// Uses `vars` instead of this process's environment.
    pub fn env_vars(mut self, vars: impl IntoIterator<Item = (String, String)>) -> Self {
        self.env = vars.into_iter().collect();
        self
    }

    /// Sets `key` (dotted) to `value`, above every other layer; problems with it name
    /// `source` (such as `--port`).
    pub fn set(mut self, key: &str, value: impl Serialize, source: &str) -> Self {
        let value = Value::serialize(value).unwrap_or_else(|e| Value::from(e.to_string()));
        self.flags.push(FlagOverride {
            path: path_of(key),
            value,
            flag: source.to_owned(),
        });
        self
    }

    /// Adds a check that runs after the configuration's own.
    pub fn check(
        mut self,
        check: impl Fn(&Config) -> Vec<ConfigProblem> + Send + Sync + 'static,
    ) -> Self {
        self.checks.push(Box::new(check));
        self
    }

    /// Reads the YAML document `yaml` over the defaults when no file is given.
    pub fn yaml(mut self, yaml: &str) -> Self {
        self.yaml = Some(yaml.to_owned());
        self
    }

    /// The file this loader reads, if any.
    pub fn file_path(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// Reads every layer, then validates.
    ///
    /// # Errors
    /// A [`ConfigError`] listing every problem found: a file that cannot be read or parsed
    /// (a duplicate key is an error), a key that does not exist, a value of the wrong type,
    /// a value out of range, or a problem an added check reports.
    pub fn load(&self) -> Result<Config, ConfigError> {
        self.load_parts(|_| Ok(())).map(|(config, ())| config)
    }

    /// As [`ConfigLoader::load`], and reads the host application's section, `app:`, into
    /// its own type `T` (see [`Config::app_settings`]), in the same pass: problems with STACK's
    /// sections and with `app.<key>` are reported together, each blamed on its variable or
    /// flag. The section stays in the returned [`Config`] as well.
    ///
    /// ```
    /// use stack_core::config::ConfigLoader;
    /// #[derive(Debug, serde::Deserialize)]
    /// struct Shop { name: String, port: u16 }
    ///
    /// let vars = [("STACK__APP__PORT".to_owned(), "7001".to_owned())];
    /// let loader = ConfigLoader::new().env_vars(vars).yaml("app:\n  name: tea\n  port: 7000\n");
    /// let (config, shop) = loader.load_with::<Shop>().unwrap();
    /// assert_eq!((shop.name.as_str(), shop.port), ("tea", 7001));
    /// assert_eq!(config.workers.count, 10);
    ///
    /// let vars = [("STACK__APP__PORT".to_owned(), "high".to_owned())];
    /// let loader = ConfigLoader::new().env_vars(vars).yaml("app:\n  name: tea\n");
    /// let err = loader.load_with::<Shop>().unwrap_err();
    /// assert!(err.problems()[0].to_string().starts_with("app.port (from STACK__APP__PORT): "));
    /// ```
    ///
    /// # Errors
    /// As [`ConfigLoader::load`], and a problem naming `app.<key>` for a host setting that
    /// does not read as `T`.
    pub fn load_with<T: DeserializeOwned>(&self) -> Result<(Config, T), ConfigError> {
        self.load_parts(|config| host::app_settings(&config.app))
    }

    /// Reads every layer, validates, then reads the host's part with `host`.
    fn load_parts<T>(
        &self,
        host: impl FnOnce(&Config) -> Result<T, Vec<ConfigProblem>>,
    ) -> Result<(Config, T), ConfigError> {
        let fail = |problems| ConfigError::new(self.file.clone(), problems);
        let defaults = Figment::from(Serialized::defaults(Config::default()));
        let default_dict: Dict = defaults.extract().map_err(|e| fail(from_figment(e)))?;
        let mut figment = defaults;
        let text = match (&self.file, &self.yaml) {
            (Some(path), _) => Some(read_file(path).map_err(|p| fail(vec![p]))?),
            (None, Some(yaml)) => Some(yaml.clone()),
            (None, None) => None,
        };
        if let Some(text) = text {
            // figment keeps the last of two equal keys; serde_yaml's own mapping refuses them.
            if let Err(error) = serde_yaml::from_str::<serde_yaml::Value>(&text) {
                let reason = format!("not valid YAML: {error}");
                return Err(fail(vec![ConfigProblem::new("", reason)]));
            }
            figment = figment.merge(Yaml::string(&text));
        }
        figment = figment.merge(EnvOverrides::new(ENV_PREFIX, &self.env, &default_dict));
        for flag in &self.flags {
            figment = figment.merge(FlagOverride {
                path: flag.path.clone(),
                value: flag.value.clone(),
                flag: flag.flag.clone(),
            });
        }
        let mut data: Dict = figment.extract().map_err(|e| fail(from_figment(e)))?;

        let mut problems = Vec::new();
        let config = loop {
            match Figment::from(Serialized::defaults(&data)).extract::<Config>() {
                Ok(config) => break config,
                Err(error) => {
                    let (path, problem) = problem_at(&error);
                    let removed = remove(&mut data, &path);
                    problems.push(problem);
                    if !removed {
                        return Err(fail(self.attribute(&figment, problems)));
                    }
                }
            }
        };
        let typed_keys: Vec<String> = problems.iter().map(|p| p.key.clone()).collect();
        let mut semantic = config
            .validate()
            .err()
            .map(|e| e.problems().to_vec())
            .unwrap_or_default();
        for check in &self.checks {
            semantic.extend(check(&config));
        }
        problems.extend(
            semantic
                .into_iter()
                .filter(|p| !typed_keys.contains(&p.key)),
        );
        match host(&config) {
            Ok(settings) if problems.is_empty() => Ok((config, settings)),
            Ok(_) => Err(fail(self.attribute(&figment, problems))),
            Err(host_problems) => {
                problems.extend(host_problems);
                Err(fail(self.attribute(&figment, problems)))
            }
        }
    }

    /// Names the variable or flag behind each problem's key.
    fn attribute(&self, figment: &Figment, mut problems: Vec<ConfigProblem>) -> Vec<ConfigProblem> {
        for problem in &mut problems {
            if problem.source.is_some() || problem.key.is_empty() {
                continue;
            }
            let path = path_of(&problem.key);
            // An item of a list is set by the list's variable.
            let lookup: Vec<&str> = path
                .iter()
                .map(String::as_str)
                .take_while(|s| !s.bytes().all(|b| b.is_ascii_digit()))
                .collect();
            let Some(metadata) = figment.find_metadata(&lookup.join(".")) else {
                continue;
            };
            if metadata.name == ENV_SOURCE || metadata.name == FLAG_SOURCE {
                problem.source = Some(metadata.interpolate(&figment::Profile::Default, &lookup));
            }
        }
        problems
    }
}

impl Config {
    /// Defaults, overlaid with the YAML file at `path` (when given), overlaid with
    /// `STACK__` environment variables, then validated: [`ConfigLoader`] with no extra check.
    ///
    /// # Errors
    /// As [`ConfigLoader::load`].
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        ConfigLoader::new().file(path).load()
    }

    /// As [`Config::load`], and the host application's section, `app:`, read into `T`: see
    /// [`ConfigLoader::load_with`].
    ///
    /// # Errors
    /// As [`ConfigLoader::load_with`].
    pub fn load_with<T: DeserializeOwned>(path: Option<&Path>) -> Result<(Self, T), ConfigError> {
        ConfigLoader::new().file(path).load_with()
    }

    /// Defaults overlaid with a YAML document (no environment), then validated.
    ///
    /// # Errors
    /// As [`ConfigLoader::load`].
    pub fn from_yaml_str(yaml: &str) -> Result<Self, ConfigError> {
        ConfigLoader::new().env_vars([]).yaml(yaml).load()
    }
}

/// The file's text, refusing what is not a readable regular file.
fn read_file(path: &Path) -> Result<String, ConfigProblem> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            ConfigProblem::new("", format!("configuration file {shown} does not exist"))
        }
        _ => ConfigProblem::new("", format!("cannot read configuration file {shown}: {e}")),
    })?;
    if meta.is_dir() {
        return Err(ConfigProblem::new(
            "",
            format!("{shown} is a directory, not a configuration file"),
        ));
    }
    if !meta.is_file() {
        return Err(ConfigProblem::new(
            "",
            format!("{shown} is not a regular file (a YAML configuration file is expected)"),
        ));
    }
    std::fs::read_to_string(path)
        .map_err(|e| ConfigProblem::new("", format!("cannot read configuration file {shown}: {e}")))
}

/// The key a figment error is about, and the problem in words.
pub(super) fn problem_at(error: &figment::Error) -> (Vec<String>, ConfigProblem) {
    // An unknown field's path already ends with the field.
    let path = error.path.clone();
    let problem = ConfigProblem::new(key_of(&path), reason_of(&error.kind));
    (path, problem)
}

fn from_figment(error: figment::Error) -> Vec<ConfigProblem> {
    error.into_iter().map(|e| problem_at(&e).1).collect()
}
