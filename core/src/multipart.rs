//! A minimal `multipart/form-data` encoder, so codecs that upload files
//! (audio transcription) stay pure functions producing exact bytes.

use bytes::Bytes;

/// Builds a `multipart/form-data` body.
#[derive(Debug)]
pub struct MultipartForm {
    boundary: String,
    body: Vec<u8>,
}

impl MultipartForm {
    /// An empty form with `boundary` (must not occur in any field value).
    pub fn new(boundary: impl Into<String>) -> Self {
        MultipartForm {
            boundary: boundary.into(),
            body: Vec::new(),
        }
    }

    /// Append a text field.
    pub fn text(mut self, name: &str, value: &str) -> Self {
        self.body.extend_from_slice(
            format!(
                "--{}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n",
                self.boundary,
                escape(name)
            )
            .as_bytes(),
        );
        self.body.extend_from_slice(value.as_bytes());
        self.body.extend_from_slice(b"\r\n");
        self
    }

    /// Append a file field.
    pub fn file(mut self, name: &str, filename: &str, content_type: &str, data: &[u8]) -> Self {
        self.body.extend_from_slice(
            format!(
                "--{}\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\nContent-Type: {}\r\n\r\n",
                self.boundary,
                escape(name),
                escape(filename),
                content_type
            )
            .as_bytes(),
        );
        self.body.extend_from_slice(data);
        self.body.extend_from_slice(b"\r\n");
        self
    }

    /// The `Content-Type` header value.
    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    /// Close the form and return its bytes.
    pub fn finish(mut self) -> Bytes {
        self.body
            .extend_from_slice(format!("--{}--\r\n", self.boundary).as_bytes());
        Bytes::from(self.body)
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace(['\r', '\n'], " ")
}

/// A media type for an audio file name, from its extension.
pub fn audio_content_type(filename: &str) -> &'static str {
    let ext = filename
        .rsplit('.')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "mp3" | "mpga" | "mpeg" => "audio/mpeg",
        "mp4" | "m4a" => "audio/mp4",
        "wav" => "audio/wav",
        "webm" => "audio/webm",
        "ogg" | "oga" => "audio/ogg",
        "flac" => "audio/flac",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_exact_bytes() {
        let form = MultipartForm::new("B").text("model", "whisper-1").file(
            "file",
            "a \"b\".wav",
            "audio/wav",
            b"RIFF",
        );
        assert_eq!(form.content_type(), "multipart/form-data; boundary=B");
        assert_eq!(
            form.finish(),
            Bytes::from_static(
                b"--B\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n\
--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a \\\"b\\\".wav\"\r\nContent-Type: audio/wav\r\n\r\nRIFF\r\n\
--B--\r\n"
            )
        );
        assert_eq!(audio_content_type("x.MP3"), "audio/mpeg");
    }
}
