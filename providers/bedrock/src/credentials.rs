//! Where Bedrock credentials and the region come from.
//!
//! Credentials, first found wins:
//!
//! 1. `api_key` param: a Bedrock API key, sent as `Authorization: Bearer …`;
//! 2. `aws_access_key_id` + `aws_secret_access_key` params (+ `aws_session_token`);
//! 3. `aws_profile_name` param: that profile of the shared credentials file;
//! 4. `AWS_BEARER_TOKEN_BEDROCK`: a Bedrock API key from the environment;
//! 5. `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`);
//! 6. the shared credentials file (`AWS_SHARED_CREDENTIALS_FILE`, else
//!    `~/.aws/credentials`, then `AWS_CONFIG_FILE` / `~/.aws/config`), profile
//!    `AWS_PROFILE` or `default`.
//!
//! Region: `aws_region_name` param, `AWS_REGION`, `AWS_REGION_NAME`,
//! `AWS_DEFAULT_REGION`, the profile's `region` in the config file, else
//! `us-east-1`.
//!
//! Not supported (say so rather than guess): instance/container metadata
//! credentials, SSO, `credential_process`, and assuming roles
//! (`aws_role_name`, web identity). Use temporary credentials from those as
//! explicit key, secret and session token instead.

use std::collections::HashMap;
use std::path::PathBuf;

use llmux_core::{Env, Error, ProviderParams, Result};

use crate::sign::AwsCredentials;

/// Region used when nothing names one.
pub const DEFAULT_REGION: &str = "us-east-1";

/// How requests authenticate.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// SigV4 with an access key.
    SigV4(AwsCredentials),
    /// A Bedrock API key (`Authorization: Bearer`).
    Bearer(String),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::SigV4(c) => f.debug_tuple("SigV4").field(c).finish(),
            Auth::Bearer(_) => f.write_str("Bearer(** redacted **)"),
        }
    }
}

fn auth_error(message: impl Into<String>) -> Error {
    Error::authentication(message).with_provider("bedrock")
}

/// Resolve the credentials (see the module docs for the order).
pub fn resolve_auth(params: &ProviderParams, env: &dyn Env) -> Result<Auth> {
    if let Some(key) = params
        .api_key
        .as_deref()
        .map(str::trim)
        .filter(|k| !k.is_empty())
    {
        return Ok(Auth::Bearer(key.to_string()));
    }
    let id = params.extra_str(&["aws_access_key_id"]);
    let secret = params.extra_str(&["aws_secret_access_key"]);
    match (id, secret) {
        (Some(id), Some(secret)) => {
            let mut c = AwsCredentials::new(id, secret);
            c.session_token = params.extra_str(&["aws_session_token"]);
            return Ok(Auth::SigV4(c));
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(auth_error(
                "aws_access_key_id and aws_secret_access_key must be given together",
            ))
        }
        (None, None) => {}
    }
    if let Some(profile) = params.extra_str(&["aws_profile_name"]) {
        return profile_credentials(env, &profile)?.map(Auth::SigV4).ok_or_else(|| {
            auth_error(format!(
                "AWS profile '{profile}' (aws_profile_name) has no aws_access_key_id and aws_secret_access_key in the shared credentials or config file"
            ))
        });
    }
    if let Some(token) = env.var("AWS_BEARER_TOKEN_BEDROCK") {
        return Ok(Auth::Bearer(token.trim().to_string()));
    }
    match (
        env.var("AWS_ACCESS_KEY_ID"),
        env.var("AWS_SECRET_ACCESS_KEY"),
    ) {
        (Some(id), Some(secret)) => {
            let mut c = AwsCredentials::new(id.trim(), secret.trim());
            c.session_token = env.var("AWS_SESSION_TOKEN").map(|t| t.trim().to_string());
            return Ok(Auth::SigV4(c));
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(auth_error(
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together",
            ))
        }
        (None, None) => {}
    }
    let named = env.var("AWS_PROFILE");
    let profile = named.clone().unwrap_or_else(|| "default".to_string());
    match profile_credentials(env, &profile)? {
        Some(c) => Ok(Auth::SigV4(c)),
        None if named.is_some() => Err(auth_error(format!(
            "AWS profile '{profile}' (AWS_PROFILE) has no aws_access_key_id and aws_secret_access_key in the shared credentials or config file"
        ))),
        None => Err(auth_error(
            "no AWS credentials for bedrock: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials), AWS_PROFILE, or AWS_BEARER_TOKEN_BEDROCK, or pass aws_access_key_id / aws_secret_access_key / api_key",
        )),
    }
}

