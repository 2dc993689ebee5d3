//! Who a request comes from, as the rate limits count it (issue 13, item 7).
//!
//! Two things make the TCP peer a poor key. Behind a reverse proxy every request comes from
//! the proxy, so every user would share one bucket; and one IPv6 host or customer routinely
//! holds a whole /64, so counting each address apart would give it 2^64 buckets.
//!
//! - Forwarded headers are honoured only when the TCP peer is inside a trusted CIDR
//!   (`enigm server --trusted-proxy CIDR`, repeatable); from anyone else they are ignored, so a
//!   client cannot pick its own bucket. The chain is `X-Forwarded-For` when the request has
//!   one, else the `for=` of `Forwarded` (RFC 7239), followed by the peer itself; it is read
//!   from the right, skipping trusted proxies, and the first address that is not one is the
//!   client. Entries left of it were written by whoever sent it and are not believed. A chain
//!   whose hop cannot be read stops there and the last trusted hop is the client (one bucket
//!   for whatever hides behind it, never one the sender chose). Every proxy in front of the
//!   service must append to `X-Forwarded-For` (nginx's `$proxy_add_x_forwarded_for`, HAProxy's
//!   `option forwardfor`, Caddy and Traefik by default); one that sets only `Forwarded` must
//!   drop a client's `X-Forwarded-For`.
//! - IPv6 sources are counted per /64; IPv4 (and IPv4-mapped IPv6) per address.
//!
//! [`ClientSource`] is the extractor handlers take; [`source_key`] the aggregation alone.
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use crate::error::ServerError;
use crate::state::AppState;

/// Most hops of a forwarded chain looked at; a longer chain is cut at the left, which only
/// ever moves the answer towards the peer.
const MAX_HOPS: usize = 32;

/// A network given as `ADDRESS/PREFIX` (a bare address is the network of that one address).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `ip` is inside the network (IPv4-mapped IPv6 counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(network), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(network) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(network) & mask == u128::from(ip) & mask
            }
            (IpAddr::V4(_), IpAddr::V6(_)) | (IpAddr::V6(_), IpAddr::V4(_)) => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = ServerError;

    /// Parses `10.0.0.0/8`, `fd00::/8`, `192.0.2.7` (a /32) or `::1` (a /128).
    fn from_str(text: &str) -> Result<Self, ServerError> {
        let invalid =
            || ServerError::Config("a trusted proxy must be an address or ADDRESS/PREFIX".into());
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network = IpAddr::from_str(address)
            .map_err(|_| invalid())?
            .to_canonical();
        let longest = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|prefix| *prefix <= longest)
                .ok_or_else(invalid)?,
            None => longest,
        };
        Ok(Self { network, prefix })
    }
}

/// The rate-limit key of a source address: the address for IPv4, its /64 for IPv6
/// (`2001:db8:1:2::/64`).
pub(crate) fn source_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(ip) => ip.to_string(),
        IpAddr::V6(ip) => {
            let network = Ipv6Addr::from(u128::from(ip) & (u128::MAX << 64));
            format!("{network}/64")
        }
    }
}

/// The client's address: the TCP `peer`, or, when the peer is a trusted proxy, the rightmost
/// address of the forwarded chain that is not a trusted proxy.
pub(crate) fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[Cidr]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|cidr| cidr.contains(ip));
    let mut client = peer.to_canonical();
    if !is_trusted(client) {
        return client;
    }
    for hop in forwarded_chain(headers).iter().rev().take(MAX_HOPS) {
        let Some(hop) = hop else {
            // Unreadable: nothing left of it can be believed.
            return client;
        };
        client = hop.to_canonical();
        if !is_trusted(client) {
            return client;
        }
    }
    client
}

/// The forwarded chain, client first: `X-Forwarded-For` when present, else the `for=` of
/// `Forwarded`. Each hop is an address, or `None` when it cannot be read (`unknown`, an
/// obfuscated name, garbage).
fn forwarded_chain(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let xff: Vec<_> = headers.get_all("x-forwarded-for").iter().collect();
    if !xff.is_empty() {
        return xff
            .iter()
            .flat_map(|value| match value.to_str() {
                Ok(text) => text.split(',').map(parse_hop).collect::<Vec<_>>(),
                Err(_) => vec![None],
            })
            .collect();
    }
    headers
        .get_all("forwarded")
        .iter()
        .flat_map(|value| match value.to_str() {
            Ok(text) => text
                .split(',')
                .map(|element| {
                    element
                        .split(';')
                        .find_map(|pair| {
                            let (name, value) = pair.trim().split_once('=')?;
                            name.eq_ignore_ascii_case("for").then_some(value)
                        })
                        .and_then(|value| parse_hop(value.trim().trim_matches('"')))
                })
                .collect::<Vec<_>>(),
            Err(_) => vec![None],
        })
        .collect()
}

