//! `States.Base64Decode` and `States.Hash`.

use serde_json::Value;

use super::*;

impl Invocation<'_> {
    pub(super) fn base64_decode(&self, v: &Value) -> Result<Value, IntrinsicError> {
        let s = self.limited_string(v, 1)?;
        // Java's basic decoder accepts a missing final padding; so do we.
        let engine = base64::engine::GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            base64::engine::GeneralPurposeConfig::new()
                .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
        );
        let bytes = engine
            .decode(s)
            .map_err(|e| self.fail(format!("the input is not valid Base64 ({e})")))?;
        Ok(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    }

    pub(super) fn hash(&self, data: &Value, algorithm: &Value) -> Result<Value, IntrinsicError> {
        // md-5/sha1 and sha2 implement different `digest` generations: name each trait.
        let data = self.limited_string(data, 1)?.as_bytes();
        let algorithm = self.string(algorithm, 2)?;
        let digest = match algorithm {
            "MD5" => hex::encode(<md5::Md5 as md5::Digest>::digest(data)),
            "SHA-1" => hex::encode(<sha1::Sha1 as sha1::Digest>::digest(data)),
            "SHA-256" => hex::encode(<sha2::Sha256 as sha2::Digest>::digest(data)),
            "SHA-384" => hex::encode(<sha2::Sha384 as sha2::Digest>::digest(data)),
            "SHA-512" => hex::encode(<sha2::Sha512 as sha2::Digest>::digest(data)),
            other => {
                return Err(self.fail(format!(
                    "the hash algorithm '{other}' is not supported; use one of MD5, SHA-1, SHA-256, SHA-384, SHA-512"
                )))
            }
        };
        Ok(Value::String(digest))
    }
}