/// Resolve the region (see the module docs for the order).
pub fn resolve_region(params: &ProviderParams, env: &dyn Env) -> Result<String> {
    let region = params
        .extra_str(&["aws_region_name", "aws_region"])
        .or_else(|| env.first(&["AWS_REGION", "AWS_REGION_NAME", "AWS_DEFAULT_REGION"]))
        .or_else(|| {
            let profile = params
                .extra_str(&["aws_profile_name"])
                .or_else(|| env.var("AWS_PROFILE"))
                .unwrap_or_else(|| "default".into());
            config_file(env).and_then(|p| read_ini(&p)).and_then(|ini| {
                config_section(&ini, &profile).and_then(|s| s.get("region").cloned())
            })
        })
        .unwrap_or_else(|| DEFAULT_REGION.to_string());
    let region = region.trim().to_string();
    let valid = !region.is_empty()
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if valid {
        Ok(region)
    } else {
        Err(
            Error::bad_request(format!("'{region}' is not a valid AWS region"))
                .with_provider("bedrock"),
        )
    }
}

fn home(env: &dyn Env) -> Option<PathBuf> {
    env.first(&["HOME", "USERPROFILE"]).map(PathBuf::from)
}

fn credentials_file(env: &dyn Env) -> Option<PathBuf> {
    env.var("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| home(env).map(|h| h.join(".aws").join("credentials")))
}

fn config_file(env: &dyn Env) -> Option<PathBuf> {
    env.var("AWS_CONFIG_FILE")
        .map(PathBuf::from)
        .or_else(|| home(env).map(|h| h.join(".aws").join("config")))
}

type Ini = HashMap<String, HashMap<String, String>>;

/// An INI file as AWS writes it: `[section]`, `key = value`, `#`/`;` comments.
/// A missing or unreadable file is `None`.
fn read_ini(path: &PathBuf) -> Option<Ini> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(parse_ini(&text))
}

/// Parse AWS's INI dialect (no nested sub-sections are needed for keys).
pub fn parse_ini(text: &str) -> Ini {
    let mut out: Ini = HashMap::new();
    let mut section: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim().to_string();
            out.entry(name.clone()).or_default();
            section = Some(name);
            continue;
        }
        let (Some(s), Some((k, v))) = (&section, line.split_once('=')) else {
            continue;
        };
        let v = v.trim();
        // Inline comments need a space before them, as in botocore.
        let v = v
            .split_once(" #")
            .or_else(|| v.split_once(" ;"))
            .map_or(v, |(before, _)| before.trim_end());
        out.entry(s.clone())
            .or_default()
            .insert(k.trim().to_ascii_lowercase(), v.to_string());
    }
    out
}

fn config_section<'a>(ini: &'a Ini, profile: &str) -> Option<&'a HashMap<String, String>> {
    if profile == "default" {
        ini.get("default").or_else(|| ini.get("profile default"))
    } else {
        ini.get(&format!("profile {profile}"))
    }
}

fn keys_of(section: &HashMap<String, String>) -> Option<AwsCredentials> {
    let id = section.get("aws_access_key_id").filter(|v| !v.is_empty())?;
    let secret = section
        .get("aws_secret_access_key")
        .filter(|v| !v.is_empty())?;
    let mut c = AwsCredentials::new(id.clone(), secret.clone());
    c.session_token = section
        .get("aws_session_token")
        .filter(|v| !v.is_empty())
        .cloned();
    Some(c)
}

/// Static keys of `profile` from the credentials file, else the config file.
fn profile_credentials(env: &dyn Env, profile: &str) -> Result<Option<AwsCredentials>> {
    if let Some(ini) = credentials_file(env).and_then(|p| read_ini(&p)) {
        if let Some(c) = ini.get(profile).and_then(keys_of) {
            return Ok(Some(c));
        }
    }
    if let Some(ini) = config_file(env).and_then(|p| read_ini(&p)) {
        if let Some(c) = config_section(&ini, profile).and_then(keys_of) {
            return Ok(Some(c));
        }
    }
    Ok(None)
}

