//! AWS Signature Version 4 for Bedrock requests, through the `aws-sigv4` crate.
//!
//! [`sign`] adds `x-amz-date`, `x-amz-security-token` (when the credentials
//! carry a session token) and `authorization` to a finished request. Every
//! header already on the request is signed (except the few `aws-sigv4` leaves
//! out because proxies change them: `user-agent`, `x-amzn-trace-id`,
//! `transfer-encoding`), and the path is double percent-encoded as AWS
//! requires for every service but S3, so a model id such as
//! `anthropic.claude-3-5-sonnet-20240620-v1:0` (sent as `…-v1%3A0`) is signed
//! as `…-v1%253A0`, exactly as AWS recomputes it.

use std::fmt;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign as sigv4_sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest,
    SigningSettings, UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http::header::HOST;
use http::HeaderValue;
use llmux_core::{Error, Result};

/// The SigV4 signing name of Bedrock's runtime API.
pub const SERVICE: &str = "bedrock";

/// The SigV4 signing name of S3, whose paths are signed as sent (encoded
/// once, not normalised), unlike every other service's.
pub const S3: &str = "s3";

/// An AWS access key pair, with a session token for temporary credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct AwsCredentials {
    /// The access key id (`AKIA…` or `ASIA…`); it appears in the `authorization` header.
    pub access_key_id: String,
    /// The secret key the signature is computed with; never sent.
    pub secret_access_key: String,
    /// STS session token of temporary credentials, sent as `x-amz-security-token`.
    pub session_token: Option<String>,
}

impl AwsCredentials {
    /// Long-term credentials (no session token).
    pub fn new(access_key_id: impl Into<String>, secret_access_key: impl Into<String>) -> Self {
        AwsCredentials {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            session_token: None,
        }
    }

    /// Add a session token (temporary credentials from STS).
    pub fn with_session_token(mut self, token: impl Into<String>) -> Self {
        self.session_token = Some(token.into());
        self
    }
}

impl fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret or the token.
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"** redacted **")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "** redacted **"),
            )
            .finish()
    }
}

/// How the body is covered by the signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadHash {
    /// The SHA-256 of the body is part of the canonical request only (what
    /// Bedrock's SDKs do).
    Signed,
    /// Also send it as `x-amz-content-sha256` (S3-style; used by some test vectors).
    SignedWithHeader,
}

