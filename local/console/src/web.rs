//! The console's HTTP server (hyper, HTTP/1.1, loopback by default) and its request guards: the
//! Host must be the console's own (no DNS rebinding), and every state-changing request is a POST
//! whose Origin is the console's and whose form carries the per-process token (no cross-site
//! request can act with the operator's credentials).

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use subtle::ConstantTimeEq;

use crate::handlers::{self, App};

/// Largest form body (a bulk redrive's confirmation carries up to 500 ARNs).
pub const MAX_FORM_BYTES: usize = 256 * 1024;

const CSS: &str = include_str!("../assets/console.css");

/// The Content-Security-Policy of every page: nothing but the console's own stylesheet and forms;
/// no script at all, no framing.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// What a handler answers.
pub enum Reply {
    /// A page with this status.
    Page(StatusCode, String),
    /// 303 See Other to a console path (after an action: reloading does not repeat it).
    Redirect(String),
    /// The console's stylesheet.
    Css,
}

/// Why a request was refused before any handler ran.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refused {
    /// The Host is not the console's own address (DNS rebinding).
    #[error("unknown Host header: the console answers only on its own address")]
    Host,
    /// A POST whose Origin is missing or another site's.
    #[error("cross-site request refused: the Origin header is missing or not this console's")]
    Origin,
    /// A POST without the page's token.
    #[error("cross-site request refused: the form's token is missing or wrong (reload the page)")]
    Token,
    /// A POST body that is not a small urlencoded form.
    #[error("the form must be application/x-www-form-urlencoded, at most {MAX_FORM_BYTES} bytes")]
    Form,
}

/// The request guards, given the console's own authorities (`127.0.0.1:PORT`, `localhost:PORT`).
#[derive(Clone)]
pub struct Guard {
    /// The Host values the console answers to.
    pub authorities: Vec<String>,
    /// The per-process anti-CSRF token every form carries.
    pub token: String,
}

impl Guard {
    /// The guards of a console listening on `address`, with `token` for its forms.
    pub fn new(address: SocketAddr, token: String) -> Self {
        let port = address.port();
        let mut authorities = vec![address.to_string(), format!("localhost:{port}")];
        if address.ip().is_loopback() {
            authorities.push(format!("127.0.0.1:{port}"));
            authorities.push(format!("[::1]:{port}"));
        }
        authorities.dedup();
        Guard { authorities, token }
    }

    /// The Host header must be one of the console's own authorities.
    pub fn host(&self, host: Option<&str>) -> Result<(), Refused> {
        match host {
            Some(h) if self.authorities.iter().any(|a| a == h) => Ok(()),
            _ => Err(Refused::Host),
        }
    }

    /// The Origin of a POST must be this console (a browser always sends it on a cross-site POST,
    /// and on a same-origin one).
    pub fn origin(&self, origin: Option<&str>) -> Result<(), Refused> {
        match origin.and_then(|o| o.strip_prefix("http://")) {
            Some(a) if self.authorities.iter().any(|x| x == a) => Ok(()),
            _ => Err(Refused::Origin),
        }
    }

    /// The form's `token` must be this process's (compared in constant time).
    pub fn token(&self, form: &HashMap<String, Vec<String>>) -> Result<(), Refused> {
        let given = form
            .get("token")
            .and_then(|v| v.first())
            .map(String::as_str)
            .unwrap_or("");
        if given.len() == self.token.len()
            && bool::from(given.as_bytes().ct_eq(self.token.as_bytes()))
        {
            Ok(())
        } else {
            Err(Refused::Token)
        }
    }
}

/// `a=1&b=2&b=3` → {a: [1], b: [2, 3]}.
pub fn parse_form(text: &str) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in form_urlencoded::parse(text.as_bytes()) {
        out.entry(k.into_owned()).or_default().push(v.into_owned());
    }
    out
}

fn respond(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    // Not no-referrer: with it, Chromium sends `Origin: null` on the console's own form POSTs.
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    h.insert("cache-control", HeaderValue::from_static("no-store"));
    r
}