/// Whether `env` holds Bedrock credentials (for `Router::from_env`): a key
/// pair, a Bedrock API key, or a profile named in `AWS_PROFILE`.
pub fn configured(env: &dyn Env) -> bool {
    (env.var("AWS_ACCESS_KEY_ID").is_some() && env.var("AWS_SECRET_ACCESS_KEY").is_some())
        || env.var("AWS_BEARER_TOKEN_BEDROCK").is_some()
        || env.var("AWS_PROFILE").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use llmux_core::{ErrorKind, MapEnv};
    use serde_json::json;

    fn params(pairs: &[(&str, &str)]) -> ProviderParams {
        let mut p = ProviderParams::default();
        for (k, v) in pairs {
            p.extra.insert((*k).into(), json!(v));
        }
        p
    }

    fn sigv4(auth: Auth) -> AwsCredentials {
        match auth {
            Auth::SigV4(c) => c,
            Auth::Bearer(_) => panic!("expected SigV4"),
        }
    }

    const CREDENTIALS: &str = "\
# written by aws configure
[default]
aws_access_key_id = AKIDDEFAULT
aws_secret_access_key = secret-default

[work]
aws_access_key_id=AKIDWORK
aws_secret_access_key=secret-work ; comment
aws_session_token = token-work
";

    const CONFIG: &str = "\
[default]
region = eu-west-1

[profile work]
region = ap-southeast-2

[profile cfgonly]
aws_access_key_id = AKIDCFG
aws_secret_access_key = secret-cfg
";

    fn files() -> (tempdir::Dir, MapEnv) {
        let dir = tempdir::Dir::new();
        let creds = dir.write("credentials", CREDENTIALS);
        let config = dir.write("config", CONFIG);
        let env = MapEnv::new([
            ("AWS_SHARED_CREDENTIALS_FILE", creds),
            ("AWS_CONFIG_FILE", config),
        ]);
        (dir, env)
    }

    mod tempdir {
        pub(super) struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub(super) fn new() -> Self {
                let p = std::env::temp_dir().join(format!(
                    "llmux-bedrock-{}-{}",
                    std::process::id(),
                    fastrand::u64(..)
                ));
                std::fs::create_dir_all(&p).unwrap();
                Dir(p)
            }
            pub(super) fn write(&self, name: &str, text: &str) -> String {
                let p = self.0.join(name);
                std::fs::write(&p, text).unwrap();
                p.to_string_lossy().into_owned()
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn explicit_params_win() {
        let env = MapEnv::new([
            ("AWS_ACCESS_KEY_ID", "AKIDENV"),
            ("AWS_SECRET_ACCESS_KEY", "secret-env"),
            ("AWS_BEARER_TOKEN_BEDROCK", "bedrock-env-key"),
        ]);
        let p = params(&[
            ("aws_access_key_id", "AKIDPARAM"),
            ("aws_secret_access_key", "secret-param"),
            ("aws_session_token", "tok"),
        ]);
        assert_eq!(
            sigv4(resolve_auth(&p, &env).unwrap()),
            AwsCredentials::new("AKIDPARAM", "secret-param").with_session_token("tok")
        );
        let mut p = p;
        p.api_key = Some("bedrock-param-key".into());
        assert_eq!(
            resolve_auth(&p, &env).unwrap(),
            Auth::Bearer("bedrock-param-key".into())
        );
        let err = resolve_auth(&params(&[("aws_access_key_id", "x")]), &env).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Authentication);
    }

    #[test]
    fn environment_order() {
        let both = MapEnv::new([
            ("AWS_ACCESS_KEY_ID", "AKIDENV"),
            ("AWS_SECRET_ACCESS_KEY", "secret-env"),
            ("AWS_SESSION_TOKEN", "tok-env"),
            ("AWS_BEARER_TOKEN_BEDROCK", "bedrock-env-key"),
        ]);
        assert_eq!(
            resolve_auth(&ProviderParams::default(), &both).unwrap(),
            Auth::Bearer("bedrock-env-key".into())
        );
        let keys = MapEnv::new([
            ("AWS_ACCESS_KEY_ID", "AKIDENV"),
            ("AWS_SECRET_ACCESS_KEY", "secret-env"),
            ("AWS_SESSION_TOKEN", "tok-env"),
        ]);
        assert_eq!(
            sigv4(resolve_auth(&ProviderParams::default(), &keys).unwrap()),
            AwsCredentials::new("AKIDENV", "secret-env").with_session_token("tok-env")
        );
        let half = MapEnv::new([("AWS_ACCESS_KEY_ID", "AKIDENV")]);
        assert_eq!(
            resolve_auth(&ProviderParams::default(), &half)
                .unwrap_err()
                .kind,
            ErrorKind::Authentication
        );
    }

    #[test]
    fn shared_files_and_profiles() {
        let (_dir, env) = files();
        let mut env = env;
        assert_eq!(
            sigv4(resolve_auth(&ProviderParams::default(), &env).unwrap()),
            AwsCredentials::new("AKIDDEFAULT", "secret-default")
        );
        assert_eq!(
            resolve_region(&ProviderParams::default(), &env).unwrap(),
            "eu-west-1"
        );
        env.0.insert("AWS_PROFILE".into(), "work".into());
        assert_eq!(
            sigv4(resolve_auth(&ProviderParams::default(), &env).unwrap()),
            AwsCredentials::new("AKIDWORK", "secret-work").with_session_token("token-work")
        );
        assert_eq!(
            resolve_region(&ProviderParams::default(), &env).unwrap(),
            "ap-southeast-2"
        );
        // A param profile wins over AWS_PROFILE; keys may live in the config file.
        let p = params(&[("aws_profile_name", "cfgonly")]);
        assert_eq!(
            sigv4(resolve_auth(&p, &env).unwrap()),
            AwsCredentials::new("AKIDCFG", "secret-cfg")
        );
        let p = params(&[("aws_profile_name", "nope")]);
        let err = resolve_auth(&p, &env).unwrap_err();
        assert!(
            err.message.contains("AWS profile 'nope'"),
            "{}",
            err.message
        );
        env.0.insert("AWS_PROFILE".into(), "missing".into());
        let err = resolve_auth(&ProviderParams::default(), &env).unwrap_err();
        assert!(
            err.message.contains("'missing' (AWS_PROFILE)"),
            "{}",
            err.message
        );
    }

    #[test]
    fn nothing_configured_names_what_to_set() {
        let env = MapEnv::new([("HOME", "/nonexistent-home")]);
        let err = resolve_auth(&ProviderParams::default(), &env).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Authentication);
        assert!(err.message.contains("AWS_ACCESS_KEY_ID"), "{}", err.message);
        assert!(err.message.contains("AWS_BEARER_TOKEN_BEDROCK"));
        assert!(!configured(&env));
        assert!(configured(&MapEnv::new([(
            "AWS_BEARER_TOKEN_BEDROCK",
            "k"
        )])));
        assert!(configured(&MapEnv::new([
            ("AWS_ACCESS_KEY_ID", "a"),
            ("AWS_SECRET_ACCESS_KEY", "b")
        ])));
        assert!(!configured(&MapEnv::new([("AWS_ACCESS_KEY_ID", "a")])));
    }

    #[test]
    fn region_order_and_validation() {
        let env = MapEnv::new([
            ("AWS_REGION_NAME", "us-west-2"),
            ("AWS_DEFAULT_REGION", "eu-central-1"),
            ("HOME", "/nonexistent-home"),
        ]);
        assert_eq!(
            resolve_region(&ProviderParams::default(), &env).unwrap(),
            "us-west-2"
        );
        assert_eq!(
            resolve_region(&params(&[("aws_region_name", "ap-northeast-1")]), &env).unwrap(),
            "ap-northeast-1"
        );
        assert_eq!(
            resolve_region(
                &ProviderParams::default(),
                &MapEnv::new([("HOME", "/nonexistent-home")])
            )
            .unwrap(),
            DEFAULT_REGION
        );
        assert!(resolve_region(&params(&[("aws_region_name", "us-east-1/../x")]), &env).is_err());
    }

    #[test]
    fn secrets_are_not_printed() {
        let printed = format!("{:?}", Auth::Bearer("bedrock-secret".into()));
        assert!(!printed.contains("bedrock-secret"));
    }
}
