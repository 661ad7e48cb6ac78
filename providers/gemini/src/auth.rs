//! Google Cloud credentials for Vertex AI, through `gcp_auth`.
//!
//! - A service-account key (the `vertex_credentials` param, `VERTEXAI_CREDENTIALS`
//!   or the file named by `GOOGLE_APPLICATION_CREDENTIALS`) becomes a
//!   `gcp_auth::CustomServiceAccount`, built at once (that is synchronous). It
//!   signs a JWT and exchanges it at the key's own `token_uri`.
//! - Without one, `gcp_auth::provider()` finds Application Default Credentials
//!   (gcloud user credentials, the metadata server, the gcloud CLI). That
//!   search is asynchronous, so it runs on the first call, once; a failure is
//!   not remembered, so a later call tries again.
//!
//! gcp_auth caches each token and fetches a new one only when it is within
//! 20 s of expiry. One [`GoogleAuth`] is shared by every provider built from
//! the same credentials (a process-wide registry of weak references), so
//! deployments that share a key also share its token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use gcp_auth::{CustomServiceAccount, Token, TokenProvider};
use llmux_core::{Error, ErrorKind, Result};
use serde_json::Value;
use tokio::sync::OnceCell;

/// The OAuth scope Vertex AI needs.
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

enum Source {
    ServiceAccount(Box<CustomServiceAccount>),
    Default(OnceCell<Arc<dyn TokenProvider>>),
}

/// A source of Google access tokens.
pub struct GoogleAuth {
    source: Source,
}

impl std::fmt::Debug for GoogleAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.source {
            Source::ServiceAccount(_) => "service_account",
            Source::Default(_) => "application_default",
        };
        f.debug_struct("GoogleAuth").field("source", &kind).finish()
    }
}

type Registry = Mutex<HashMap<String, Weak<GoogleAuth>>>;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The shared instance for `key`, built by `make` when there is none alive.
fn shared(key: String, make: impl FnOnce() -> Result<GoogleAuth>) -> Result<Arc<GoogleAuth>> {
    let mut map = registry()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(existing) = map.get(&key).and_then(Weak::upgrade) {
        return Ok(existing);
    }
    map.retain(|_, w| w.strong_count() > 0);
    let auth = Arc::new(make()?);
    map.insert(key, Arc::downgrade(&auth));
    Ok(auth)
}

fn auth_error(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Authentication, message).with_provider("vertex_ai")
}

impl GoogleAuth {
    /// Credentials from a service-account key's JSON text, and the key's
    /// `project_id` if it has one.
    pub fn service_account(json: &str) -> Result<(Arc<GoogleAuth>, Option<String>)> {
        let v: Value = serde_json::from_str(json)
            .map_err(|e| auth_error(format!("Google credentials are not valid JSON: {e}")))?;
        let kind = v
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("service_account");
        if kind != "service_account" {
            return Err(auth_error(format!(
                "Google credentials of type '{kind}' cannot be loaded from vertex_credentials \
                 (gcp_auth reads only service-account keys from a file); for user credentials run \
                 `gcloud auth application-default login` and leave vertex_credentials unset"
            )));
        }
        let field = |name: &str| v.get(name).and_then(Value::as_str).unwrap_or_default();
        let key = format!(
            "sa\u{0}{}\u{0}{}\u{0}{}\u{0}{}",
            field("client_email"),
            field("private_key_id"),
            field("token_uri"),
            if field("private_key_id").is_empty() {
                field("private_key")
            } else {
                ""
            }
        );
        let key_project = v
            .get("project_id")
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty())
            .map(str::to_string);
        let auth = shared(key, || {
            let account = CustomServiceAccount::from_json(json).map_err(|e| {
                auth_error(format!("cannot load the Google service-account key: {e}"))
            })?;
            Ok(GoogleAuth {
                source: Source::ServiceAccount(Box::new(account)),
            })
        })?;
        Ok((auth, key_project))
    }

    /// Application Default Credentials, found on first use.
    pub fn application_default() -> Arc<GoogleAuth> {
        let make = || {
            Ok(GoogleAuth {
                source: Source::Default(OnceCell::new()),
            })
        };
        shared("adc".into(), make).unwrap_or_else(|_| {
            Arc::new(GoogleAuth {
                source: Source::Default(OnceCell::new()),
            })
        })
    }

    async fn default_provider(
        cell: &OnceCell<Arc<dyn TokenProvider>>,
    ) -> Result<&Arc<dyn TokenProvider>> {
        cell.get_or_try_init(|| async {
            gcp_auth::provider().await.map_err(|e| {
                auth_error(format!(
                    "no Google Cloud credentials found ({e}): set vertex_credentials or \
                     GOOGLE_APPLICATION_CREDENTIALS to a service-account key, run on Google Cloud, \
                     or run `gcloud auth application-default login`"
                ))
            })
        })
        .await
    }

    /// A valid access token (cached by gcp_auth until shortly before expiry).
    pub async fn token(&self) -> Result<Arc<Token>> {
        let scopes = &[CLOUD_PLATFORM_SCOPE];
        let result = match &self.source {
            Source::ServiceAccount(account) => account.token(scopes).await,
            Source::Default(cell) => Self::default_provider(cell).await?.token(scopes).await,
        };
        result.map_err(|e| {
            auth_error(format!(
                "cannot get a Google Cloud access token: {}",
                chain(&e)
            ))
        })
    }

    /// The project Application Default Credentials name, if any (a
    /// service-account key's `project_id` is returned by [`service_account`](Self::service_account)).
    pub async fn project_id(&self) -> Result<Option<String>> {
        match &self.source {
            Source::ServiceAccount(_) => Ok(None),
            Source::Default(cell) => {
                let provider = Self::default_provider(cell).await?;
                Ok(provider.project_id().await.ok().map(|p| p.to_string()))
            }
        }
    }
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