/// One hop: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1` or `[2001:db8::1]:4711`.
fn parse_hop(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    if let Ok(ip) = IpAddr::from_str(text) {
        return Some(ip);
    }
    if let Some(rest) = text.strip_prefix('[') {
        let (ip, _) = rest.split_once(']')?;
        return IpAddr::from_str(ip).ok();
    }
    SocketAddr::from_str(text).ok().map(|address| address.ip())
}

/// The rate-limit source of a request (see the module docs): its [`ClientSource::key`] is
/// what the limiter counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ClientSource {
    key: String,
}

impl ClientSource {
    /// `1.2.3.4`, or an IPv6 /64 like `2001:db8:1:2::/64`.
    pub(crate) fn key(&self) -> &str {
        &self.key
    }
}

impl FromRequestParts<AppState> for ClientSource {
    type Rejection = ServerError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ServerError> {
        let ConnectInfo(peer) = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .copied()
            .ok_or_else(|| ServerError::Internal("no peer address on the connection".into()))?;
        let client = client_ip(peer.ip(), &parts.headers, &state.config().trusted_proxies);
        Ok(Self {
            key: source_key(client),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::Router;
    use axum::body::Body;
    use axum::http::{HeaderValue, Request};
    use axum::routing::get;
    use enigm_core::opaque::ServerSetup;
    use rand_core::OsRng;
    use tower::ServiceExt;

    use super::*;
    use crate::config::Config;
    use crate::secrets::Secrets;
    use crate::storage::SqliteStorage;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn cidrs_parse_and_contain() {
        let net: Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(net.contains(ip("10.1.255.3")));
        assert!(!net.contains(ip("10.2.0.1")));
        assert!(
            net.contains(ip("::ffff:10.1.0.9")),
            "IPv4-mapped counts as IPv4"
        );
        let one: Cidr = "192.0.2.7".parse().unwrap();
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        let v6: Cidr = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        assert!("0.0.0.0/0".parse::<Cidr>().unwrap().contains(ip("8.8.8.8")));
        assert!("::/0".parse::<Cidr>().unwrap().contains(ip("2001:db8::1")));
        for bad in [
            "10.0.0.0/33",
            "::/129",
            "10.0.0/8",
            "proxy",
            "10.0.0.0/",
            "/8",
            "",
        ] {
            let error = bad.parse::<Cidr>().unwrap_err();
            assert!(error.to_string().contains("ADDRESS/PREFIX"), "{bad}");
        }
    }

    #[test]
    fn ipv6_sources_are_counted_per_64() {
        assert_eq!(source_key(ip("192.0.2.1")), "192.0.2.1");
        assert_eq!(source_key(ip("::ffff:192.0.2.1")), "192.0.2.1");
        assert_eq!(source_key(ip("2001:db8:1:2:aaaa::1")), "2001:db8:1:2::/64");
        assert_eq!(
            source_key(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")),
            source_key(ip("2001:db8:1:2::")),
        );
        assert_ne!(
            source_key(ip("2001:db8:1:2::1")),
            source_key(ip("2001:db8:1:3::1"))
        );
    }

    #[test]
    fn forwarded_headers_count_only_from_trusted_proxies() {
        let proxies: Vec<Cidr> = vec!["10.0.0.0/8".parse().unwrap()];
        let forwarded = headers(&[("x-forwarded-for", "203.0.113.9")]);
        // From a stranger the header is the stranger's own claim.
        assert_eq!(
            client_ip(ip("198.51.100.1"), &forwarded, &proxies),
            ip("198.51.100.1")
        );
        // From the proxy it names the client; without a header the proxy is the client.
        assert_eq!(
            client_ip(ip("10.0.0.2"), &forwarded, &proxies),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_ip(ip("10.0.0.2"), &HeaderMap::new(), &proxies),
            ip("10.0.0.2")
        );
        // Nothing trusted: headers never count.
        assert_eq!(client_ip(ip("10.0.0.2"), &forwarded, &[]), ip("10.0.0.2"));
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let proxies: Vec<Cidr> = vec!["10.0.0.0/8".parse().unwrap()];
        let peer = ip("10.0.0.2");
        // The client wrote a fake first hop; the proxies appended the real one and themselves.
        let chain = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.9, 10.0.0.5")]);
        assert_eq!(client_ip(peer, &chain, &proxies), ip("203.0.113.9"));
        // Several header lines are one chain, in order.
        let split = headers(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-for", "203.0.113.9:5555, 10.0.0.5"),
        ]);
        assert_eq!(client_ip(peer, &split, &proxies), ip("203.0.113.9"));
        // An unreadable hop stops the walk at the last trusted one.
        let unknown = headers(&[("x-forwarded-for", "1.1.1.1, unknown, 10.0.0.5")]);
        assert_eq!(client_ip(peer, &unknown, &proxies), ip("10.0.0.5"));
        // Only proxies all the way: the leftmost is the best there is.
        let inside = headers(&[("x-forwarded-for", "10.9.9.9, 10.0.0.5")]);
        assert_eq!(client_ip(peer, &inside, &proxies), ip("10.9.9.9"));
    }

    #[test]
    fn forwarded_is_read_when_there_is_no_x_forwarded_for() {
        let proxies: Vec<Cidr> = vec!["10.0.0.0/8".parse().unwrap()];
        let peer = ip("10.0.0.2");
        let chain = headers(&[(
            "forwarded",
            "for=1.1.1.1, For=\"[2001:db8:cafe::17]:4711\";proto=https, for=10.0.0.5;by=10.0.0.2",
        )]);
        assert_eq!(client_ip(peer, &chain, &proxies), ip("2001:db8:cafe::17"));
        let obfuscated = headers(&[("forwarded", "for=_hidden, for=10.0.0.5")]);
        assert_eq!(client_ip(peer, &obfuscated, &proxies), ip("10.0.0.5"));
        // X-Forwarded-For wins when both are present.
        let both = headers(&[
            ("forwarded", "for=1.1.1.1"),
            ("x-forwarded-for", "203.0.113.9"),
        ]);
        assert_eq!(client_ip(peer, &both, &proxies), ip("203.0.113.9"));
    }

    #[test]
    fn a_client_behind_a_trusted_proxy_over_ipv6_gets_its_64() {
        let proxies: Vec<Cidr> = vec!["::1".parse().unwrap()];
        let chain = headers(&[("x-forwarded-for", "2001:db8:1:2::77")]);
        let client = client_ip(ip("::1"), &chain, &proxies);
        assert_eq!(source_key(client), "2001:db8:1:2::/64");
    }

    /// The extractor in a router, as a handler sees it: the key for a request from `peer`.
    async fn extracted(trusted: &[&str], peer: &str, forwarded: Option<&'static str>) -> String {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path().to_path_buf());
        config.trusted_proxies = trusted.iter().map(|cidr| cidr.parse().unwrap()).collect();
        let state = AppState::new(
            Arc::new(SqliteStorage::open_in_memory().unwrap()),
            Secrets::load_or_create(dir.path(), None, None).unwrap(),
            ServerSetup::new(&mut OsRng),
            config,
            Arc::new(crate::push::PushHub::default()),
            crate::Clock::system(),
        );
        let router = Router::new()
            .route(
                "/",
                get(|source: ClientSource| async move { source.key().to_owned() }),
            )
            .with_state(state);
        let mut request = Request::get("/");
        if let Some(value) = forwarded {
            request = request.header("x-forwarded-for", value);
        }
        let mut request = request.body(Body::empty()).unwrap();
        let peer: SocketAddr = peer.parse().unwrap();
        request.extensions_mut().insert(ConnectInfo(peer));
        let response = router.oneshot(request).await.unwrap();
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        String::from_utf8(body.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn the_extractor_keys_by_the_forwarded_client_only_behind_a_trusted_proxy() {
        let via_proxy = extracted(&["127.0.0.1"], "127.0.0.1:5000", Some("2001:db8:1:2::9")).await;
        assert_eq!(via_proxy, "2001:db8:1:2::/64");
        let untrusted = extracted(&[], "127.0.0.1:5000", Some("203.0.113.9")).await;
        assert_eq!(untrusted, "127.0.0.1");
        let direct = extracted(&["10.0.0.0/8"], "[2001:db8:5:6:7::1]:443", None).await;
        assert_eq!(direct, "2001:db8:5:6::/64");
    }
}
