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

/// A working directory of its own, removed when dropped.
fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("wsauth-cli-")
        .tempdir()
        .unwrap()
}

/// A minimal WebSocket handshake: the HTTP status of the upgrade response.
fn handshake_status(port: u16, path_and_query: &str) -> u16 {
    handshake_status_with(port, path_and_query, "")
}

/// The token in the subprotocol list, as browsers send it.
fn subprotocol(token: &str) -> String {
    format!("Sec-WebSocket-Protocol: wsauth, bearer.{token}\r\n")
}

/// A minimal WebSocket handshake with `extra` header lines: the status of the response.
fn handshake_status_with(port: u16, path_and_query: &str, extra: &str) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path_and_query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
    .unwrap();
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap();
    let line = String::from_utf8_lossy(&buf[..n]).to_string();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Starts `serve` on a free port with `args`; returns the child, the port, the printed
/// WebSocket URL and the printed "try" command line.
fn serve(dir: &std::path::Path, args: &[&str]) -> (std::process::Child, u16, String, String) {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_wsauth-local"))
        .args(["serve", "--listen", &listen])
        .args(args)
        .current_dir(dir)
        .env_remove("WSAUTH_ISSUER")
        .env_remove("WSAUTH_TOKEN_SOURCE")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut url, mut try_line) = (None, None);
    while Instant::now() < deadline && (url.is_none() || try_line.is_none()) {
        let Some(Ok(line)) = lines.next() else { break };
        if let Some(u) = line.trim().strip_prefix("WebSocket:") {
            url = Some(u.trim().to_owned());
        }
        if line.trim().starts_with("wscat ") {
            try_line = Some(line.trim().to_owned());
        }
    }
    // Keep reading: a closed pipe would kill the server at its next line of output.
    std::thread::spawn(move || lines.for_each(drop));
    let url = url.expect("serve prints the WebSocket URL");
    let try_line = try_line.expect("serve prints a ready-to-paste command");
    (child, port, url, try_line)
}

#[test]
fn serve_prints_a_url_and_a_subprotocol_command_the_server_accepts_and_token_mints_more() {
    let dir = temp_dir();
    let (mut child, port, url, try_line) = serve(dir.path(), &[]);
    assert_eq!(url, format!("ws://127.0.0.1:{port}/dev"));
    // The default deploy's token source: the subprotocol list, never the URL.
    assert!(try_line.contains("-s wsauth -s 'bearer."), "{try_line}");
    assert!(!try_line.contains("?token="), "{try_line}");
    let token = try_line
        .split("bearer.")
        .nth(1)
        .unwrap()
        .trim_end_matches('\'')
        .to_owned();
    assert_eq!(
        handshake_status_with(port, "/dev", &subprotocol(&token)),
        101
    );
    assert_eq!(handshake_status(port, &format!("/dev?token={token}")), 401);
    assert_eq!(handshake_status(port, "/dev"), 401);
    assert_eq!(
        handshake_status_with(port, "/dev", &subprotocol("forged.token.value")),
        401
    );

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
    assert_eq!(
        handshake_status_with(port, "/dev", &subprotocol(&minted)),
        101
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn token_source_query_prints_a_query_command_and_refuses_the_subprotocol() {
    let dir = temp_dir();
    let (mut child, port, _url, try_line) = serve(dir.path(), &["--token-source", "query"]);
    let i = try_line.find("?token=").expect("a query command");
    let token = try_line[i + 7..].trim_end_matches('\'').to_owned();
    assert_eq!(handshake_status(port, &format!("/dev?token={token}")), 101);
    assert_eq!(
        handshake_status_with(port, "/dev", &subprotocol(&token)),
        401
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_bad_token_source_is_a_startup_error_naming_it() {
    let out = Command::new(env!("CARGO_BIN_EXE_wsauth-local"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(temp_dir().path())
        .env_remove("WSAUTH_ISSUER")
        .env("WSAUTH_TOKEN_SOURCE", "cookie")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("WSAUTH_TOKEN_SOURCE"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_wsauth-local"))
        .args(["serve", "--listen", "127.0.0.1:0", "--token-source", "url"])
        .current_dir(temp_dir().path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--token-source"), "{err}");
}

#[test]
fn a_taken_port_is_a_clear_startup_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = Command::new(env!("CARGO_BIN_EXE_wsauth-local"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .current_dir(temp_dir().path())
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
        .current_dir(temp_dir().path())
        .env("WSAUTH_ISSUER", "http://idp.example.com")
        .env("WSAUTH_AUDIENCE", "api")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("WSAUTH_ISSUER"), "{err}");
}

/// A masked client text frame carrying `text` (RFC 6455 §5.2; masked with a fixed key).
fn client_text_frame(text: &str) -> Vec<u8> {
    let payload = text.as_bytes();
    let mut f = vec![0x81u8];
    match payload.len() {
        n if n < 126 => f.push(0x80 | n as u8),
        n => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    let mask = [0x37u8, 0xfa, 0x21, 0x3d];
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

/// Whatever `RUST_LOG` asks (here `trace`, every crate), no token and no signature reaches
/// wsauth-local's output: not the handshake's (`Sec-WebSocket-Protocol`), not a `refresh`
/// body's. (The ready-to-paste token `serve` prints for alice is not among those searched.)
#[test]
fn rust_log_trace_prints_no_token_of_a_handshake_or_a_refresh() {
    use std::io::{Read, Write};
    let dir = temp_dir();
    let mint = |sub: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_wsauth-local"))
            .args(["token", "--sub", sub, "--ttl", "600"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    // The dev issuer's keys are made by the first `token` (or `serve`) in this directory.
    let (first, second) = (mint("carol"), mint("carol"));
    let port = free_port();
    let (out_path, err_path) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_wsauth-local"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .current_dir(dir.path())
        .env_remove("WSAUTH_ISSUER")
        .env_remove("WSAUTH_TOKEN_SOURCE")
        .env("RUST_LOG", "trace")
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut s = loop {
        match std::net::TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => break s,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => panic!("wsauth-local did not listen: {e}"),
        }
    };
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET /dev HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{}\r\n",
        subprotocol(&first)
    )
    .unwrap();
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 101"));
    let refresh = format!(r#"{{"action":"refresh","token":"{second}"}}"#);
    s.write_all(&client_text_frame(&refresh)).unwrap();
    // The reply (a frame from the server) says the refresh was handled.
    let n = s.read(&mut buf).unwrap();
    assert!(
        String::from_utf8_lossy(&buf[..n]).contains("refreshed"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
    drop(s);
    std::thread::sleep(Duration::from_millis(500));
    child.kill().unwrap();
    child.wait().unwrap();
    let output =
        std::fs::read_to_string(&out_path).unwrap() + &std::fs::read_to_string(&err_path).unwrap();
    assert!(
        output.contains("message routed"),
        "trace lines are written: {output}"
    );
    for token in [&first, &second] {
        let signature = token.rsplit('.').next().unwrap();
        assert!(!output.contains(token.as_str()), "a token in the output");
        assert!(!output.contains(signature), "a signature in the output");
    }
}
