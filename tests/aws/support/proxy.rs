//! A loopback proxy in front of the emulator that injects faults moto cannot produce: it
//! answers chosen query-protocol actions (IAM, STS, EC2 send `Action=...` in the form body)
//! with AccessDenied or Throttling and forwards every other request untouched, one request per
//! connection.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

use palisade::aws::AwsOptions;

/// What to answer instead of forwarding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 403 AccessDenied.
    Deny,
    /// 400 Throttling, which the SDK retries with back-off.
    Throttle,
}

/// Options that reach the shared emulator through a new proxy injecting `fault`.
pub fn options(fault: impl Fn(&str) -> Option<Fault> + Send + Sync + 'static) -> AwsOptions {
    AwsOptions {
        endpoint_url: Some(start(fault)),
        ..super::emulator().options()
    }
}

/// Starts a proxy; `fault(action)` decides per request. Returns its endpoint.
pub fn start(fault: impl Fn(&str) -> Option<Fault> + Send + Sync + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let upstream = super::emulator()
        .endpoint
        .trim_start_matches("http://")
        .to_owned();
    let fault = Arc::new(fault);
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let (upstream, fault) = (upstream.clone(), fault.clone());
            std::thread::spawn(move || {
                let _ = proxy_one(conn, &upstream, &*fault);
            });
        }
    });
    endpoint
}

fn proxy_one(
    conn: TcpStream,
    upstream: &str,
    fault: &dyn Fn(&str) -> Option<Fault>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut head = Vec::new();
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        if line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
            if name.eq_ignore_ascii_case("connection") {
                continue;
            }
        }
        head.push(line);
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;

    let form = String::from_utf8_lossy(&body);
    let action = form
        .split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
        .unwrap_or_default();
    let mut client = conn;
    if let Some(fault) = fault(action) {
        let (status, code) = match fault {
            Fault::Deny => ("403 Forbidden", "AccessDenied"),
            Fault::Throttle => ("400 Bad Request", "Throttling"),
        };
        let xml = format!(
            "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{action}: \
             {code} from the test proxy</Message></Error><RequestId>proxy</RequestId></ErrorResponse>"
        );
        write!(
            client,
            "HTTP/1.1 {status}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{xml}",
            xml.len()
        )?;
        return client.flush();
    }
    let mut server = TcpStream::connect(upstream)?;
    server.write_all(head.concat().as_bytes())?;
    server.write_all(b"Connection: close\r\n\r\n")?;
    server.write_all(&body)?;
    let mut answer = Vec::new();
    server.read_to_end(&mut answer)?;
    client.write_all(&answer)?;
    client.flush()
}
