//! Where pushes go: Apple's two hosts on port 443 or 2197 (docs/reference/apns.md §1.1), or any URL
//! (the emulator, a proxy).

use std::fmt;

use crate::Environment;

/// Apple's production host.
pub const PRODUCTION_HOST: &str = "api.push.apple.com";
/// Apple's development (sandbox) host.
pub const SANDBOX_HOST: &str = "api.sandbox.push.apple.com";
/// The alternative port Apple accepts on both hosts (for firewalls that block other HTTPS).
pub const ALTERNATIVE_PORT: u16 = 2197;

/// An APNs server: host, port, whether TLS is used, and which environment its tokens are for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    host: String,
    port: u16,
    tls: bool,
    environment: Environment,
}

/// A URL that cannot name an APNs server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "endpoint {url:?}: {problem}; expected https://HOST[:PORT] (or http:// for an h2c emulator)"
)]
pub struct EndpointError {
    /// The URL given.
    pub url: String,
    /// What is wrong with it.
    pub problem: &'static str,
}

impl Endpoint {
    /// `api.push.apple.com:443`.
    pub fn production() -> Endpoint {
        Endpoint::apple(PRODUCTION_HOST, Environment::Production)
    }

    /// `api.sandbox.push.apple.com:443`.
    pub fn sandbox() -> Endpoint {
        Endpoint::apple(SANDBOX_HOST, Environment::Sandbox)
    }

    /// Apple's host for an environment.
    pub fn for_environment(environment: Environment) -> Endpoint {
        match environment {
            Environment::Production => Endpoint::production(),
            Environment::Sandbox => Endpoint::sandbox(),
        }
    }

    fn apple(host: &str, environment: Environment) -> Endpoint {
        Endpoint {
            host: host.to_owned(),
            port: 443,
            tls: true,
            environment,
        }
    }

    /// The same host on another port (e.g. [`ALTERNATIVE_PORT`]).
    pub fn with_port(mut self, port: u16) -> Endpoint {
        self.port = port;
        self
    }

    /// Any server, e.g. `https://127.0.0.1:8443` for the emulator; `http://` means h2c
    /// (cleartext HTTP/2 with prior knowledge). `environment` says which token namespace the
    /// server stands for.
    pub fn url(url: &str, environment: Environment) -> Result<Endpoint, EndpointError> {
        let error = |problem| EndpointError {
            url: url.to_owned(),
            problem,
        };
        let (tls, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(error("the scheme must be https:// or http://"));
        };
        let authority = rest.trim_end_matches('/');
        if authority.contains('/') {
            return Err(error(
                "a path is not allowed: the client adds /3/device/<token>",
            ));
        }
        let (host, port) = split_host_port(authority).ok_or_else(|| error("bad host or port"))?;
        if host.is_empty() {
            return Err(error("the host is empty"));
        }
        Ok(Endpoint {
            host: host.to_owned(),
            port: port.unwrap_or(if tls { 443 } else { 80 }),
            tls,
            environment,
        })
    }

    /// The host name or IP address.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the connection uses TLS (`false`: h2c).
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The token namespace: sandbox or production.
    pub fn environment(&self) -> Environment {
        self.environment
    }

    /// `https://host:port`, the request URI's base.
    pub fn base(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        if self.host.contains(':') {
            format!("{scheme}://[{}]:{}", self.host, self.port)
        } else {
            format!("{scheme}://{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.base(), self.environment)
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`.
fn split_host_port(authority: &str) -> Option<(&str, Option<u16>)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        return Some((host, port));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => Some((host, Some(port.parse().ok()?))),
        None => Some((authority, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apple_hosts_and_urls() {
        assert_eq!(
            Endpoint::production().base(),
            "https://api.push.apple.com:443"
        );
        let alt = Endpoint::sandbox().with_port(ALTERNATIVE_PORT);
        assert_eq!(alt.base(), "https://api.sandbox.push.apple.com:2197");
        let emulator = Endpoint::url("https://127.0.0.1:8443/", Environment::Sandbox).unwrap();
        assert_eq!((emulator.host(), emulator.port()), ("127.0.0.1", 8443));
        let v6 = Endpoint::url("http://[::1]:9000", Environment::Production).unwrap();
        assert_eq!((v6.host(), v6.port(), v6.is_tls()), ("::1", 9000, false));
        assert_eq!(v6.base(), "http://[::1]:9000");
        for bad in [
            "ftp://x",
            "https://x:99999",
            "https://x/3/device",
            "https://",
            "x:1",
        ] {
            let error = Endpoint::url(bad, Environment::Sandbox).unwrap_err();
            assert!(error.to_string().contains(bad), "{error}");
        }
    }
}