/// Serves one request: guards first, then the handler, with the security headers on every answer.
pub async fn handle(app: Arc<App>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let query = parse_form(request.uri().query().unwrap_or(""));
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (host, origin, content_type) = (header("host"), header("origin"), header("content-type"));
    if let Err(e) = app.guard.host(host.as_deref()) {
        return refused(&app, StatusCode::MISDIRECTED_REQUEST, &e);
    }
    let reply = if method == Method::POST {
        if let Err(e) = app.guard.origin(origin.as_deref()) {
            tracing::warn!(path = %path, origin = origin.as_deref().unwrap_or("-"), "cross-site POST refused");
            return refused(&app, StatusCode::FORBIDDEN, &e);
        }
        let form_type = content_type
            .as_deref()
            .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
        let body = match Limited::new(request.into_body(), MAX_FORM_BYTES)
            .collect()
            .await
        {
            Ok(b) if form_type => b.to_bytes(),
            _ => return refused(&app, StatusCode::BAD_REQUEST, &Refused::Form),
        };
        let form = parse_form(&String::from_utf8_lossy(&body));
        if let Err(e) = app.guard.token(&form) {
            tracing::warn!(path = %path, "POST without the console's token refused");
            return refused(&app, StatusCode::FORBIDDEN, &e);
        }
        handlers::post(&app, &path, &form).await
    } else if method == Method::GET || method == Method::HEAD {
        handlers::get(&app, &path, &query).await
    } else {
        Reply::Page(
            StatusCode::METHOD_NOT_ALLOWED,
            handlers::message_page(
                &app,
                "Method not allowed",
                "The console takes GET and POST.",
            ),
        )
    };
    match reply {
        Reply::Page(status, html) => respond(status, "text/html; charset=utf-8", html),
        Reply::Css => respond(StatusCode::OK, "text/css; charset=utf-8", CSS.to_string()),
        Reply::Redirect(to) => {
            let mut r = respond(
                StatusCode::SEE_OTHER,
                "text/plain; charset=utf-8",
                String::new(),
            );
            // Only console paths: never a redirect elsewhere.
            let to = if to.starts_with('/') && !to.starts_with("//") {
                to
            } else {
                "/".into()
            };
            if let Ok(v) = HeaderValue::from_str(&to) {
                r.headers_mut().insert("location", v);
            }
            r
        }
    }
}

fn refused(app: &App, status: StatusCode, e: &Refused) -> Response<Full<Bytes>> {
    respond(
        status,
        "text/html; charset=utf-8",
        handlers::message_page(app, "Request refused", &e.to_string()),
    )
}

/// Serves `app` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            () = &mut shutdown => return,
        };
        let app = app.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let app = app.clone();
                async move { Ok::<_, Infallible>(handle(app, req).await) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
}

/// Whether the console may listen on `host`: loopback only unless `allow_remote`.
pub fn check_host(host: &str, allow_remote: bool) -> Result<(), String> {
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false);
    if loopback || allow_remote {
        Ok(())
    } else {
        Err(format!(
            "{host} is not a loopback address: the console acts with your AWS credentials; pass \
             --allow-remote to listen there anyway"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> Guard {
        Guard::new("127.0.0.1:8090".parse().unwrap(), "t0ken".into())
    }

    #[test]
    fn only_the_consoles_own_host_and_origin() {
        let g = guard();
        assert!(g.host(Some("127.0.0.1:8090")).is_ok());
        assert!(g.host(Some("localhost:8090")).is_ok());
        assert_eq!(g.host(Some("evil.example:8090")), Err(Refused::Host));
        assert_eq!(g.host(None), Err(Refused::Host));
        assert!(g.origin(Some("http://127.0.0.1:8090")).is_ok());
        assert_eq!(g.origin(Some("http://evil.example")), Err(Refused::Origin));
        assert_eq!(g.origin(Some("null")), Err(Refused::Origin));
        assert_eq!(g.origin(None), Err(Refused::Origin));
    }

    #[test]
    fn the_token_must_match() {
        let g = guard();
        assert!(g.token(&parse_form("token=t0ken&arn=x")).is_ok());
        assert_eq!(g.token(&parse_form("token=t0kem")), Err(Refused::Token));
        assert_eq!(g.token(&parse_form("arn=x")), Err(Refused::Token));
    }

    #[test]
    fn loopback_only_unless_allowed() {
        assert!(check_host("127.0.0.1", false).is_ok());
        assert!(check_host("::1", false).is_ok());
        assert!(check_host("0.0.0.0", false).is_err());
        assert!(check_host("0.0.0.0", true).is_ok());
    }
}