/// Sign `request` in place for `service` in `region` at `time`.
///
/// The request URI must be absolute (`https://host/...`). A `host` header is
/// added from it when missing, so the signed host is the one sent.
pub fn sign(
    request: &mut http::Request<Bytes>,
    credentials: &AwsCredentials,
    region: &str,
    service: &str,
    time: SystemTime,
    payload: PayloadHash,
) -> Result<()> {
    if !request.headers().contains_key(HOST) {
        let authority = request
            .uri()
            .authority()
            .ok_or_else(|| Error::bad_request("cannot sign a request without a host"))?
            .as_str()
            .to_string();
        let value = HeaderValue::from_str(&authority)
            .map_err(|_| Error::bad_request("the endpoint host is not a valid header value"))?;
        request.headers_mut().insert(HOST, value);
    }
    let identity: Identity = Credentials::new(
        credentials.access_key_id.clone(),
        credentials.secret_access_key.clone(),
        credentials.session_token.clone(),
        None,
        "llmux",
    )
    .into();
    let mut settings = SigningSettings::default();
    if payload == PayloadHash::SignedWithHeader {
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    if service == S3 {
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| Error::bad_request(format!("cannot sign the request: {e}")))?
        .into();
    let mut headers = Vec::with_capacity(request.headers().len());
    for (name, value) in request.headers() {
        let value = value.to_str().map_err(|_| {
            Error::bad_request(format!(
                "header {name} is not visible ASCII and cannot be signed"
            ))
        })?;
        headers.push((name.as_str(), value));
    }
    let uri = request.uri().to_string();
    let signable = SignableRequest::new(
        request.method().as_str(),
        uri,
        headers.into_iter(),
        SignableBody::Bytes(request.body()),
    )
    .map_err(|e| Error::bad_request(format!("cannot sign the request: {e}")))?;
    let (instructions, _signature) = sigv4_sign(signable, &params)
        .map_err(|e| Error::bad_request(format!("cannot sign the request: {e}")))?
        .into_parts();
    instructions.apply_to_request_http1x(request);
    Ok(())
}

#[cfg(test)]
mod tests {
    //! AWS's published SigV4 test suite (the `aws-c-auth` vectors, shipped in
    //! the `aws-sigv4` crate as `aws-signing-test-suite/v4/*`): the expected
    //! `Authorization` values below are copied from its
    //! `header-signed-request.txt` files, not computed by this code.

    use super::*;
    use std::time::Duration;

    const AKID: &str = "AKIDEXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const STS_TOKEN: &str = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";

    /// 2015-08-30T12:36:00Z, the suite's timestamp.
    fn suite_time() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_440_938_160)
    }

    fn signed(
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: &str,
        creds: &AwsCredentials,
        payload: PayloadHash,
    ) -> http::Request<Bytes> {
        let mut b = http::Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let mut req = b.body(Bytes::from(body.to_string())).unwrap();
        sign(
            &mut req,
            creds,
            "us-east-1",
            "service",
            suite_time(),
            payload,
        )
        .unwrap();
        req
    }

    fn auth(req: &http::Request<Bytes>) -> &str {
        req.headers()["authorization"].to_str().unwrap()
    }

    /// AWS's S3 documentation, "Signature Calculations for the
    /// Authorization Header", Example: GET Object (2013-05-24, bucket
    /// `examplebucket`, the first ten bytes of `test.txt`).
    #[test]
    fn s3_get_object_example() {
        let mut req = http::Request::builder()
            .method("GET")
            .uri("https://examplebucket.s3.amazonaws.com/test.txt")
            .header("range", "bytes=0-9")
            .body(Bytes::new())
            .unwrap();
        sign(
            &mut req,
            &AwsCredentials::new(
                "AKIAIOSFODNN7EXAMPLE",
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            ),
            "us-east-1",
            S3,
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_369_353_600),
            PayloadHash::SignedWithHeader,
        )
        .unwrap();
        assert_eq!(auth(&req), "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
        assert_eq!(
            req.headers()["x-amz-content-sha256"],
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn get_vanilla() {
        let req = signed(
            "GET",
            "https://example.amazonaws.com/",
            &[],
            "",
            &AwsCredentials::new(AKID, SECRET),
            PayloadHash::Signed,
        );
        assert_eq!(auth(&req), "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
        assert_eq!(req.headers()["x-amz-date"], "20150830T123600Z");
        assert_eq!(req.headers()["host"], "example.amazonaws.com");
        assert!(req.headers().get("x-amz-security-token").is_none());
    }

    #[test]
    fn post_vanilla() {
        let req = signed(
            "POST",
            "https://example.amazonaws.com/",
            &[],
            "",
            &AwsCredentials::new(AKID, SECRET),
            PayloadHash::Signed,
        );
        assert_eq!(auth(&req), "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
    }

    #[test]
    fn get_vanilla_with_session_token() {
        let creds = AwsCredentials::new(AKID, SECRET)
            .with_session_token("6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267");
        let req = signed(
            "GET",
            "https://example.amazonaws.com/",
            &[],
            "",
            &creds,
            PayloadHash::Signed,
        );
        assert_eq!(auth(&req), "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8");
        assert_eq!(
            req.headers()["x-amz-security-token"],
            "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"
        );
    }

    #[test]
    fn post_sts_header_before() {
        let creds = AwsCredentials::new(AKID, SECRET).with_session_token(STS_TOKEN);
        let req = signed(
            "POST",
            "https://example.amazonaws.com/",
            &[],
            "",
            &creds,
            PayloadHash::Signed,
        );
        assert_eq!(auth(&req), "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead");
    }

    #[test]
    fn post_x_www_form_urlencoded_signs_the_body() {
        let req = signed(
            "POST",
            "https://example.amazonaws.com/",
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("content-length", "13"),
            ],
            "Param1=value1",
            &AwsCredentials::new(AKID, SECRET),
            PayloadHash::SignedWithHeader,
        );
        assert_eq!(auth(&req), "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date, Signature=d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b");
        assert_eq!(
            req.headers()["x-amz-content-sha256"],
            "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"
        );
    }

    #[test]
    fn get_vanilla_query_order_encoded() {
        let req = signed(
            "GET",
            "https://example.amazonaws.com/?Param-3=Value3&Param=Value2&%E1%88%B4=Value1",
            &[],
            "",
            &AwsCredentials::new(AKID, SECRET),
            PayloadHash::Signed,
        );
        assert_eq!(auth(&req), "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac");
    }

    #[test]
    fn secrets_are_not_printed() {
        let creds = AwsCredentials::new(AKID, SECRET).with_session_token("tok");
        let printed = format!("{creds:?}");
        assert!(
            !printed.contains(SECRET) && !printed.contains("tok\""),
            "{printed}"
        );
        assert!(printed.contains(AKID));
    }
}
