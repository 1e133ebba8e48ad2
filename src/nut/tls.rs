//! TLS for STARTTLS: who the server must prove to be. Either its certificate chains to
//! trusted roots (a CA file, or the system's) and names the host, or its certificate is
//! the pinned one (SHA-256 of the DER), or both; `Insecure` checks nothing and is only
//! there because administrators ask for it (it is logged as a warning).

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use sha2::{Digest, Sha256};

use crate::nut::proto::NutError;

/// Where trusted roots come from when no CA file is given (Debian's ca-certificates).
pub const SYSTEM_ROOTS: &str = "/etc/ssl/certs/ca-certificates.crt";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Verify the chain against these roots (None: do not verify the chain).
    pub roots: Option<String>,
    /// The server certificate's SHA-256 must be this.
    pub pin: Option<[u8; 32]>,
}

impl Policy {
    pub fn insecure(&self) -> bool {
        self.roots.is_none() && self.pin.is_none()
    }
}

/// A fingerprint as `openssl x509 -fingerprint -sha256` prints it, with or without
/// colons, optionally prefixed `sha256:`.
pub fn parse_fingerprint(text: &str) -> Option<[u8; 32]> {
    let t = text.trim();
    let t = t
        .strip_prefix("sha256:")
        .or_else(|| t.strip_prefix("SHA256:"))
        .unwrap_or(t);
    let hex: String = t.chars().filter(|c| *c != ':').collect();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[derive(Debug)]
struct Verifier {
    chain: Option<Arc<WebPkiServerVerifier>>,
    pin: Option<[u8; 32]>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(chain) = &self.chain {
            chain.verify_server_cert(end_entity, intermediates, server_name, ocsp, now)?;
        }
        if let Some(pin) = &self.pin {
            let got: [u8; 32] = Sha256::digest(end_entity.as_ref()).into();
            if &got != pin {
                return Err(rustls::Error::General(format!(
                    "the server certificate's SHA-256 fingerprint is {}, not the pinned one",
                    hex(&got)
                )));
            }
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn load_roots(path: &str) -> Result<RootCertStore, NutError> {
    let bad = |e: String| NutError::Tls(format!("cannot read CA certificates from {path}: {e}"));
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(Path::new(path)).map_err(|e| bad(e.to_string()))?;
    for c in certs {
        let c = c.map_err(|e| bad(e.to_string()))?;
        roots.add(c).map_err(|e| bad(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(bad("no certificate in the file".into()));
    }
    Ok(roots)
}

/// A rustls client configuration for `policy`.
pub fn client_config(policy: &Policy) -> Result<Arc<ClientConfig>, NutError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = match &policy.roots {
        None => None,
        Some(path) => Some(
            WebPkiServerVerifier::builder_with_provider(
                Arc::new(load_roots(path)?),
                provider.clone(),
            )
            .build()
            .map_err(|e| NutError::Tls(format!("cannot use the CA certificates: {e}")))?,
        ),
    };
    let verifier = Verifier {
        chain,
        pin: policy.pin,
        provider: provider.clone(),
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| NutError::Tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints() {
        let colons = "BF:F7:A0:E0:9A:A7:52:7C:C4:F0:26:87:DB:55:E1:FA:5F:3E:79:DF:69:8E:DA:80:2A:C0:0E:6C:FB:21:5B:33";
        let a = parse_fingerprint(colons).unwrap();
        assert_eq!(
            parse_fingerprint(&colons.replace(':', "").to_lowercase()),
            Some(a)
        );
        assert_eq!(parse_fingerprint(&format!("sha256:{colons}")), Some(a));
        assert!(parse_fingerprint("BF:F7").is_none());
        assert!(parse_fingerprint(&"zz".repeat(32)).is_none());
        assert_eq!(hex(&a), colons);
    }
}
