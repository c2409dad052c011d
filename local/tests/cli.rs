//! The `wsauth-local` binary as a newcomer runs it: `serve` prints a WebSocket URL and a
//! ready-to-paste token that the running server accepts; `token` mints tokens it accepts too.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn temp_dir() -> std::path::PathBuf {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let d = std::env::temp_dir().join(format!("wsauth-cli-{}-{t}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A minimal WebSocket handshake: the HTTP status of the upgrade response.
fn handshake_status(port: u16, path_and_query: &str) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path_and_query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap();
    let line = String::from_utf8_lossy(&buf[..n]).to_string();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn serve_prints_a_url_and_a_token_the_server_accepts_and_token_mints_more() {
    let dir = temp_dir();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_wsauth-local"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .current_dir(&dir)
        .env_remove("WSAUTH_ISSUER")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut url, mut token) = (None, None);
    while Instant::now() < deadline && (url.is_none() || token.is_none()) {
        let Some(Ok(line)) = lines.next() else { break };
        if let Some(u) = line.trim().strip_prefix("WebSocket:") {
            url = Some(u.trim().to_owned());
        }
        if let Some(i) = line.find("?token=") {
            token = Some(line[i + 7..].trim_end_matches('\'').to_owned());
        }
    }
    let url = url.expect("serve prints the WebSocket URL");
    assert_eq!(url, format!("ws://127.0.0.1:{port}/dev"));
    let token = token.expect("serve prints a ready-to-paste token");
    assert_eq!(handshake_status(port, &format!("/dev?token={token}")), 101);
    assert_eq!(handshake_status(port, "/dev"), 401);
    assert_eq!(handshake_status(port, "/dev?token=forged.token.value"), 401);

    let out = Command::new(env!("CARGO_BIN_EXE_wsauth-local"))
        .args([
            "token",
            "--sub",
            "bob",
            "--scope",
            "messages:send",
            "--ttl",
            "600",
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    let minted = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(minted.split('.').count(), 3);
    assert_eq!(handshake_status(port, &format!("/dev?token={minted}")), 101);
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_taken_port_is_a_clear_startup_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = Command::new(env!("CARGO_BIN_EXE_wsauth-local"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .current_dir(temp_dir())
        .env_remove("WSAUTH_ISSUER")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--listen"), "{err}");
}

#[test]
fn a_bad_issuer_setting_names_the_variable() {
    let out = Command::new(env!("CARGO_BIN_EXE_wsauth-local"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(temp_dir())
        .env("WSAUTH_ISSUER", "http://idp.example.com")
        .env("WSAUTH_AUDIENCE", "api")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("WSAUTH_ISSUER"), "{err}");
}
